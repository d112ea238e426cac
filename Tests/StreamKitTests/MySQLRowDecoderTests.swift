import Foundation
import Testing
import StreamKitCapture
import StreamKitMySQL

/// The binlog decoder on hand-made byte images (layouts as MariaDB 10.11 writes them); the
/// integration tests check the same on the real server.
struct MySQLRowDecoderTests {
    /// Length-encoded integer.
    static func packed(_ v: Int) -> [UInt8] { v < 251 ? [UInt8(v)] : [252, UInt8(v & 0xFF), UInt8(v >> 8)] }
    static func str(_ s: String) -> [UInt8] { packed(s.utf8.count) + Array(s.utf8) }

    /// A TABLE_MAP body for `app.t`: columns (name, type, metadata bytes), nullable all, optional metadata.
    static func tableMap(_ columns: [(String, UInt8, [UInt8])], signedness: [UInt8], charsets: [Int], enums: [[String]], sets: [[String]],
                         pk: [Int]) -> [UInt8] {
        var b: [UInt8] = [42, 0, 0, 0, 0, 0, 1, 0]   // table id 42, flags
        b += [3] + Array("app".utf8) + [0]
        b += [1] + Array("t".utf8) + [0]
        b += packed(columns.count) + columns.map(\.1)
        let meta = columns.flatMap(\.2)
        b += packed(meta.count) + meta
        b += [UInt8](repeating: 0xFF, count: (columns.count + 7) / 8)
        func field(_ type: UInt8, _ value: [UInt8]) -> [UInt8] { [type] + packed(value.count) + value }
        b += field(1, signedness)
        b += field(3, charsets.flatMap { packed($0) })
        b += field(4, columns.flatMap { str($0.0) })
        if !sets.isEmpty { b += field(5, sets.flatMap { packed($0.count) + $0.flatMap(str) }) }
        if !enums.isEmpty { b += field(6, enums.flatMap { packed($0.count) + $0.flatMap(str) }) }
        b += field(8, pk.flatMap { packed($0) })
        return b
    }

    static func map(_ bytes: [UInt8]) throws -> BinlogTableMap {
        try bytes.withUnsafeBytes { try BinlogTableMap(body: $0) }
    }

    static func decode(_ map: BinlogTableMap, _ image: [UInt8], decimals: MySQLDecimalHandling = .precise) throws -> [ColumnValue] {
        let decoder = MySQLRowDecoder(map: map, decimalHandling: decimals)
        let present = [UInt8](repeating: 0xFF, count: (map.columns.count + 7) / 8)
        return try image.withUnsafeBytes { data in
            try present.withUnsafeBytes { p in
                var r = BinlogBytes(data)
                let row = try decoder.row(&r, present: p)
                #expect(r.remaining == 0, "the whole image is consumed")
                return row
            }
        }
    }

