import Testing
@testable import StreamKit
@testable import StreamKitJSON
@testable import StreamKitDebezium

struct Interaction: Decodable, Equatable {
    var id: Int64
    var userId: Int64
    var itemId: Int64
    var interactionType: String
    var amount: Double
    var tsMs: Int64
    enum CodingKeys: String, CodingKey {
        case id, userId = "user_id", itemId = "item_id", interactionType = "interaction_type", amount, tsMs = "ts_ms"
    }
}

struct AllTypes: Decodable, Equatable {
    var i: Int; var i8: Int8; var i16: Int16; var i32: Int32; var i64: Int64
    var u: UInt; var u8: UInt8; var u16: UInt16; var u32: UInt32; var u64: UInt64
    var d: Double; var f: Float; var b: Bool; var s: String
    var opt: Int?; var optMissing: String?; var optNull: Double?
    var list: [Int]; var nested: [[String]]; var dict: [String: Int]; var objects: [Point]
    var optionalList: [Int?]
}

struct Point: Decodable, Equatable { var x: Int; var y: Int }

struct SnakeRow: Decodable, Equatable {
    var userId: Int
    var tsMs: Int64
    var interactionType: String
    var _private_: Int?
}

func decodeError<T: Decodable>(_ type: T.Type, _ json: String, decoder: FastJSONDecoder = FastJSONDecoder()) -> String? {
    do {
        _ = try decoder.decode(T.self, from: json)
        return nil
    } catch {
        return error.message
    }
}

