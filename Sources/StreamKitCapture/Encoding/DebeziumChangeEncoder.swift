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
/// without the rounding); NaN and ±Infinity become the strings `"NaN"`, `"Infinity"`,
/// `"-Infinity"` (as Kafka's JsonConverter writes non-finite doubles), `-0` stays `-0`. Dates and
/// times follow ``TemporalMapping`` (BC, 5+ digit years, ±infinity). A value the mapping cannot
/// represent is a ``CaptureError/Code/unrepresentableValue`` naming the column, never written
/// with another type. A value the log did not carry (``ColumnValue/unchangedToast``) is written
/// as `"__debezium_unavailable_value"` in `before`/`after`, never invented, and never in a key.
public struct DebeziumChangeEncoder {
    public static let unavailableValue = "__debezium_unavailable_value"
    /// The `source.version` field.
    public static let version = "streamkit-0.1"

    public var serverName: String
    public var database: String
    /// The `source.connector` field (`postgresql`, `mysql`).
    public var connector: String
    /// MySQL's `source` shape: `db` is the table's database (the capture core's schema) and
    /// there is no `schema` field. Default: false (PostgreSQL: `db` is ``database``, plus `schema`).
    public var databaseIsSchema = false
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
                                                     source: Source, nowMillis: Int64, transaction: TransactionOrder? = nil) throws -> [UInt8] {
        writer.reset()
        writer.beginObject()
        writer.key("before")
        if let before { try row(table, before) } else { writer.null() }
        writer.key("after")
        if let after { try row(table, after) } else { writer.null() }
        writer.key("source")
        writer.beginObject()
        writer.field("version", Self.version)
        writer.field("connector", connector)
        writer.field("name", serverName)
        writer.field("ts_ms", source.tsMillis)
        writer.field("snapshot", source.snapshot)
        writer.field("db", databaseIsSchema ? table.schema : database)
        if !databaseIsSchema { writer.field("schema", table.schema) }
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

    /// The Kafka key: the key columns of `values` as a JSON object; nil when the table has no key
    /// (Debezium's rule for a table without a primary key and without configured key columns).
    /// A key column the log did not carry (an unchanged TOASTed value) is taken from `fallback`
    /// (the old row, when the log has one); never the placeholder: without a value the key is an
    /// error naming the column.
    public mutating func key(table: CapturedTable, values: [ColumnValue], fallback: [ColumnValue]? = nil) throws -> [UInt8]? {
        guard !table.keyColumns.isEmpty else { return nil }
        writer.reset()
        writer.beginObject()
        for i in table.keyColumns where i < values.count {
            writer.key(table.columns[i].name)
            var v = values[i]
            if case .unchangedToast = v {
                if let fallback, i < fallback.count, fallback[i] != .unchangedToast {
                    v = fallback[i]
                } else {
                    throw CaptureError(.configuration, "key column \(table.qualifiedName).\(table.columns[i].name): the log carries no value for it "
                                       + "(an unchanged TOASTed value and no old row) — set REPLICA IDENTITY FULL on \(table.qualifiedName)")
                }
            }
            try value(v, column: i, of: table)
        }
        writer.endObject()
        return writer.bytes
    }

    mutating func row(_ table: CapturedTable, _ values: [ColumnValue]) throws {
        writer.beginObject()
        for (i, c) in table.columns.enumerated() where !table.excluded[i] {
            writer.key(c.name)
            if table.masked[i] {
                if i < values.count, case .null = values[i] { writer.null() } else { writer.value("***") }
            } else {
                try value(i < values.count ? values[i] : .null, column: i, of: table)
            }
        }
        writer.endObject()
    }

    mutating func value(_ v: ColumnValue, column: Int, of table: CapturedTable) throws {
        switch v {
        case .null: writer.null()
        case .unchangedToast: writer.value(Self.unavailableValue)
        case let .text(t):
            guard typed(t, kind: table.columns[column].kind) else {
                let c = table.columns[column]
                throw CaptureError(.unrepresentableValue, "column \(table.qualifiedName).\(c.name) (\(c.kind.rawValue)): a value the type mapping cannot represent "
                                   + "(\(Self.rule(c.kind))); the capture stops rather than change its type")
            }
        }
    }

    /// What a kind's values must be (for errors).
    static func rule(_ kind: ColumnKind) -> String {
        switch kind {
        case .boolean: "t/f, true/false or 1/0"
        case .integer: "a 64-bit integer"
        case .decimal: "a number, NaN or ±Infinity"
        case .timestamp: "µs since the epoch must fit a signed 64-bit integer below the infinity values"
        case .timestampWithZone: "an ISO date and time with an offset, or ±infinity"
        case .date: "an ISO date or ±infinity"
        case .bytes: "hex bytes (bytea_output hex)"
        case .text: "text"
        }
    }

    /// Writes `t` by the mapping of `kind`; false when the mapping cannot represent it.
    mutating func typed(_ t: String, kind: ColumnKind) -> Bool {
        switch kind {
        case .boolean:
            switch t {
            case "t", "true", "1": writer.value(true)
            case "f", "false", "0": writer.value(false)
            default: return false
            }
        case .integer:
            if let n = Int64(t) { writer.value(n) } else if let n = UInt64(t) { writer.value(n) } else { return false }
        case .decimal:
            if Self.isJSONNumber(t) {
                var t = t
                t.withUTF8 { writer.rawValue(UnsafeRawBufferPointer($0)) }
            } else if t == "NaN" || t == "Infinity" || t == "-Infinity" {
                writer.value(t)   // as Kafka's JsonConverter (Jackson) writes non-finite doubles: strings
            } else {
                return false
            }
        case .timestamp:
            switch TemporalMapping.parseTimestamp(t) {
            case let .finite(days, micros)?:
                guard let us = TemporalMapping.epochMicros(days: days, micros: micros) else { return false }
                writer.value(us)
            case .positiveInfinity?: writer.value(TemporalMapping.positiveInfinityMicros)
            case .negativeInfinity?: writer.value(TemporalMapping.negativeInfinityMicros)
            case nil: return false
            }
        case .timestampWithZone:
            switch TemporalMapping.parseTimestamp(t) {
            case let .finite(days, micros)?:
                TemporalMapping.withISOUTC(days: days, micros: micros) { writer.value(utf8: UnsafeRawBufferPointer($0)) }
            case .positiveInfinity?: writer.value("infinity")
            case .negativeInfinity?: writer.value("-infinity")
            case nil: return false
            }
        case .date:
            switch TemporalMapping.parseDate(t) {
            case let .finite(days, _)?: writer.value(days)
            case .positiveInfinity?: writer.value(TemporalMapping.positiveInfinityDays)
            case .negativeInfinity?: writer.value(TemporalMapping.negativeInfinityDays)
            case nil: return false
            }
        case .bytes:
            guard let b64 = Self.byteaBase64(t) else { return false }
            writer.value(b64)
        case .text:
            writer.value(t)
        }
        return true
    }

    /// A JSON number as the databases print numbers: `-?digits[.digits][e[+-]digits]`.
    static func isJSONNumber(_ t: String) -> Bool {
        var t = t
        return t.withUTF8 { b in
            var i = 0
            let n = b.count
            func digits() -> Bool {
                let start = i
                while i < n, b[i] &- 48 < 10 { i += 1 }
                return i > start
            }
            if i < n, b[i] == 45 { i += 1 }
            guard digits() else { return false }
            if i < n, b[i] == 46 { i += 1; guard digits() else { return false } }
            if i < n, b[i] == 101 || b[i] == 69 {
                i += 1
                if i < n, b[i] == 43 || b[i] == 45 { i += 1 }
                guard digits() else { return false }
            }
            return i == n
        }
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
