import Foundation
import Testing
import StreamKit
import StreamKitJSON

/// `JSONLineEncoder` writes what a hand-written `JSONWriter` writes, byte for byte.
@Suite struct JSONLineEncoderTests {
    struct Row: Encodable { var user_id: Int64; var window_start: Int64; var count: Int64; var sum: Double; var name: String; var ok: Bool }
    struct Nested: Encodable { var id: Int; var tags: [String]; var inner: Inner; var missing: Int?; struct Inner: Encodable { var x: Double } }
    struct ExplicitNull: Encodable {
        var a: Int64?
        enum CodingKeys: CodingKey { case a }
        func encode(to encoder: any Encoder) throws { var c = encoder.container(keyedBy: CodingKeys.self); try c.encode(a, forKey: .a) }
    }

    @Test func flatRowMatchesJSONWriter() throws {
        let r = Row(user_id: 42, window_start: 1_700_000_000_000, count: 3, sum: 290.31, name: "a \"q\"\n", ok: true)
        var w = JSONWriter(capacity: 128)
        w.beginObject()
        w.field("user_id", r.user_id); w.field("window_start", r.window_start); w.field("count", r.count)
        w.field("sum", r.sum); w.field("name", r.name); w.field("ok", r.ok)
        w.endObject()
        #expect(try JSONLineEncoder.encode(r) == w.bytes)
    }

    @Test func nestedArraysOptionalsAndNonFiniteNumbers() throws {
        let n = Nested(id: 1, tags: ["x", "y"], inner: .init(x: .nan), missing: nil)
        #expect(String(decoding: try JSONLineEncoder.encode(n), as: UTF8.self) == #"{"id":1,"tags":["x","y"],"inner":{"x":null}}"#)
        #expect(String(decoding: try JSONLineEncoder.encode(ExplicitNull(a: nil)), as: UTF8.self) == #"{"a":null}"#)
        #expect(String(decoding: try JSONLineEncoder.encode(ExplicitNull(a: 5)), as: UTF8.self) == #"{"a":5}"#)
        #expect(String(decoding: try JSONLineEncoder.encode([1.5, 2.0]), as: UTF8.self) == "[1.5,2.0]")
        var bytes = Array("x".utf8)
        try JSONLineEncoder.encode(Nested.Inner(x: 2), appendingTo: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == #"x{"x":2.0}"#)
    }
}