    @Test func tableMapMetadataAndEveryColumnType() throws {
        // id BIGINT UNSIGNED PK, i INT (signed), s SMALLINT UNSIGNED, d DECIMAL(10,2), f DOUBLE, c CHAR(4) utf8mb4,
        // v VARCHAR(300) utf8mb4, e ENUM('a','b'), st SET('x','y','z'), dt DATETIME(6), ts TIMESTAMP(3), tm TIME(0),
        // day DATE, y YEAR, b BIT(1), bits BIT(12), blob BLOB (binary), txt TEXT, n INT (null)
        let columns: [(String, UInt8, [UInt8])] = [
            ("id", 8, []), ("i", 3, []), ("s", 2, []), ("d", 246, [10, 2]), ("f", 5, [8]), ("c", 254, [254, 16]),
            ("v", 15, [0xB0, 0x04]), ("e", 254, [247, 1]), ("st", 254, [248, 1]), ("dt", 18, [6]), ("ts", 17, [3]), ("tm", 19, [0]),
            ("day", 10, []), ("y", 13, []), ("b", 16, [1, 0]), ("bits", 16, [4, 1]), ("blob", 252, [2]), ("txt", 252, [2]), ("n", 3, []),
        ]
        // numeric columns: id, i, s, d, f, n → unsigned id, s
        let m = try Self.map(Self.tableMap(columns, signedness: [0b1010_0000], charsets: [45, 45, 63, 45], enums: [["a", "b"]],
                                           sets: [["x", "y", "z"]], pk: [0]))
        #expect(m.tableID == 42 && m.database == "app" && m.table == "t" && m.hasNames)
        #expect(m.columns.map(\.name) == columns.map(\.0))
        #expect(m.primaryKey == [0])
        #expect(m.columns[0].unsigned && !m.columns[1].unsigned && m.columns[2].unsigned && !m.columns[18].unsigned)
        #expect(m.columns[5].type == MySQLType.string && m.columns[7].type == MySQLType.enumType && m.columns[8].type == MySQLType.set)
        #expect(m.columns[7].members == ["a", "b"] && m.columns[8].members == ["x", "y", "z"])
        #expect(m.columns[16].collation == 63 && m.columns[17].collation == 45 && m.columns[5].collation == 45)

        var image: [UInt8] = [0, 0, 0b0000_0100]   // null bitmap: column 18 (n) is null
        image += [UInt8](repeating: 0xFF, count: 8)                       // id = 18446744073709551615
        image += [0xFE, 0xFF, 0xFF, 0xFF]                                  // i = -2
        image += [0xFF, 0xFF]                                              // s = 65535
        image += [0x7F, 0xFF, 0xFB, 0x2D, 0xC7]                            // d = -1234.56
        image += withUnsafeBytes(of: (1.5).bitPattern.littleEndian, Array.init)   // f = 1.5
        image += [3] + Array("abc".utf8)                                   // c
        image += [5, 0] + Array("héé".utf8)                                // v (2-byte length: max 300 bytes)
        image += [2]                                                       // e = 'b'
        image += [0b101]                                                   // st = 'x,z'
        // dt = 2024-03-01 12:34:56.123456: ym = 2024*13+3, ymd = ym<<5|1, hms = 12<<12|34<<6|56
        let ymd = Int64(2024 * 13 + 3) << 5 | 1, hms = Int64(12) << 12 | Int64(34) << 6 | 56
        let dt = UInt64(ymd << 17 | hms) + 0x80_0000_0000
        image += (0..<5).reversed().map { UInt8(truncatingIfNeeded: dt >> (8 * UInt64($0))) } + [0x01, 0xE2, 0x40]   // 123456
        image += [0x65, 0xE1, 0xC5, 0x20] + [0x04, 0xD2]                   // ts = 1709294880 s + 1234 → .123
        // tm = -01:02:03 → intpart = -(1<<12 | 2<<6 | 3) + 0x800000
        let tm = UInt32(0x80_0000 - (1 << 12 | 2 << 6 | 3))
        image += [UInt8(tm >> 16 & 0xFF), UInt8(tm >> 8 & 0xFF), UInt8(tm & 0xFF)]
        let day = UInt32(2024 << 9 | 3 << 5 | 1)
        image += [UInt8(day & 0xFF), UInt8(day >> 8 & 0xFF), UInt8(day >> 16)]   // 2024-03-01
        image += [124]                                                     // y = 2024
        image += [1]                                                       // b = 1
        image += [0x0A, 0xBC]                                              // bits = 0xABC
        image += [3, 0, 0x00, 0xFF, 0x10]                                  // blob
        image += [5, 0] + Array("{\"a\"}".utf8)                            // txt (JSON is LONGTEXT)
        let row = try Self.decode(m, image)
        func text(_ i: Int) -> String? { if case let .text(t) = row[i] { return t }; return nil }
        #expect(text(0) == "18446744073709551615")
        #expect(text(1) == "-2" && text(2) == "65535")
        #expect(text(3) == "-1234.56")
        #expect(text(4) == "1.5")
        #expect(text(5) == "abc" && text(6) == "héé" && text(7) == "b" && text(8) == "x,z")
        #expect(text(9) == "1709296496123456", "DATETIME(6): µs since the epoch")
        #expect(text(10) == "2024-03-01T12:08:00.123Z", "TIMESTAMP(3): ISO UTC with 3 digits")
        #expect(text(11) == "-3723000000", "TIME: signed µs")
        #expect(text(12) == "19783", "DATE: days since the epoch")
        #expect(text(13) == "2024" && text(14) == "1")
        #expect(text(15) == Data([0xBC, 0x0A]).base64EncodedString(), "BIT(n): least significant byte first")
        #expect(text(16) == Data([0x00, 0xFF, 0x10]).base64EncodedString())
        #expect(text(17) == "{\"a\"}")
        #expect(row[18] == .null)

        let decoder = MySQLRowDecoder(map: m, decimalHandling: .precise)
        let kinds = decoder.columns().map(\.kind)
        #expect(kinds[0] == .integer && kinds[3] == .decimal && kinds[9] == .integer && kinds[10] == .text && kinds[14] == .boolean && kinds[15] == .text)
        #expect(MySQLRowDecoder(map: m, decimalHandling: .string).columns()[3].kind == .text)
        let asDouble = try Self.decode(m, image, decimals: .double)
        #expect(asDouble[3] == .text("-1234.56"))
    }

