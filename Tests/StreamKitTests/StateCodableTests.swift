import Testing
import StreamKit

@Suite struct StateCodableTests {
    func roundTrip<T: StateCodable & Equatable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let bytes = value.encodedStateBytes()
        #expect(try T(stateBytes: bytes) == value, sourceLocation: sourceLocation)
        // Every strict prefix must fail cleanly with a .state error, never crash.
        for cut in 0 ..< bytes.count {
            let error = #expect(throws: StreamKitError.self, sourceLocation: sourceLocation) {
                try T(stateBytes: Array(bytes[..<cut]))
            }
            #expect(error?.code == .state, sourceLocation: sourceLocation)
        }
    }

    @Test func scalarsRoundTrip() throws {
        for v in [0, 1, -1, 63, -64, 64, Int.max, Int.min] { try roundTrip(v) }
        for v: Int64 in [0, 300, -300, .max, .min] { try roundTrip(v) }
        for v: Int32 in [0, 7, -7, .max, .min] { try roundTrip(v) }
        for v: UInt64 in [0, 127, 128, 16_383, 16_384, .max] { try roundTrip(v) }
        for v: UInt32 in [0, 255, .max] { try roundTrip(v) }
        for v: UInt8 in [0, 1, 255] { try roundTrip(v) }
        for v in [0.0, -0.0, 1.5, .pi, .infinity, -.infinity, .leastNonzeroMagnitude] { try roundTrip(v) }
        for v: Float in [0, -2.5, .greatestFiniteMagnitude] { try roundTrip(v) }
        try roundTrip(true)
        try roundTrip(false)
        for v in ["", "abc", "grüße 🚀", String(repeating: "x", count: 300)] { try roundTrip(v) }

        let nan = try Double(stateBytes: Double.nan.encodedStateBytes())
        #expect(nan.isNaN)
        #expect(try Double(stateBytes: (-0.0).encodedStateBytes()).sign == .minus)
    }

    @Test func wireFormatIsStable() throws {
        #expect(0.encodedStateBytes() == [0])
        #expect((-1).encodedStateBytes() == [1])
        #expect(1.encodedStateBytes() == [2])
        #expect(Int64(-64).encodedStateBytes() == [0x7F])
        #expect(UInt64(300).encodedStateBytes() == [0xAC, 0x02])
        #expect(UInt64.max.encodedStateBytes() == [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        #expect(1.0.encodedStateBytes() == [0, 0, 0, 0, 0, 0, 0xF0, 0x3F])
        #expect("hé".encodedStateBytes() == [3, 0x68, 0xC3, 0xA9])
        #expect([UInt8]([9, 8]).encodedStateBytes() == [2, 9, 8])
        #expect(Optional<Int>.none.encodedStateBytes() == [0])
        #expect(Optional(5).encodedStateBytes() == [1, 10])

        var writer = ByteWriter()
        writer.writeInteger(UInt32(0x0102_0304))
        writer.writeInteger(Int16(-2))
        #expect(writer.bytes == [4, 3, 2, 1, 0xFE, 0xFF])
        var reader = ByteReader(writer.bytes)
        #expect(try reader.readInteger(UInt32.self) == 0x0102_0304)
        #expect(try reader.readInteger(Int16.self) == -2)
        #expect(reader.isAtEnd)
    }

    @Test func collectionsRoundTrip() throws {
        try roundTrip([Int]())
        try roundTrip([1, -2, 3_000_000])
        try roundTrip([UInt8](0 ... 255))
        try roundTrip([["a", "b"], [], ["c"]])
        try roundTrip([Int?.none, 4, nil])
        try roundTrip(Optional(Optional(3)))
        try roundTrip(Optional<Optional<Int>>.some(.none))
        try roundTrip(["alice": 1.5, "bob": -2.0, "": 0])
        try roundTrip([Int64: [String]]())
        try roundTrip([7: ["x": UInt32(1)], 9: [:]])
        try roundTrip(Set([1, 2, 3, 1000]))
    }

    @Test func composedStateWithWriterAndReader() throws {
        var writer = ByteWriter(capacity: 16)
        writer.write(Int64(1_700_000_000_000))
        writer.writeString("key")
        writer.writeBytes([1, 2, 3])
        writer.writeVarInt(-5)
        writer.writeBool(true)
        writer.write(["w": [1.0, 2.0]])
        var reader = ByteReader(writer.bytes)
        #expect(try reader.read(Int64.self) == 1_700_000_000_000)
        #expect(try reader.readString() == "key")
        #expect(try reader.readBytes() == [1, 2, 3])
        #expect(try reader.readVarInt() == -5)
        #expect(try reader.readBool())
        #expect(try reader.read([String: [Double]].self) == ["w": [1.0, 2.0]])
        try reader.expectEnd()
        #expect(writer.count == writer.bytes.count)
        writer.removeAll()
        #expect(writer.count == 0)
    }

    @Test func rejectsMalformedInput() throws {
        func expectStateError(_ body: () throws -> Void) {
            let error = #expect(throws: StreamKitError.self) { try body() }
            #expect(error?.code == .state)
        }
        expectStateError { _ = try Bool(stateBytes: [2]) }
        expectStateError { _ = try Int?(stateBytes: [7]) }
        expectStateError { _ = try String(stateBytes: [2, 0xC3, 0x28]) }               // invalid UTF-8
        expectStateError { _ = try UInt64(stateBytes: [UInt8](repeating: 0xFF, count: 10) + [0x02]) } // > 64 bits
        expectStateError { _ = try Int32(stateBytes: Int64(Int64(Int32.max) + 1).encodedStateBytes()) }
        expectStateError { _ = try UInt32(stateBytes: UInt64(1 << 40).encodedStateBytes()) }
        expectStateError { _ = try Int(stateBytes: [0, 0]) }                            // trailing byte
        expectStateError { _ = try [Int](stateBytes: [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]) }  // huge count, no data
        expectStateError { _ = try [Int: Int](stateBytes: [2, 2, 0, 2, 0]) }            // duplicate key
        expectStateError { _ = try Set<Int>(stateBytes: [2, 2, 2]) }                    // duplicate element

        // A failed read leaves the cursor in place.
        var reader = ByteReader([0x80])
        #expect(throws: StreamKitError.self) { try reader.readVarUInt() }
        #expect(reader.offset == 0)
        #expect(throws: StreamKitError.self) { try reader.readInteger(UInt32.self) }
        #expect(try reader.readUInt8() == 0x80)
    }

    struct WindowConfig: Codable, Equatable, StateCodable {
        var name: String
        var sizeMs: Int64
        var weights: [Double]
        var tags: [String: Int]?
    }

    @Test func codableTypesUseJSONSlowPath() throws {
        let config = WindowConfig(name: "hop", sizeMs: 300_000, weights: [0.5, .infinity], tags: ["a": 1])
        try roundTrip(config)
        try roundTrip([config, WindowConfig(name: "", sizeMs: -1, weights: [], tags: nil)])
        // Length-prefixed JSON blob.
        let bytes = config.encodedStateBytes()
        var reader = ByteReader(bytes)
        let json = try reader.readBytes()
        #expect(json.first == UInt8(ascii: "{"))
        let error = #expect(throws: StreamKitError.self) { try WindowConfig(stateBytes: [2] + Array("{}".utf8)) }
        #expect(error?.code == .state)
    }
}
