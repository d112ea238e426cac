import Foundation
public import StreamKitCapture

/// Decodes the row images of a rows event with the ``BinlogTableMap`` written just before it,
/// into the capture core's text values typed as Debezium's MySQL connector does with its default
/// settings (JSON without schemas):
///
/// | MySQL | event value |
/// |---|---|
/// | TINYINT … BIGINT (signed/unsigned), YEAR | JSON integer (BIGINT UNSIGNED up to 18446744073709551615) |
/// | DECIMAL | `precise`: JSON number with the column's scale; `double`: JSON number; `string`: string |
/// | FLOAT, DOUBLE | JSON number |
/// | DATE | days since 1970-01-01 |
/// | DATETIME(0–3) / DATETIME(4–6) | ms / µs since 1970-01-01T00:00:00 (Timestamp / MicroTimestamp) |
/// | TIMESTAMP(n) | ISO-8601 UTC string with n fraction digits (ZonedTimestamp) |
/// | TIME(n) | µs, signed (MicroTime) |
/// | CHAR, VARCHAR, TEXT (utf8mb4), ENUM, SET, JSON (MariaDB: LONGTEXT) | string (SET: members joined by `,`) |
/// | BIT(1) / BIT(n) | boolean / base64 of the bytes, least significant byte first (Debezium's Bits) |
/// | BINARY, VARBINARY, BLOB, GEOMETRY | base64 |
/// | zero dates (`0000-00-00`) | null |
public struct MySQLRowDecoder: Sendable {
    public let map: BinlogTableMap
    public let decimalHandling: MySQLDecimalHandling

    public init(map: BinlogTableMap, decimalHandling: MySQLDecimalHandling) {
        self.map = map; self.decimalHandling = decimalHandling
    }

    /// The capture core's columns of the table: `typeID` is the real MySQL type, `typeModifier`
    /// its metadata that changes values (DECIMAL precision << 8 | scale, fraction digits,
    /// BIT length, 1 for unsigned integers, 63 for binary strings).
    public func columns() -> [CaptureColumn] {
        map.columns.enumerated().map { i, c in
            CaptureColumn(name: c.name, typeID: UInt32(c.type), typeModifier: Self.modifier(c), kind: Self.kind(c, decimalHandling),
                          isKey: map.primaryKey.contains(i))
        }
    }

    static func modifier(_ c: BinlogTableMap.Column) -> Int32 {
        switch c.type {
        case MySQLType.newDecimal, MySQLType.timestamp2, MySQLType.datetime2, MySQLType.time2: Int32(c.meta)
        case MySQLType.bit: Int32(c.meta >> 8) + Int32(c.meta & 0xFF) * 8
        case MySQLType.tiny, MySQLType.short, MySQLType.int24, MySQLType.long, MySQLType.longlong: c.unsigned ? 1 : 0
        default: MySQLType.isCharacter(c.type) && c.collation == MySQLType.binaryCollation ? 63 : 0
        }
    }

    /// How the encoder writes a column's (pre-formatted) values.
    public static func kind(_ c: BinlogTableMap.Column, _ decimalHandling: MySQLDecimalHandling) -> ColumnKind {
        switch c.type {
        case MySQLType.tiny, MySQLType.short, MySQLType.int24, MySQLType.long, MySQLType.longlong, MySQLType.year,
             MySQLType.date, MySQLType.newDate, MySQLType.datetime, MySQLType.datetime2, MySQLType.time, MySQLType.time2:
            .integer
        case MySQLType.float, MySQLType.double: .decimal
        case MySQLType.newDecimal, MySQLType.decimal: decimalHandling == .string ? .text : .decimal
        case MySQLType.bit: c.meta >> 8 == 1 && c.meta & 0xFF == 0 ? .boolean : .text
        default: .text
        }
    }

