import Testing
@testable import StreamKit
@testable import StreamKitJSON

/// Extraction through a ``JSONShapeCache`` must give what the full parse gives — the same
/// values or the same error — for every document, including every corruption of a document
/// whose shape the cache holds.
@Suite struct JSONShapeCacheTests {
    /// The outcome of one extraction: the scalars, or the error message.
    enum Outcome: Equatable {
        case values([JSONScalar])
        case error(String)
    }

    static func plain(_ extractor: JSONFieldExtractor, _ doc: [UInt8]) -> Outcome {
        var out: [JSONScalar] = []
        do {
            try doc.withUnsafeBytes { try extractor.extract($0, into: &out) }
            return .values(out)
        } catch { return .error((error as? StreamKitError)?.message ?? "\(error)") }
    }

    static func cached(_ extractor: JSONFieldExtractor, _ doc: [UInt8], _ shapes: inout JSONShapeCache) -> Outcome {
        var out: [JSONScalar] = []
        do {
            try doc.withUnsafeBytes { try extractor.extract($0, into: &out, shapes: &shapes) }
            return .values(out)
        } catch { return .error((error as? StreamKitError)?.message ?? "\(error)") }
    }

    static let update = #"{"before":{"id":1,"amount":-1.5e3,"flag":true,"note":"a\"b\\\u00e9"},"after":{"id":1,"amount":0,"flag":false,"tags":[1,"x",null,{"k":[]}],"empty":{}},"op":"u","ts_ms":-0.25E+2}"#
    static let spaced = "{ \"a\" : 1 ,\n \"b\":\"x\" ,\"c\": [ 1 , 2 ] }  "
    static let escapedKeys = #"{"a\u0062":1,"b":2,"b":3,"c":{"d":null}}"#

