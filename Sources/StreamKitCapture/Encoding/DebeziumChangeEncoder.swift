import Foundation
import StreamKitJSON

/// Writes Debezium envelopes (JSON without schemas, as Debezium's JsonConverter with
/// `schemas.enable=false`): `before`, `after`, `source{version, connector, name, ts_ms, snapshot,
/// db, schema, table, <connector fields>, streamkit_schema_version}`, `op`, `ts_ms`,
/// `transaction`, and keys `{"pk": ...}`. The connector's own `source` fields come from the
/// plug-in's ``SourceFields``.
///
/// Values are typed by their column's ``ColumnKind`` like Debezium's defaults: integers and
/// booleans as JSON numbers and booleans, `timestamp` as microseconds since the epoch
/// (MicroTimestamp), `timestamptz` as an ISO-8601 UTC string (ZonedTimestamp), `date` as days
/// since the epoch, bytes as base64, json, uuid, text and arrays as strings. Decimals are written
/// as JSON numbers with all their digits (Debezium's `decimal.handling.mode=double` shape,
/// without the rounding); NaN and infinities become strings. A value the log did not carry
/// (``ColumnValue/unchangedToast``) is written as `"__debezium_unavailable_value"`, never invented.
public struct DebeziumChangeEncoder {
    public static let unavailableValue = "__debezium_unavailable_value"
    /// The `source.version` field.
    public static let version = "streamkit-0.1"

    public var serverName: String
    public var database: String
    /// The `source.connector` field (`postgresql`, `mysql`).
    public var connector: String
    var writer = JSONWriter(capacity: 1024)

    public init(serverName: String, database: String, connector: String) {
        self.serverName = serverName; self.database = database; self.connector = connector
    }

    /// A change's place in its transaction (Debezium's `transaction` block, with transaction metadata on).
    public struct TransactionOrder: Sendable {
        /// The transaction's id (PostgreSQL: `"<txId>:<commit LSN>"`).
        public var id: String
        /// 1-based position among the transaction's data events.
        public var totalOrder: Int
        /// 1-based position among the transaction's events of the same table.
        public var dataCollectionOrder: Int
        public init(id: String, totalOrder: Int, dataCollectionOrder: Int) {
            self.id = id; self.totalOrder = totalOrder; self.dataCollectionOrder = dataCollectionOrder
        }
    }

    /// The envelope of one change: `op` is `c`, `u`, `d`, `r` or `t`. `transaction` is null unless given.
    public mutating func value<Source: SourceFields>(op: UInt8, table: CapturedTable, before: [ColumnValue]?, after: [ColumnValue]?,
                                                     source: Source, nowMillis: Int64, transaction: TransactionOrder? = nil) -> [UInt8] {
        writer.reset()
        writer.beginObject()
        writer.key("before")
        if let before { row(table, before) } else { writer.null() }
        writer.key("after")
        if let after { row(table, after) } else { writer.null() }
        writer.key("source")
        writer.beginObject()
        writer.field("version", Self.version)
        writer.field("connector", connector)
        writer.field("name", serverName)
        writer.field("ts_ms", source.tsMillis)
        writer.field("snapshot", source.snapshot)
        writer.field("db", database)
        writer.field("schema", table.schema)
        writer.field("table", table.name)
        source.writeFields(to: &writer)
        writer.field("streamkit_schema_version", table.version)
        writer.endObject()
        writer.key("op")
        writer.value(String(UnicodeScalar(op)))
        writer.field("ts_ms", nowMillis)
        writer.key("transaction")
        if let t = transaction {
            writer.beginObject()
            writer.field("id", t.id)
            writer.field("total_order", t.totalOrder)
            writer.field("data_collection_order", t.dataCollectionOrder)
            writer.endObject()
        } else {
            writer.null()
        }
        writer.endObject()
        return writer.bytes
    }

    /// A transaction boundary event (topic `<prefix>.transaction`): `BEGIN` (no counts) or `END`
    /// with the number of data events, in total and per `schema.table`.
    public mutating func transactionBoundary(begin: Bool, id: String, tsMillis: Int64,
                                             collections: [(name: String, count: Int)]) -> [UInt8] {
        writer.reset()
        writer.beginObject()
        writer.field("status", begin ? "BEGIN" : "END")
        writer.field("id", id)
        writer.field("ts_ms", tsMillis)
        if begin {
            writer.nullField("event_count")
            writer.nullField("data_collections")
        } else {
            writer.field("event_count", collections.reduce(0) { $0 + $1.count })
            writer.key("data_collections")
            writer.beginArray()
            for c in collections {
                writer.beginObject()
                writer.field("data_collection", c.name)
                writer.field("event_count", c.count)
                writer.endObject()
            }
            writer.endArray()
        }
        writer.endObject()
        return writer.bytes
    }

    /// The key of a transaction boundary event: `{"id": ...}`.
    public mutating func transactionKey(id: String) -> [UInt8] {
        writer.reset()
        writer.beginObject()
        writer.field("id", id)
        writer.endObject()
        return writer.bytes
    }

    /// A heartbeat record (Debezium's): key `{"serverName": ...}`, value `{"ts_ms": ...}`.
    public mutating func heartbeat(nowMillis: Int64) -> (key: [UInt8], value: [UInt8]) {
        writer.reset()
        writer.beginObject()
        writer.field("serverName", serverName)
        writer.endObject()
        let key = writer.bytes
        writer.reset()
        writer.beginObject()
        writer.field("ts_ms", nowMillis)
        writer.endObject()
        return (key, writer.bytes)
    }