    @Test func decimalsOfManyDigitsAndScales() throws {
        func dec(_ bytes: [UInt8], _ p: Int, _ s: Int) throws -> String {
            let m = BinlogTableMap(tableID: 1, database: "d", table: "t",
                                   columns: [BinlogTableMap.Column(name: "x", type: MySQLType.newDecimal, meta: UInt16(p) << 8 | UInt16(s))], primaryKey: [])
            let row = try Self.decode(m, [0] + bytes)
            guard case let .text(t) = row[0] else { return "" }
            return t
        }
        // DECIMAL(20,10) 1234567890.0123456789: intg 10 = 1 leftover digit (1 byte) + 9 (4 bytes); frac 10 = 9 (4 bytes) + 1 (1 byte)
        #expect(try dec([0x81, 0x0D, 0xFB, 0x38, 0xD2, 0x00, 0xBC, 0x61, 0x4E, 0x09], 20, 10) == "1234567890.0123456789")
        // DECIMAL(5,0) 0 and DECIMAL(4,2) 0.05
        #expect(try dec([0x80, 0x00, 0x00], 5, 0) == "0")
        #expect(try dec([0x80, 0x05], 4, 2) == "0.05")
        // DECIMAL(10,2) 1234.56 and -0.50
        #expect(try dec([0x80, 0x00, 0x04, 0xD2, 0x38], 10, 2) == "1234.56")
        #expect(try dec([0x7F, 0xFF, 0xFF, 0xFF, 0xCD], 10, 2) == "-0.50")
    }

    @Test func malformedImagesAreErrorsNotCrashes() throws {
        let m = BinlogTableMap(tableID: 1, database: "d", table: "t",
                               columns: [BinlogTableMap.Column(name: "x", type: MySQLType.longlong, meta: 0)], primaryKey: [])
        #expect(throws: CaptureError.self) { try Self.decode(m, [0, 1, 2]) }
        #expect(throws: CaptureError.self) { try Self.map([1, 2, 3]) }
    }

    @Test func dsnParsingAndRedaction() throws {
        let d = try MySQLDSN(parsing: "mysql://cdc:p%40ss@127.0.0.1:13306/app")
        #expect(d.user == "cdc" && d.password == "p@ss" && d.host == "127.0.0.1" && d.port == 13306 && d.database == "app")
        #expect(!d.redacted.contains("p@ss") && d.redacted.contains("***"))
        #expect(throws: CaptureError.self) { try MySQLDSN(parsing: "postgresql://x@y/z") }
    }

    @Test func snapshotTextMatchesBinlogForms() {
        let dt = MySQLTextValue.column(name: "dt", dataType: "datetime", columnType: "datetime(6)", precision: nil, scale: nil,
                                       datetimePrecision: 6, characterSet: nil)
        #expect(MySQLTextValue.value("2024-03-01 12:34:56.123456", dt, decimalHandling: .precise) == .text("1709296496123456"))
        let dt0 = MySQLTextValue.column(name: "dt", dataType: "datetime", columnType: "datetime", precision: nil, scale: nil,
                                        datetimePrecision: 0, characterSet: nil)
        #expect(MySQLTextValue.value("2024-03-01 12:34:56", dt0, decimalHandling: .precise) == .text("1709296496000"))
        let tm = MySQLTextValue.column(name: "t", dataType: "time", columnType: "time", precision: nil, scale: nil, datetimePrecision: 0, characterSet: nil)
        #expect(MySQLTextValue.value("-01:02:03", tm, decimalHandling: .precise) == .text("-3723000000"))
        let e = MySQLTextValue.column(name: "e", dataType: "enum", columnType: "enum('a','it''s')", precision: nil, scale: nil,
                                      datetimePrecision: nil, characterSet: "utf8mb4")
        #expect(e.members == ["a", "it's"])
        let bits = MySQLTextValue.column(name: "b", dataType: "bit", columnType: "bit(12)", precision: 12, scale: nil, datetimePrecision: nil, characterSet: nil)
        #expect(MySQLTextValue.value("ABC", bits, decimalHandling: .precise) == .text(Data([0xBC, 0x0A]).base64EncodedString()))
        let blob = MySQLTextValue.column(name: "b", dataType: "blob", columnType: "blob", precision: nil, scale: nil, datetimePrecision: nil, characterSet: nil)
        #expect(MySQLTextValue.value("00FF10", blob, decimalHandling: .precise) == .text(Data([0x00, 0xFF, 0x10]).base64EncodedString()))
        #expect(MySQLTextValue.value("0000-00-00", MySQLTextValue.column(name: "d", dataType: "date", columnType: "date", precision: nil, scale: nil,
                                                                          datetimePrecision: nil, characterSet: nil), decimalHandling: .precise) == .null)
    }
}
