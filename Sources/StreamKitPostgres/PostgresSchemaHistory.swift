import Foundation
public import StreamKit
public import StreamKitJSON
public import StreamKitKafka

/// One version of a captured table's column list.
public struct TableSchemaVersion: Sendable, Equatable {
    public var schema: String
    public var table: String
    public var version: Int
    /// The columns; `isKey`: part of the Kafka key (primary key, else replica identity).
    public var columns: [PgOutput.Column]
    /// The LSN of the first change with this version (0 for versions seen in a snapshot).
    public var lsn: UInt64
    public var tsMillis: Int64

    public init(schema: String, table: String, version: Int, columns: [PgOutput.Column], lsn: UInt64, tsMillis: Int64) {
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
            w.field("name", c.name); w.key("type_oid"); w.value(UInt64(c.typeOID)); w.field("type_modifier", Int64(c.typeModifier)); w.field("key", c.isKey)
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
        let columns = cols.compactMap { c -> PgOutput.Column? in
            guard let n = c["name"] as? String, let t = c["type_oid"] as? NSNumber else { return nil }
            return PgOutput.Column(name: n, typeOID: t.uint32Value, typeModifier: (c["type_modifier"] as? NSNumber)?.int32Value ?? -1,
                                   isKey: c["key"] as? Bool ?? false)
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
