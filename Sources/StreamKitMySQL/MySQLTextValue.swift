import Foundation
public import StreamKitCapture

/// Values read with SQL (snapshots) turned into the same forms ``MySQLRowDecoder`` gives binlog
/// values, so a snapshot row and a streamed row of the same data are the same event. Binary
/// columns (BINARY, VARBINARY, BLOB, BIT, GEOMETRY) are selected as `HEX(column)`.
public enum MySQLTextValue {
    /// Whether the snapshot selects the column as `HEX(column)`.
    public static func selectsHex(_ c: BinlogTableMap.Column) -> Bool {
        c.type == MySQLType.bit || c.type == MySQLType.geometry
            || (MySQLType.isCharacter(c.type) && c.collation == MySQLType.binaryCollation)
    }

    public static func value(_ text: String?, _ c: BinlogTableMap.Column, decimalHandling: MySQLDecimalHandling) -> ColumnValue {
        guard let t = text else { return .null }
        switch c.type {
        case MySQLType.float:
            return .text(MySQLRowDecoder.number(Double(Float(t) ?? 0), float: true))
        case MySQLType.double:
            return .text(MySQLRowDecoder.number(Double(t) ?? 0, float: false))
        case MySQLType.newDecimal:
            return .text(decimalHandling == .double ? MySQLRowDecoder.number(Double(t) ?? 0, float: false) : t)
        case MySQLType.date:
            guard let (y, m, d) = ymd(t), y > 0, m > 0, d > 0 else { return .null }
            return .text(String(MySQLRowDecoder.days(year: y, month: m, day: d)))
        case MySQLType.datetime2, MySQLType.timestamp2:
            guard let (y, m, d) = ymd(t), y > 0, m > 0, d > 0 else { return .null }
            let (seconds, micros) = timeOfDay(t.dropFirst(11))
            let total = Int64(MySQLRowDecoder.days(year: y, month: m, day: d)) * 86_400 + seconds
            if c.type == MySQLType.timestamp2 { return .text(MySQLRowDecoder.isoUTC(seconds: total, micros: Int(micros), fsp: Int(c.meta))) }
            return .text(c.meta <= 3 ? String(total * 1000 + micros / 1000) : String(total * 1_000_000 + micros))
        case MySQLType.time2:
            let negative = t.hasPrefix("-")
            let (seconds, micros) = timeOfDay(negative ? t.dropFirst() : Substring(t))
            let v = seconds * 1_000_000 + micros
            return .text(String(negative ? -v : v))
        case MySQLType.bit:
            let value = UInt64(t, radix: 16) ?? 0
            let nbits = Int(c.meta & 0xFF) * 8 + Int(c.meta >> 8)
            if nbits == 1 { return .text(value & 1 == 1 ? "1" : "0") }
            let count = (nbits + 7) / 8
            var bytes: [UInt8] = []
            for i in 0..<count { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(8 * i))) }   // least significant first
            return .text(Data(bytes).base64EncodedString())
        default:
            if selectsHex(c) { return .text(Data(hex(t)).base64EncodedString()) }
            return .text(t)
        }
    }

    static func ymd(_ t: String) -> (Int, Int, Int)? {
        let u = Array(t.utf8.prefix(10))
        guard u.count == 10 else { return nil }
        func n(_ a: Int, _ b: Int) -> Int? { Int(String(decoding: u[a..<b], as: UTF8.self)) }
        guard let y = n(0, 4), let m = n(5, 7), let d = n(8, 10) else { return nil }
        return (y, m, d)
    }

    /// `HHH:MM:SS[.ffffff]` → (seconds, µs).
    static func timeOfDay(_ t: Substring) -> (Int64, Int64) {
        let parts = t.split(separator: ".", maxSplits: 1)
        let hms = parts.first.map { $0.split(separator: ":").compactMap { Int64($0) } } ?? []
        var seconds: Int64 = 0
        for v in hms { seconds = seconds * 60 + v }
        var micros: Int64 = 0
        if parts.count == 2 {
            let f = String(parts[1].prefix(6))
            micros = (Int64(f) ?? 0) * Int64(pow(10, Double(6 - f.count)))
        }
        return (seconds, micros)
    }

    static func hex(_ t: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(t.utf8.count / 2)
        var hi: UInt8? = nil
        for c in t.utf8 {
            let v: UInt8
            switch c { case 48...57: v = c - 48; case 65...70: v = c - 55; case 97...102: v = c - 87; default: continue }
            if let h = hi { out.append(h << 4 | v); hi = nil } else { hi = v }
        }
        return out
    }

    /// A column as `information_schema.COLUMNS` describes it, in the TABLE_MAP's terms.
    /// `dataType`: DATA_TYPE; `columnType`: COLUMN_TYPE (`int(10) unsigned`, `enum('a','b')`).
    public static func column(name: String, dataType: String, columnType: String, precision: Int?, scale: Int?,
                              datetimePrecision: Int?, characterSet: String?) -> BinlogTableMap.Column {
        let fsp = UInt16(datetimePrecision ?? 0)
        let binary = characterSet == nil
        let (type, meta): (UInt8, UInt16)
        switch dataType.lowercased() {
        case "tinyint": (type, meta) = (MySQLType.tiny, 0)
        case "smallint": (type, meta) = (MySQLType.short, 0)
        case "mediumint": (type, meta) = (MySQLType.int24, 0)
        case "int", "integer": (type, meta) = (MySQLType.long, 0)
        case "bigint": (type, meta) = (MySQLType.longlong, 0)
        case "float": (type, meta) = (MySQLType.float, 4)
        case "double", "real": (type, meta) = (MySQLType.double, 8)
        case "decimal", "numeric": (type, meta) = (MySQLType.newDecimal, UInt16(precision ?? 10) << 8 | UInt16(scale ?? 0))
        case "date": (type, meta) = (MySQLType.date, 0)
        case "datetime": (type, meta) = (MySQLType.datetime2, fsp)
        case "timestamp": (type, meta) = (MySQLType.timestamp2, fsp)
        case "time": (type, meta) = (MySQLType.time2, fsp)
        case "year": (type, meta) = (MySQLType.year, 0)
        case "char", "binary": (type, meta) = (MySQLType.string, 0)
        case "varchar", "varbinary": (type, meta) = (MySQLType.varchar, 0)
        case "enum": (type, meta) = (MySQLType.enumType, 0)
        case "set": (type, meta) = (MySQLType.set, 0)
        case "bit":
            let n = UInt16(precision ?? 1)
            (type, meta) = (MySQLType.bit, (n % 8) << 8 | n / 8)
        case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection":
            (type, meta) = (MySQLType.geometry, 4)
        default: (type, meta) = (MySQLType.blob, 4)   // the TEXT and BLOB family, JSON (MariaDB: LONGTEXT)
        }
        var c = BinlogTableMap.Column(name: name, type: type, meta: meta)
        c.unsigned = columnType.lowercased().contains("unsigned")
        if MySQLType.isCharacter(type) { c.collation = binary ? MySQLType.binaryCollation : 0 }
        if type == MySQLType.enumType || type == MySQLType.set { c.members = members(columnType) }
        return c
    }

    /// `enum('a','b''c')` → ["a", "b'c"].
    static func members(_ columnType: String) -> [String] {
        guard let open = columnType.firstIndex(of: "("), let close = columnType.lastIndex(of: ")") else { return [] }
        var out: [String] = []
        var current = ""
        var inQuote = false
        var chars = columnType[columnType.index(after: open)..<close].makeIterator()
        var pending: Character? = nil
        while let ch = pending ?? chars.next() {
            pending = nil
            if inQuote {
                if ch == "'" {
                    if let next = chars.next() {
                        if next == "'" { current.append("'") } else { inQuote = false; out.append(current); current = ""; pending = next }
                    } else { inQuote = false; out.append(current); current = "" }
                } else if ch == "\\" {
                    if let next = chars.next() { current.append(next) }
                } else {
                    current.append(ch)
                }
            } else if ch == "'" {
                inQuote = true
            }
        }
        return out
    }
}
