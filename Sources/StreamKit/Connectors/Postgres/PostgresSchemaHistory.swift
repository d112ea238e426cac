import Foundation

/// One version of a captured table's column list.
public struct TableSchemaVersion: Sendable, Equatable {
    public struct Column: Sendable, Equatable {
        public var name: String
        public var typeOID: UInt32
        public var typeModifier: Int32
        public var key: Bool
        public init(name: String, typeOID: UInt32, typeModifier: Int32, key: Bool) {
            self.name = name; self.typeOID = typeOID; self.typeModifier = typeModifier; self.key = key
        }
    }
    public var schema: String
    public var table: String
    public var version: Int
    public var columns: [Column]
    /// The LSN of the first change with this version (0 for versions seen in a snapshot).
    public var lsn: UInt64
    public var tsMillis: Int64

    public init(schema: String, table: String, version: Int, columns: [Column], lsn: UInt64, tsMillis: Int64) {
        self.schema = schema; self.table = table; self.version = version; self.columns = columns; self.lsn = lsn; self.tsMillis = tsMillis
    }

    /// `{"schema":…,"table":…,"version":…,"lsn":…,"ts_ms":…,"columns":[{"name":…,"type_oid":…,"type_modifier":…,"key":…}]}`
    public func json() -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.field("schema", schema); w.field("table", table); w.field("version", version)
        w.key("lsn"); w.value(lsn)
        w.field("ts_ms", tsMillis)
        w.key("columns"); w.beginArray()
        for c in columns {
            w.beginObject()
            w.field("name", c.name); w.key("type_oid"); w.value(UInt64(c.typeOID)); w.field("type_modifier", Int64(c.typeModifier)); w.field("key", c.key)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.bytes
    }

    /// Parses ``json()`` output (cold path: schema changes and start-up only).
    public static func parse(_ bytes: [UInt8]) -> TableSchemaVersion? {
        guard let o = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let schema = o["schema"] as? String, let table = o["table"] as? String, let version = o["version"] as? Int,
              let cols = o["columns"] as? [[String: Any]] else { return nil }
        let columns = cols.compactMap { c -> Column? in
            guard let n = c["name"] as? String, let t = c["type_oid"] as? NSNumber else { return nil }
            return Column(name: n, typeOID: t.uint32Value, typeModifier: (c["type_modifier"] as? NSNumber)?.int32Value ?? -1,
                          key: c["key"] as? Bool ?? false)
        }
        return TableSchemaVersion(schema: schema, table: table, version: version, columns: columns,
                                  lsn: (o["lsn"] as? NSNumber)?.uint64Value ?? 0, tsMillis: (o["ts_ms"] as? NSNumber)?.int64Value ?? 0)
    }
}

/// The schema registry of a capture: every version of every captured table's column list, kept in
/// the Kafka topic `<prefix>.__schemas` (key `schema.table`, one record per version; compact it
/// or keep it forever). Change events carry their version in `source.streamkit_schema_version`,
/// so a consumer decodes an event with the version it names. The capture reads the topic when it
/// starts, so versions keep counting across restarts.
public struct PostgresSchemaHistory: Sendable {
    public static func topic(prefix: String) -> String { prefix + ".__schemas" }

    /// Every version in the registry topic, in publication order (empty if the topic does not exist).
    public static func read(prefix: String, kafka: KafkaConfiguration) throws -> [TableSchemaVersion] {
        let admin = try KafkaAdmin(configuration: kafka)
        guard try admin.describe(topic: topic(prefix: prefix)) != nil else { return [] }
        // One partition: offset order is publication order.
        return try KafkaTopicReader.readAll(topic: topic(prefix: prefix), configuration: kafka)
            .compactMap { $0.value.flatMap(TableSchemaVersion.parse) }
    }
}