    /// The Kafka key: the key columns of `values` as a JSON object; nil when the table has no key.
    public mutating func key(table: CapturedTable, values: [ColumnValue]) -> [UInt8]? {
        guard !table.keyColumns.isEmpty else { return nil }
        writer.reset()
        writer.beginObject()
        for i in table.keyColumns where i < values.count {
            writer.key(table.columns[i].name)
            value(values[i], kind: table.columns[i].kind)
        }
        writer.endObject()
        return writer.bytes
    }

    mutating func row(_ table: CapturedTable, _ values: [ColumnValue]) {
        writer.beginObject()
        for (i, c) in table.columns.enumerated() where !table.excluded[i] {
            writer.key(c.name)
            if table.masked[i] {
                if i < values.count, case .null = values[i] { writer.null() } else { writer.value("***") }
            } else {
                value(i < values.count ? values[i] : .null, kind: c.kind)
            }
        }
        writer.endObject()
    }

    mutating func value(_ v: ColumnValue, kind: ColumnKind) {
        switch v {
        case .null: writer.null()
        case .unchangedToast: writer.value(Self.unavailableValue)
        case let .text(t): typed(t, kind: kind)
        }
    }

    mutating func typed(_ t: String, kind: ColumnKind) {
        switch kind {
        case .boolean: writer.value(t == "t" || t == "1" || t == "true")
        case .integer:
            if let n = Int64(t) { writer.value(n) } else { writer.value(t) }
        case .decimal:
            if Self.isJSONNumber(t) { t.utf8.withContiguousStorageIfAvailable { writer.rawValue(UnsafeRawBufferPointer($0)) } ?? writer.value(t) } else { writer.value(t) }
        case .timestamp:
            if let us = Self.parseTimestampMicros(t) { writer.value(us) } else { writer.value(t) }
        case .timestampWithZone:
            if let us = Self.parseTimestampMicros(t) { writer.value(Self.isoUTC(micros: us)) } else { writer.value(t) }
        case .date:
            if let days = Self.parseDateDays(t) { writer.value(days) } else { writer.value(t) }
        case .bytes:
            writer.value(Self.byteaBase64(t) ?? t)
        case .text:
            writer.value(t)
        }
    }
    static func isJSONNumber(_ t: String) -> Bool {
        var sawDigit = false
        for (i, b) in t.utf8.enumerated() {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): sawDigit = true
            case UInt8(ascii: "-") where i == 0: continue
            case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "+"), UInt8(ascii: "-"): continue
            default: return false
            }
        }
        return sawDigit && !t.hasPrefix(".") && !t.hasPrefix("-.")
    }

    /// `YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM[:SS]]]` (DateStyle ISO) → µs since the epoch (UTC).
    static func parseTimestampMicros(_ t: String) -> Int64? {
        let b = Array(t.utf8)
        func num(_ from: Int, _ n: Int) -> Int64? {
            guard from + n <= b.count else { return nil }
            var v: Int64 = 0
            for i in from..<from + n { let d = b[i] &- 48; guard d < 10 else { return nil }; v = v * 10 + Int64(d) }
            return v
        }
        guard b.count >= 19, b[4] == 45, b[7] == 45, b[10] == 32 || b[10] == 84, b[13] == 58, b[16] == 58,
              let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2), let mi = num(14, 2), let s = num(17, 2) else { return nil }
        var i = 19
        var frac: Int64 = 0
        if i < b.count, b[i] == 46 {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 6 { frac = frac * 10 + Int64(b[i] - 48); digits += 1 }
                i += 1
            }
            while digits < 6 { frac *= 10; digits += 1 }
        }
        var offsetSeconds: Int64 = 0
        if i < b.count, b[i] == 43 || b[i] == 45 {
            let sign: Int64 = b[i] == 45 ? -1 : 1
            guard let oh = num(i + 1, 2) else { return nil }
            var off = oh * 3600
            var j = i + 3
            if j < b.count, b[j] == 58, let om = num(j + 1, 2) { off += om * 60; j += 3 }
            if j < b.count, b[j] == 58, let os = num(j + 1, 2) { off += os }
            offsetSeconds = sign * off
        }
        let days = daysFromCivil(y, mo, d)
        return ((days * 86_400 + h * 3600 + mi * 60 + s) - offsetSeconds) * 1_000_000 + frac
    }

    static func parseDateDays(_ t: String) -> Int64? {
        let parts = t.split(separator: "-")
        guard parts.count == 3, let y = Int64(parts[0]), let m = Int64(parts[1]), let d = Int64(parts[2]) else { return nil }
        return daysFromCivil(y, m, d)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func isoUTC(micros: Int64) -> String {
        var days = micros >= 0 ? micros / 86_400_000_000 : (micros - 86_399_999_999) / 86_400_000_000
        let rem = micros - days * 86_400_000_000
        // civil from days
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let doe = days - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        let secs = rem / 1_000_000, us = rem % 1_000_000
        func p(_ v: Int64, _ w: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s }
        return "\(p(y, 4))-\(p(m, 2))-\(p(d, 2))T\(p(secs / 3600, 2)):\(p(secs / 60 % 60, 2)):\(p(secs % 60, 2)).\(p(us, 6))Z"
    }

    /// `\x0a0b` (bytea hex output) → base64.
    static func byteaBase64(_ t: String) -> String? {
        guard t.hasPrefix("\\x") else { return nil }
        let hex = Array(t.utf8.dropFirst(2))
        guard hex.count % 2 == 0 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(hex.count / 2)
        func nib(_ c: UInt8) -> UInt8? {
            switch c { case 48...57: return c - 48; case 97...102: return c - 87; case 65...70: return c - 55; default: return nil }
        }
        var i = 0
        while i < hex.count {
            guard let hi = nib(hex[i]), let lo = nib(hex[i + 1]) else { return nil }
            bytes.append(hi << 4 | lo); i += 2
        }
        return Data(bytes).base64EncodedString()
    }
}