    /// Decodes one row image at `r`: the columns whose bit is set in `present` (others are
    /// ``ColumnValue/unchangedToast``: not in a minimal image).
    public func row(_ r: inout BinlogBytes, present: UnsafeRawBufferPointer) throws -> [ColumnValue] {
        let n = map.columns.count
        var presentCount = 0
        for i in 0..<n where present[i / 8] >> (i % 8) & 1 == 1 { presentCount += 1 }
        let nulls = try r.slice((presentCount + 7) / 8)
        var values = [ColumnValue](repeating: .unchangedToast, count: n)
        var k = 0
        for i in 0..<n where present[i / 8] >> (i % 8) & 1 == 1 {
            defer { k += 1 }
            if nulls[k / 8] >> (k % 8) & 1 == 1 { values[i] = .null; continue }
            values[i] = try value(map.columns[i], &r)
        }
        return values
    }

    /// One non-null value.
    public func value(_ c: BinlogTableMap.Column, _ r: inout BinlogBytes) throws -> ColumnValue {
        switch c.type {
        case MySQLType.tiny: return .text(Self.integer(try r.uint(1), bytes: 1, unsigned: c.unsigned))
        case MySQLType.short: return .text(Self.integer(try r.uint(2), bytes: 2, unsigned: c.unsigned))
        case MySQLType.int24: return .text(Self.integer(try r.uint(3), bytes: 3, unsigned: c.unsigned))
        case MySQLType.long: return .text(Self.integer(try r.uint(4), bytes: 4, unsigned: c.unsigned))
        case MySQLType.longlong: return .text(Self.integer(try r.uint(8), bytes: 8, unsigned: c.unsigned))
        case MySQLType.year:
            let y = try r.uint(1)
            return .text(String(y == 0 ? 0 : y + 1900))
        case MySQLType.float:
            return .text(Self.number(Double(Float(bitPattern: UInt32(try r.uint(4)))), float: true))
        case MySQLType.double:
            return .text(Self.number(Double(bitPattern: try r.uint(8)), float: false))
        case MySQLType.newDecimal:
            let text = try Self.decimal(&r, precision: Int(c.meta >> 8), scale: Int(c.meta & 0xFF))
            switch decimalHandling {
            case .precise, .string: return .text(text)
            case .double: return .text(Self.number(Double(text) ?? 0, float: false))
            }
        case MySQLType.date, MySQLType.newDate:
            let v = try r.uint(3)
            let day = Int(v & 31), month = Int(v >> 5 & 15), year = Int(v >> 9)
            if year == 0 || month == 0 || day == 0 { return .null }
            return .text(String(Self.days(year: year, month: month, day: day)))
        case MySQLType.datetime2:
            let fsp = Int(c.meta)
            let packed = Int64(try r.uintBE(5)) - 0x80_0000_0000
            let micros = try Self.fraction(&r, fsp: fsp)
            let ymd = packed >> 17, hms = packed & 0x1FFFF
            let ym = ymd >> 5, day = Int(ymd & 31), month = Int(ym % 13), year = Int(ym / 13)
            if year == 0 || month == 0 || day == 0 { return .null }
            let seconds = Int64(Self.days(year: year, month: month, day: day)) * 86_400
                + (hms >> 12) * 3600 + (hms >> 6 & 63) * 60 + (hms & 63)
            return .text(fsp <= 3 ? String(seconds * 1000 + Int64(micros) / 1000) : String(seconds * 1_000_000 + Int64(micros)))
        case MySQLType.timestamp2:
            let fsp = Int(c.meta)
            let seconds = Int64(try r.uintBE(4))
            let micros = try Self.fraction(&r, fsp: fsp)
            if seconds == 0 && micros == 0 { return .null }
            return .text(Self.isoUTC(seconds: seconds, micros: micros, fsp: fsp))
        case MySQLType.timestamp:
            let seconds = Int64(try r.uint(4))
            return seconds == 0 ? .null : .text(Self.isoUTC(seconds: seconds, micros: 0, fsp: 0))
        case MySQLType.time2:
            return .text(String(try Self.time2(&r, fsp: Int(c.meta))))
        case MySQLType.varchar, MySQLType.varString:
            let length = Int(try r.uint(c.meta > 255 ? 2 : 1))
            return .text(try Self.string(&r, length, binary: c.collation == MySQLType.binaryCollation))
        case MySQLType.string:
            let length = Int(try r.uint(c.meta > 255 ? 2 : 1))
            guard c.collation == MySQLType.binaryCollation else { return .text(try Self.string(&r, length, binary: false)) }
            // BINARY(n) is stored without its trailing zero bytes: padded back to n, as the column holds it.
            var bytes = try r.bytes(length)
            if bytes.count < Int(c.meta) { bytes += [UInt8](repeating: 0, count: Int(c.meta) - bytes.count) }
            return .text(Data(bytes).base64EncodedString())
        case MySQLType.blob, MySQLType.tinyBlob, MySQLType.mediumBlob, MySQLType.longBlob, MySQLType.geometry, MySQLType.json:
            let length = Int(try r.uint(Int(Swift.max(1, Swift.min(4, c.meta)))))
            let binary = c.collation == MySQLType.binaryCollation || c.type == MySQLType.geometry
            return .text(try Self.string(&r, length, binary: binary))
        case MySQLType.enumType:
            let index = Int(try r.uint(Int(Swift.max(1, c.meta))))
            return .text(index >= 1 && index <= c.members.count ? c.members[index - 1] : "")
        case MySQLType.set:
            let bits = try r.uint(Int(Swift.max(1, c.meta)))
            var names: [String] = []
            for (i, m) in c.members.enumerated() where i < 64 && bits >> UInt64(i) & 1 == 1 { names.append(m) }
            return .text(names.joined(separator: ","))
        case MySQLType.bit:
            let nbits = Int(c.meta & 0xFF) * 8 + Int(c.meta >> 8)
            let bytes = try r.bytes((nbits + 7) / 8)
            if nbits == 1 { return .text(bytes.first.map { $0 & 1 == 1 ? "1" : "0" } ?? "0") }
            return .text(Data(bytes.reversed()).base64EncodedString())
        default:
            throw CaptureError(.malformedLog, "\(map.qualifiedName).\(c.name): column type \(c.type) is not supported by the MySQL capture")
        }
    }