@Suite struct JSONFastDecoderTests {
    @Test func allStandardTypes() throws {
        let json = #"""
        {"i":-1,"i8":-128,"i16":32767,"i32":-5,"i64":9223372036854775807,"u":7,"u8":255,"u16":65535,"u32":4294967295,
         "u64":18446744073709551615,"d":-1.5e-3,"f":0.25,"b":true,"s":"h\u00e9llo\n","opt":3,"optNull":null,
         "list":[1,2,3],"nested":[["a"],[],["b","c"]],"dict":{"one":1,"two":2},"objects":[{"x":1,"y":2},{"y":4,"x":3}],
         "optionalList":[1,null,3]}
        """#
        let decoder = FastJSONDecoder()
        let v = try decoder.decode(AllTypes.self, from: json)
        #expect(v.i == -1 && v.i8 == -128 && v.i16 == 32767 && v.i32 == -5 && v.i64 == .max)
        #expect(v.u == 7 && v.u8 == 255 && v.u16 == 65535 && v.u32 == .max && v.u64 == .max)
        #expect(v.d == -0.0015 && v.f == 0.25 && v.b && v.s == "héllo\n")
        #expect(v.opt == 3 && v.optMissing == nil && v.optNull == nil)
        #expect(v.list == [1, 2, 3] && v.nested == [["a"], [], ["b", "c"]] && v.dict == ["one": 1, "two": 2])
        #expect(v.objects == [Point(x: 1, y: 2), Point(x: 3, y: 4)])
        #expect(v.optionalList == [1, nil, 3])
        // The decoder is reusable.
        let again = try decoder.decode(AllTypes.self, from: Array(json.utf8))
        #expect(again == v)
        let sub = json[...]
        #expect(try decoder.decode(AllTypes.self, from: sub.utf8) == v)
    }

    @Test func topLevelValues() throws {
        let d = FastJSONDecoder()
        #expect(try d.decode(Int.self, from: "42") == 42)
        #expect(try d.decode([Double].self, from: "[1, 2.5, -3e2]") == [1, 2.5, -300])
        #expect(try d.decode(String?.self, from: "null") == nil)
        #expect(try d.decode([String: [Int]].self, from: #"{"a":[1],"b":[]}"#) == ["a": [1], "b": []])
        #expect(try d.decode(Int.self, from: "1e3") == 1000)
        #expect(try d.decode([Int: String].self, from: #"{"1":"a","2":"b"}"#) == [1: "a", 2: "b"])
    }

    @Test func snakeCaseStrategy() throws {
        let d = FastJSONDecoder(keyDecodingStrategy: .convertFromSnakeCase)
        let row = try d.decode(SnakeRow.self, from: #"{"user_id":7,"ts_ms":1700000000000,"interaction_type":"view","_private_":1}"#)
        #expect(row == SnakeRow(userId: 7, tsMs: 1_700_000_000_000, interactionType: "view", _private_: 1))
        // Explicit snake_case CodingKeys still match under the strategy.
        let i = try d.decode(Interaction.self, from: #"{"id":1,"user_id":2,"item_id":3,"interaction_type":"x","amount":1.5,"ts_ms":4}"#)
        #expect(i.userId == 2 && i.tsMs == 4)
        #expect(_jsonConvertFromSnakeCase("user_ID") == "userId")
        #expect(_jsonConvertFromSnakeCase("_leading__double_trailing__") == "_leadingDoubleTrailing__")
        #expect(_jsonConvertFromSnakeCase("plain") == "plain")
        // Default strategy does not convert.
        #expect(decodeError(SnakeRow.self, #"{"user_id":7,"ts_ms":1,"interaction_type":"v"}"#) == "missing key at userId")
    }

    @Test func numbersAsStringsAreRejected() {
        let message = decodeError(Point.self, #"{"x":"1","y":2}"#)
        #expect(message == "type mismatch at x: expected Int, found string")
    }

    @Test func errorsNameTheCodingPath() {
        struct Outer: Decodable { var after: Interaction }
        #expect(decodeError(Outer.self, #"{"after":{"id":1,"user_id":"x","item_id":3,"interaction_type":"x","amount":1.5,"ts_ms":4}}"#)
                == "type mismatch at after.user_id: expected Int64, found string")
        #expect(decodeError(AllTypes.self, #"{"i":1}"#) == "missing key at i8")
        #expect(decodeError([Point].self, #"[{"x":1,"y":2},{"x":true,"y":2}]"#) == "type mismatch at [1].x: expected Int, found bool")
        #expect(decodeError(Int8.self, "300") == "invalid value at <root>: number 300 does not fit in Int8")
        #expect(decodeError(Int.self, "1.5") == "invalid value at <root>: number 1.5 does not fit in Int")
        #expect(decodeError(UInt.self, "-1") == "invalid value at <root>: number -1 does not fit in UInt")
        #expect(decodeError(Point.self, #"{"x":null,"y":2}"#) == "missing value at x: expected Int, found null")
        #expect(decodeError(Point.self, #"{"x":1,"y":2"#) == "unexpected end of input at byte 12")
        #expect(decodeError(Point.self, "") == "empty document at byte 0")
        #expect(decodeError(Point.self, "[]") == "type mismatch at <root>: expected object, found array")
    }

    @Test func unavailablePlaceholderHandling() throws {
        struct Row: Decodable { var id: Int; var big: String?; var count: Int?; var name: String }
        let json = #"{"id":1,"big":"__debezium_unavailable_value","count":"__debezium_unavailable_value","name":"__debezium_unavailable_value"}"#
        let d = FastJSONDecoder()
        #expect(decodeError(Row.self, json, decoder: d) == "type mismatch at count: expected Int, found the Debezium unavailable-value placeholder")
        d.treatsDebeziumUnavailableValueAsAbsent = true
        let row = try d.decode(Row.self, from: json)
        #expect(row.id == 1 && row.big == nil && row.count == nil && row.name == "__debezium_unavailable_value")
        struct Strict: Decodable { var count: Int }
        #expect(decodeError(Strict.self, #"{"count":"__debezium_unavailable_value"}"#, decoder: d)
                == "type mismatch at count: expected Int, found the Debezium unavailable-value placeholder")
    }
}

@Suite struct JSONWriterTests {
    func text(_ build: (inout JSONWriter) -> Void) -> String {
        var w = JSONWriter()
        build(&w)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    @Test func aggregateRow() {
        let s = text { w in
            w.beginObject()
            w.field("key", Int64(75414))
            w.field("window_start", Int64(1_700_000_000_000))
            w.field("window_end", Int64(1_700_000_060_000))
            w.field("count", 1)
            w.field("sum", 290.31)
            w.field("avg", 290.31)
            w.field("max", 290.31)
            w.endObject()
            w.newline()
        }
        #expect(s == #"{"key":75414,"window_start":1700000000000,"window_end":1700000060000,"count":1,"sum":290.31,"avg":290.31,"max":290.31}"# + "\n")
    }

    @Test func nestingAndLiterals() {
        let s = text { w in
            w.beginArray()
            w.beginObject(); w.key("a"); w.beginArray(); w.value(true); w.value(false); w.null(); w.endArray(); w.endObject()
            w.beginArray(); w.endArray()
            w.beginObject(); w.endObject()
            w.value("x"); w.value(Int64.min); w.value(UInt64.max); w.value(0 as Int64)
            w.endArray()
        }
        #expect(s == #"[{"a":[true,false,null]},[],{},"x",-9223372036854775808,18446744073709551615,0]"#)
    }

    @Test func stringEscaping() {
        let s = text { w in w.value("q\"b\\n\n\r\t\u{08}\u{0C}\u{01}\u{1F} é😀/") }
        #expect(s == #""q\"b\\n\n\r\t\b\f\u0001\u001f é😀/""#)
        let k = text { w in w.beginObject(); w.key("we\"ird"); w.value(1 as Int64); w.endObject() }
        #expect(k == #"{"we\"ird":1}"#)
    }

    @Test func doublesRoundTrip() throws {
        var values: [Double] = [290.0, 290.31, 0.1, -0.0, 0, 1e22, 1e-7, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
                                123456789.125, 0.30000000000000004, -2.5, 1e15, 9007199254740992, 1.7e308, 1e16, 123e-20]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 { values.append(Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng))) }
        values = values.filter(\.isFinite)
        for v in values {
            let s = text { $0.value(v) }
            let back = try FastJSONDecoder().decode(Double.self, from: s)
            #expect(back == v && back.sign == v.sign, "\(v) → \(s)")
        }
        #expect(text { $0.value(290.0) } == "290.0")
        #expect(text { $0.value(-0.0) } == "-0.0")
        #expect(text { $0.value(290.31) } == "290.31")
        #expect(text { $0.value(Double.nan) } == "null")
        #expect(text { $0.value(-Double.infinity) } == "null")
    }

    @Test func resetKeepsWorking() {
        var w = JSONWriter()
        w.beginObject(); w.field("a", 1); w.endObject(); w.newline()
        w.beginObject(); w.field("b", 2); w.endObject(); w.newline()
        #expect(String(decoding: w.bytes, as: UTF8.self) == "{\"a\":1}\n{\"b\":2}\n")
        w.reset()
        w.value(3 as Int64)
        #expect(String(decoding: w.bytes, as: UTF8.self) == "3")
    }
}

/// A type with a hand-written decoder using nested containers.
struct Manual: Decodable, Equatable {
    var name: String
    var first: Int
    var tags: [String]
    var flag: Bool?

    enum Keys: String, CodingKey { case meta, values, name, tags, flag }

    init(name: String, first: Int, tags: [String], flag: Bool?) {
        self.name = name; self.first = first; self.tags = tags; self.flag = flag
    }

    init(from decoder: any Decoder) throws {
        let root = try decoder.container(keyedBy: Keys.self)
        let meta = try root.nestedContainer(keyedBy: Keys.self, forKey: .meta)
        name = try meta.decode(String.self, forKey: .name)
        var tagList = try meta.nestedUnkeyedContainer(forKey: .tags)
        var tags: [String] = []
        while !tagList.isAtEnd { tags.append(try tagList.decode(String.self)) }
        self.tags = tags
        var values = try root.nestedUnkeyedContainer(forKey: .values)
        first = try values.decode(Int.self)
        flag = try root.decodeIfPresent(Bool.self, forKey: .flag)
    }
}

@Suite struct JSONFastDecoderContainerTests {
    @Test func nestedContainers() throws {
        let d = FastJSONDecoder()
        let json = #"{"values":[5,6],"meta":{"tags":["a","b\u0041"],"name":"n"},"flag":false}"#
        #expect(try d.decode(Manual.self, from: json) == Manual(name: "n", first: 5, tags: ["a", "bA"], flag: false))
        #expect(decodeError(Manual.self, #"{"values":[],"meta":{"tags":[],"name":"n"}}"#)
                == "missing value at values[0]: unkeyed container is at end")
    }

    @Test func escapedKeysAndWhitespace() throws {
        let d = FastJSONDecoder()
        let p = try d.decode(Point.self, from: " {\n \"\\u0078\" : 1 ,\t\"y\":\r\n2 } \n")
        #expect(p == Point(x: 1, y: 2))
    }

    @Test func decoderIsReusableAfterErrors() throws {
        let d = FastJSONDecoder()
        #expect(decodeError(Point.self, #"{"x":1"#, decoder: d) != nil)
        #expect(decodeError(Point.self, #"{"x":"s","y":1}"#, decoder: d) != nil)
        #expect(try d.decode(Point.self, from: #"{"y":2,"x":1}"#) == Point(x: 1, y: 2))
    }
}