    /// (document, paths): each document is learned, then corrupted in every way below.
    static let cases: [(String, [String])] = [
        (sampleLine, ["after.user_id", "after.ts_ms", "op", "after.amount"]),
        (sampleLine, ["before", "source.txId", "after.interaction_type", "ts_ms", "after.missing", "op"]),
        (update, ["after.amount", "before.note", "after.flag", "before.flag", "op", "ts_ms", "after.empty.x"]),
        (spaced, ["a", "b", "c.x"]),
        (escapedKeys, ["ab", "b", "c.d", "b"]),
        ("42", ["a"]),
        (#""top""#, ["a"]),
        ("true", ["a"]),
    ]

    static let replacements: [UInt8] = Array("\"\\{}[],: \n\t\r\u{01}0159.eE+-anulltrfx/".utf8) + [0x7F, 0xC3, 0xFF]

    @Test func sameOutcomeForEveryCorruptionOfALearnedDocument() {
        var hits = 0
        for (text, paths) in Self.cases {
            let extractor = JSONFieldExtractor(paths)
            let doc = Array(text.utf8)
            var warm = JSONShapeCache()
            #expect(Self.cached(extractor, doc, &warm) == Self.plain(extractor, doc), "\(text)")
            // A second pass matches the learned shape and gives the same values.
            let before = warm.hits
            #expect(Self.cached(extractor, doc, &warm) == Self.plain(extractor, doc), "\(text)")
            #expect(warm.hits == before + 1, "\(text) should match its own shape")
            var variants: [[UInt8]] = []
            for i in 0..<doc.count {
                for r in Self.replacements where r != doc[i] { var d = doc; d[i] = r; variants.append(d) }
                for r in Self.replacements { var d = doc; d.insert(r, at: i); variants.append(d) }
                var d = doc; d.remove(at: i); variants.append(d)
                variants.append(Array(doc[..<i]))
            }
            // Each variant against a copy of the warm cache, and all of them through one cache
            // that keeps learning (variants that parse bring new shapes).
            var learning = warm
            for v in variants {
                let expected = Self.plain(extractor, v)
                var fresh = warm
                let one = Self.cached(extractor, v, &fresh)
                hits += fresh.hits - warm.hits
                #expect(one == expected, "\(String(decoding: v, as: UTF8.self))")
                #expect(Self.cached(extractor, v, &learning) == expected, "\(String(decoding: v, as: UTF8.self))")
            }
        }
        // Variants that keep the shape (another digit, another letter in a string) match it.
        #expect(hits > 1000)
    }

    @Test func valuesOfAMatchedDocumentAreItsOwn() throws {
        let extractor = JSONFieldExtractor(["after.user_id", "after.amount", "op", "after.interaction_type"])
        var shapes = JSONShapeCache()
        var out: [JSONScalar] = []
        let first = Array(sampleLine.utf8)
        try first.withUnsafeBytes { try extractor.extract($0, into: &out, shapes: &shapes) }
        let second = Array(sampleLine.replacingOccurrences(of: #""user_id":75414"#, with: #""user_id":-9"#)
            .replacingOccurrences(of: "290.31", with: "7e-2").replacingOccurrences(of: #""view""#, with: #""cl\"ick""#).utf8)
        try second.withUnsafeBytes { doc in
            try extractor.extract(doc, into: &out, shapes: &shapes)
            #expect(out[0].int64(in: doc) == -9)
            #expect(out[1].double(in: doc) == 0.07)
            #expect(out[2].equals("c", in: doc))
            #expect(out[3].hasEscapes && out[3].string(in: doc) == "cl\"ick")
        }
        #expect(shapes.hits == 1 && shapes.misses == 1 && shapes.count == 1)
    }

    /// Values no output asks for are part of the shape until a document differs in them: that
    /// document is parsed in full and the values that differed leave the shape (the shape is
    /// generalized, not duplicated); the ones that never differed are still compared.
    @Test func constantValuesLeaveTheShapeWhenADocumentDiffers() throws {
        let extractor = JSONFieldExtractor(["after.user_id"])
        var shapes = JSONShapeCache()
        var out: [JSONScalar] = []
        func run(_ text: String) throws -> Int64? {
            try Array(text.utf8).withUnsafeBytes { d in
                try extractor.extract(d, into: &out, shapes: &shapes)
                return out[0].int64(in: d)
            }
        }
        func line(user: Int, type: String, item: Int, table: String = "user_interactions") -> String {
            sampleLine.replacingOccurrences(of: #""user_id":75414"#, with: #""user_id":\#(user)"#)
                .replacingOccurrences(of: #""view""#, with: "\"\(type)\"")
                .replacingOccurrences(of: #""item_id":42292"#, with: #""item_id":\#(item)"#)
                .replacingOccurrences(of: #""user_interactions""#, with: "\"\(table)\"")
        }
        #expect(try run(line(user: 1, type: "view", item: 5)) == 1)              // learned: every other value constant
        #expect(shapes.count == 1 && shapes.misses == 1)
        #expect(try run(line(user: 2, type: "view", item: 5)) == 2)              // only the output differs: a hit
        #expect(shapes.hits == 1)
        #expect(try run(line(user: 3, type: "click", item: 6)) == 3)             // two constants differ: parsed, generalized
        #expect(shapes.misses == 2 && shapes.count == 1)
        #expect(try run(line(user: 4, type: "buy", item: 7)) == 4)               // now variable: a hit
        #expect(shapes.hits == 2 && shapes.count == 1)
        #expect(try run(line(user: 5, type: "buy", item: 7, table: "orders")) == 5)   // still constant: parsed
        #expect(shapes.misses == 3 && shapes.count == 1)
        #expect(try run(line(user: 6, type: "view", item: 8, table: "users")) == 6)
        #expect(shapes.hits == 3 && shapes.misses == 3 && shapes.count == 1)
        // A constant corrupted is no longer the same value: parsed in full, with the full parse's error.
        let bad = line(user: 7, type: "view", item: 9).replacingOccurrences(of: #""postgresql""#, with: #""postgres\ql""#)
        #expect(throws: StreamKitError.self) { _ = try run(bad) }
        #expect(shapes.hits == 3)
    }

    @Test func objectOrArrayOutputsAreNotLearned() throws {
        let extractor = JSONFieldExtractor(["after", "op"])
        var shapes = JSONShapeCache()
        var out: [JSONScalar] = []
        for _ in 0..<3 { try Array(sampleLine.utf8).withUnsafeBytes { try extractor.extract($0, into: &out, shapes: &shapes) } }
        #expect(shapes.count == 0 && shapes.hits == 0 && shapes.misses == 3)
    }

    @Test func keepsAtMostCapacityShapesAndReplacesTheLeastUsed() throws {
        let extractor = JSONFieldExtractor(["a"])
        var shapes = JSONShapeCache(capacity: 2)
        var out: [JSONScalar] = []
        func run(_ text: String) throws { try Array(text.utf8).withUnsafeBytes { try extractor.extract($0, into: &out, shapes: &shapes) } }
        try run(#"{"a":1}"#); try run(#"{"a":2}"#); try run(#"{"a":3}"#)      // learned, then two hits
        try run(#"{"a":"x"}"#)                                               // a second shape
        #expect(shapes.count == 2 && shapes.hits == 2 && shapes.misses == 2)
        try run(#"{"a":true}"#)                                              // replaces the string shape (used least)
        #expect(shapes.count == 2)
        try run(#"{"a":4}"#); try run(#"{"a":true}"#)
        #expect(shapes.hits == 4)
        try run(#"{"a":"y"}"#)                                               // was replaced: parsed again
        #expect(shapes.misses == 4)
    }

    @Test func standsAsideWhenFewDocumentsMatch() throws {
        let extractor = JSONFieldExtractor(["k"])
        var shapes = JSONShapeCache()
        var out: [JSONScalar] = []
        let window = JSONShapeCache.windowSize
        for i in 0..<(window + 10) {
            let doc = Array(#"{"k":1,"x\#(i)":2}"#.utf8)     // a new shape every time
            try doc.withUnsafeBytes { d in
                try extractor.extract(d, into: &out, shapes: &shapes)
                #expect(out[0].int64(in: d) == 1)
            }
        }
        #expect(shapes.hits == 0 && shapes.misses == window && shapes.bypassed == 10)
    }
}