    // MARK: - value forms

    static func integer(_ v: UInt64, bytes: Int, unsigned: Bool) -> String {
        if unsigned { return String(v) }
        let shift = UInt64(64 - 8 * bytes)
        return String(Int64(bitPattern: v << shift) >> Int64(shift))
    }

    /// A JSON number (shortest digits that read back exactly); non-finite values as Kafka's JsonConverter writes them.
    static func number(_ d: Double, float: Bool) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
        var s = float ? Float(d).description : d.description
        if s.hasSuffix(".0") { s.removeLast(2) }
        return s
    }

    /// MySQL's binary DECIMAL: 9 digits per 4 bytes, big-endian, sign bit flipped, negatives
    /// inverted. Written digit by digit into one buffer (this runs for every DECIMAL value).
    static func decimal(_ r: inout BinlogBytes, precision: Int, scale: Int) throws -> String {
        let digitsBytes = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4]
        let intg = precision - scale
        let intg0 = intg / 9, intg0x = intg % 9, frac0 = scale / 9, frac0x = scale % 9
        let size = intg0 * 4 + digitsBytes[intg0x] + frac0 * 4 + digitsBytes[frac0x]
        let raw = try r.slice(size)
        guard size > 0 else { return "0" }
        let negative = raw[0] & 0x80 == 0
        let mask: UInt8 = negative ? 0xFF : 0
        var i = 0
        func take(_ n: Int) -> UInt32 {
            var v: UInt32 = 0
            for k in 0..<n {
                var b = raw[i] ^ mask
                if i == 0 && k == 0 { b ^= 0x80 }
                v = v << 8 | UInt32(b); i += 1
            }
            return v
        }
        return String(unsafeUninitializedCapacity: precision + 3) { out in
            var n = 0
            if negative { out[n] = UInt8(ascii: "-"); n += 1 }
            let signEnd = n
            func put(_ v: UInt32, digits: Int, leading: Bool) {
                var divisor: UInt32 = 1
                for _ in 1..<max(1, digits) { divisor *= 10 }
                var v = v
                for _ in 0..<digits {
                    let d = v / divisor
                    v -= d * divisor; divisor /= 10
                    if leading && n == signEnd && d == 0 { continue }   // no leading zeros
                    out[n] = UInt8(truncatingIfNeeded: d) &+ 48; n += 1
                }
            }
            if intg0x > 0 { put(take(digitsBytes[intg0x]), digits: intg0x, leading: true) }
            for _ in 0..<intg0 { put(take(4), digits: 9, leading: true) }
            if n == signEnd { out[n] = UInt8(ascii: "0"); n += 1 }
            if scale > 0 {
                out[n] = UInt8(ascii: "."); n += 1
                for _ in 0..<frac0 { put(take(4), digits: 9, leading: false) }
                if frac0x > 0 { put(take(digitsBytes[frac0x]), digits: frac0x, leading: false) }
            }
            if negative && !out[signEnd..<n].contains(where: { $0 != UInt8(ascii: "0") && $0 != UInt8(ascii: ".") }) {
                // -0.00 is 0.00
                for k in signEnd..<n { out[k - 1] = out[k] }
                n -= 1
            }
            return n
        }
    }

    /// The fractional seconds after a DATETIME2/TIMESTAMP2/TIME2 integer part, in µs.
    static func fraction(_ r: inout BinlogBytes, fsp: Int) throws -> Int {
        switch fsp {
        case 1, 2: return Int(try r.uintBE(1)) * 10_000
        case 3, 4: return Int(try r.uintBE(2)) * 100
        case 5, 6: return Int(try r.uintBE(3))
        default: return 0
        }
    }

    /// TIME2 as signed µs.
    static func time2(_ r: inout BinlogBytes, fsp: Int) throws -> Int64 {
        var packed: Int64
        switch fsp {
        case 1, 2, 3, 4:
            var intpart = Int64(try r.uintBE(3)) - 0x80_0000
            let bytes = fsp <= 2 ? 1 : 2
            var frac = Int64(try r.uintBE(bytes))
            if intpart < 0 && frac != 0 { intpart += 1; frac -= Int64(1) << (8 * bytes) }   // as MySQL's my_time_packed_from_binary
            packed = intpart << 24 + frac * (fsp <= 2 ? 10_000 : 100)
        case 5, 6:
            packed = Int64(try r.uintBE(6)) - 0x8000_0000_0000
        default:
            packed = (Int64(try r.uintBE(3)) - 0x80_0000) << 24
        }
        let negative = packed < 0
        if negative { packed = -packed }
        let intpart = packed >> 24, frac = packed & 0xFF_FFFF
        let hours = intpart >> 12 & 1023, minutes = intpart >> 6 & 63, seconds = intpart & 63
        let micros = (hours * 3600 + minutes * 60 + seconds) * 1_000_000 + frac
        return negative ? -micros : micros
    }

    static func string(_ r: inout BinlogBytes, _ length: Int, binary: Bool) throws -> String {
        let bytes = try r.slice(length)
        return binary ? Data(bytes).base64EncodedString() : String(decoding: bytes, as: UTF8.self)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    public static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// `YYYY-MM-DDTHH:MM:SS[.f…]Z` with `fsp` fraction digits.
    public static func isoUTC(seconds: Int64, micros: Int, fsp: Int) -> String {
        let days = Int(seconds.floorDiv(86_400)), rem = Int(seconds - Int64(days) * 86_400)
        let (y, m, d) = civil(days: days)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        var s = "\(String(repeating: "0", count: Swift.max(0, 4 - String(y).count)))\(y)-\(two(m))-\(two(d))T\(two(rem / 3600)):\(two(rem / 60 % 60)):\(two(rem % 60))"
        if fsp > 0 {
            let f = String(micros)
            let six = String(repeating: "0", count: 6 - f.count) + f
            s += "." + six.prefix(fsp)
        }
        return s + "Z"
    }

    static func civil(days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

extension Int64 {
    fileprivate func floorDiv(_ d: Int64) -> Int64 { self >= 0 ? self / d : -((-self + d - 1) / d) }
}
