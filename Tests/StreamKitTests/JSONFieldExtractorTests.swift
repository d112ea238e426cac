import Testing
@testable import StreamKit
@testable import StreamKitJSON

let sampleLine = #"{"before":null,"after":{"id":1,"user_id":75414,"item_id":42292,"interaction_type":"view","amount":290.31,"ts_ms":1700000000030},"source":{"version":"2.5.0.Final","connector":"postgresql","name":"app","ts_ms":1700000000030,"db":"app","schema":"public","table":"user_interactions","txId":1001,"lsn":100000064},"op":"c","ts_ms":1700000000040}"#

/// Runs `body` with the UTF-8 bytes of `text`.
func withDoc<R>(_ text: String, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    let bytes = Array(text.utf8)
    return try bytes.withUnsafeBytes { try body($0) }
}

/// Extracts `paths` from `text`, returning the scalars and a copy of the document bytes.
func extract(_ paths: [String], from text: String) throws -> [JSONScalar] {
    let extractor = JSONFieldExtractor(paths)
    var out: [JSONScalar] = []
    try withDoc(text) { try extractor.extract($0, into: &out) }
    return out
}

/// The malformed-input error thrown for `text`, if any.
func extractionError(_ text: String, paths: [String] = ["a"]) -> StreamKitError? {
    do {
        _ = try extract(paths, from: text)
        return nil
    } catch let error as StreamKitError {
        return error
    } catch {
        return nil
    }
}

@Suite struct JSONFieldExtractorTests {
    @Test func debeziumSampleLine() throws {
        let extractor = JSONFieldExtractor(["after.user_id", "after.amount", "after.ts_ms", "op",
                                            "after.interaction_type", "source.table", "before", "after.missing",
                                            "source.txId", "ts_ms", "after"])
        var out: [JSONScalar] = []
        try withDoc(sampleLine) { doc in
            try extractor.extract(doc, into: &out)
            #expect(out[0].int64(in: doc) == 75414)
            #expect(out[1].double(in: doc) == 290.31)
            #expect(out[1].int64(in: doc) == nil)
            #expect(out[2].int64(in: doc) == 1_700_000_000_030)
            #expect(out[3].equals("c", in: doc))
            #expect(!out[3].equals("u", in: doc))
            #expect(out[4].string(in: doc) == "view")
            #expect(out[5].string(in: doc) == "user_interactions")
            #expect(out[6].kind == .null)
            #expect(out[7].kind == .missing)
            #expect(out[8].int64(in: doc) == 1001)
            #expect(out[9].int64(in: doc) == 1_700_000_000_040)
            #expect(out[10].kind == .object)
            #expect(String(decoding: out[10].rawBytes(in: doc), as: UTF8.self).hasPrefix(#"{"id":1,"#))
            // Reuse: a second document overwrites every slot.
            let row = Array(#"{"op":"d","after":null}"#.utf8)
            try row.withUnsafeBytes { doc2 in
                try extractor.extract(doc2, into: &out)
                #expect(out[0].kind == .missing)
                #expect(out[3].equals("d", in: doc2))
                #expect(out[10].kind == .null)
            }
        }
    }

    @Test func plainRowAndNullParent() throws {
        let out = try extract(["user_id", "after.x", "a.b.c"], from: #"{"user_id":1,"after":null,"a":{"b":5}}"#)
        withDoc(#"{"user_id":1,"after":null,"a":{"b":5}}"#) { doc in
            #expect(out[0].int64(in: doc) == 1)
        }
        #expect(out[1].isMissing)
        #expect(out[2].isMissing)
    }

    @Test func scalarsOfEveryKind() throws {
        let text = #" { "t" : true , "f":false, "n":null, "s":"x", "o":{}, "a":[1,2], "neg":-12, "e":1.5E+3 } "#
        let out = try extract(["t", "f", "n", "s", "o", "a", "neg", "e"], from: text)
        withDoc(text) { doc in
            #expect(out[0].bool(in: doc) == true)
            #expect(out[1].bool(in: doc) == false)
            #expect(out[2].isNull)
            #expect(out[3].string(in: doc) == "x")
            #expect(out[4].kind == .object)
            #expect(out[5].kind == .array)
            #expect(out[6].int64(in: doc) == -12)
            #expect(out[7].double(in: doc) == 1500)
        }
    }

    @Test func nestedSkipping() throws {
        let text = #"{"skip":{"a":[1,{"b":[[],{}]},"x\"y",null,true,-0.5e-3],"c":{"d":{"e":"f"}}},"want":{"v":[9]},"k":2}"#
        let out = try extract(["want.v", "k", "skip.c.d.e"], from: text)
        withDoc(text) { doc in
            #expect(String(decoding: out[0].rawBytes(in: doc), as: UTF8.self) == "[9]")
            #expect(out[1].int64(in: doc) == 2)
            #expect(out[2].string(in: doc) == "f")
        }
    }

    @Test func escapesInValuesAndKeys() throws {
        let text = #"{"s":"a\nb\t\"q\"\\ \/ \u00e9 \ud83d\ude00 \u20AC","k\u0065y":1,"lone":"\ud800x"}"#
        let out = try extract(["s", "key", "lone"], from: text)
        withDoc(text) { doc in
            #expect(out[0].hasEscapes)
            #expect(out[0].string(in: doc) == "a\nb\t\"q\"\\ / é 😀 €")
            #expect(out[1].int64(in: doc) == 1)
            #expect(out[2].string(in: doc) == "\u{FFFD}x")
            #expect(out[0].equals("a\nb\t\"q\"\\ / é 😀 €", in: doc))
        }
        let plain = #"{"s":"caf\u00e9"}"#
        let out2 = try extract(["s"], from: plain)
        withDoc(plain) { doc in
            #expect(out2[0].equals("café", in: doc))
            #expect(!out2[0].equals("cafe", in: doc))
        }
    }

    @Test func numbers() throws {
        // Expected values come from the standard library's correctly rounded `Double(String)`.
        let cases = [
            "0", "-0", "1", "-1", "290.31", "1e10", "1E-10", "-2.5e+3", "123456789012345678", "0.1",
            "1.7976931348623157e308", "5e-324", "2.2250738585072014e-308", "9007199254740993",
            "0.30000000000000004", "1.00000000000000011102230246251565404236316680908203125",
            "1.00000000000000011102230246251565404236316680908203126", "123e30", "1e400", "0.000001234",
            "4.9406564584124654e-324", "2.4703282292062327e-324", "9007199254740992.5", "1e23", "8.41e21",
        ].map { ($0, Double($0)!) }
        for (text, expected) in cases {
            let doc = #"{"n":\#(text)}"#
            let out = try extract(["n"], from: doc)
            try withDoc(doc) { d in
                let value = try #require(out[0].double(in: d))
                #expect(value == expected, "\(text)")
                #expect(value.sign == expected.sign, "\(text)")
            }
        }
        // Random numbers in many shapes against the reference parser (fast and slow paths).
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let mantissa = UInt64.random(in: 0...UInt64.max, using: &rng) >> UInt64.random(in: 0...63, using: &rng)
            var digits = String(mantissa)
            let point = Int.random(in: 0...digits.count, using: &rng)
            if point < digits.count { digits.insert(".", at: digits.index(digits.startIndex, offsetBy: point)) }
            if digits.hasPrefix(".") { digits = "0" + digits }
            if digits.hasSuffix(".") { digits += "0" }
            if Bool.random(using: &rng) { digits += "e\(Int.random(in: -330...310, using: &rng))" }
            if Bool.random(using: &rng) { digits = "-" + digits }
            let bytes = Array(digits.utf8)
            let parsed = bytes.withUnsafeBufferPointer { _parseJSONDouble($0.baseAddress!, $0.count) }
            let expected = Double(digits)!
            #expect(parsed == expected && parsed.sign == expected.sign, "\(digits)")
        }
        let ints = #"{"a":9223372036854775807,"b":-9223372036854775808,"c":9223372036854775808,"d":1.0}"#
        let out = try extract(["a", "b", "c", "d"], from: ints)
        withDoc(ints) { d in
            #expect(out[0].int64(in: d) == Int64.max)
            #expect(out[1].int64(in: d) == Int64.min)
            #expect(out[2].int64(in: d) == nil)
            #expect(out[3].int64(in: d) == nil)
        }
    }

    @Test func malformedDocuments() {
        let cases: [(String, String)] = [
            ("", "empty document"),
            ("   ", "unexpected end of input"),
            (#"{"a":1"#, "unexpected end of input"),
            (#"{"a":tru}"#, "invalid literal"),
            (#"{"a":nul}"#, "invalid literal"),
            (#"{"a":truex}"#, "invalid literal"),
            (#"{"a":1} x"#, "trailing characters"),
            (#"{"a":1}{}"#, "trailing characters"),
            (#"{"a":"abc}"#, "unterminated string"),
            (#"{"a":01}"#, "invalid number"),
            (#"{"a":1.}"#, "invalid number"),
            (#"{"a":-}"#, "invalid number"),
            (#"{"a":1e}"#, "invalid number"),
            (#"{"a":.5}"#, "unexpected character"),
            (#"{"a":+1}"#, "unexpected character"),
            (#"{"a" 1}"#, "expected ':'"),
            (#"{"a":1 "b":2}"#, "expected ',' or '}'"),
            (#"{"a":[1 2]}"#, "expected ',' or ']'"),
            (#"{a:1}"#, "expected string key"),
            (#"{"a":1,}"#, "expected string key"),
            (#"{"x":{"y":[1,]}}"#, "unexpected character"),
            ("{\"a\":\"tab\there\"}", "control character"),
            (#"{"a":"\x"}"#, "invalid escape"),
            (#"{"a":"\u12G4"}"#, #"invalid \u escape"#),
            (#"{"skip":[1,2}"#, "expected ',' or ']'"),
        ]
        for (text, reason) in cases {
            let error = extractionError(text)
            #expect(error?.code == .malformedInput, "\(text)")
            #expect(error?.message.contains(reason) == true, "\(text): \(error?.message ?? "no error")")
            #expect(error?.message.contains("at byte") == true, "\(text)")
        }
        #expect(extractionError(#"{"a":1,  }"#)?.message == "expected string key at byte 9")
    }

    @Test func depthLimit() {
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(extractionError(deep)?.message.contains("nesting too deep") == true)
        let ok = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(extractionError(ok) == nil)
    }

    @Test func duplicatePathsAndRoot() throws {
        let text = #"{"a":{"b":3}}"#
        let out = try extract(["a.b", "a.b", ""], from: text)
        withDoc(text) { doc in
            #expect(out[0].int64(in: doc) == 3)
            #expect(out[1].int64(in: doc) == 3)
            #expect(out[2].kind == .object)
        }
        #expect(JSONPath(dotted: "after.user_id").components == ["after", "user_id"])
        #expect(JSONPath("a.b").description == "a.b")
    }
}
