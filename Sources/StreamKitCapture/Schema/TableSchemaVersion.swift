import Foundation
import StreamKitJSON

/// One version of a captured table's column list.
public struct TableSchemaVersion: Sendable, Equatable {
    public var schema: String
    public var table: String
    public var version: Int
    /// The columns; `isKey`: part of the Kafka key (primary key, else replica identity).
    public var columns: [CaptureColumn]
    /// The log position (PostgreSQL: the LSN) of the first change with this version (0 for
    /// versions seen in a snapshot).
    public var lsn: UInt64
    public var tsMillis: Int64

    public init(schema: String, table: String, version: Int, columns: [CaptureColumn], lsn: UInt64, tsMillis: Int64) {
        self.schema = schema; self.table = table; self.version = version; self.columns = columns; self.lsn = lsn; self.tsMillis = tsMillis
    }

    /// `{"schema":…,"table":…,"version":…,"lsn":…,"ts_ms":…,"columns":[{"name":…,"type_oid":…,"type_modifier":…,"kind":…,"key":…}]}`
    /// (`type_oid` is the database's type id; the name is kept for the records already written).
    public func json() -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.field("schema", schema); w.field("table", table); w.field("version", version)
        w.key("lsn"); w.value(lsn)
        w.field("ts_ms", tsMillis)
        w.key("columns"); w.beginArray()
        for c in columns {
            w.beginObject()
            w.field("name", c.name); w.key("type_oid"); w.value(UInt64(c.typeID)); w.field("type_modifier", Int64(c.typeModifier))
            w.field("kind", c.kind.rawValue); w.field("key", c.isKey)
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
        let columns = cols.compactMap { c -> CaptureColumn? in
            guard let n = c["name"] as? String, let t = c["type_oid"] as? NSNumber else { return nil }
            return CaptureColumn(name: n, typeID: t.uint32Value, typeModifier: (c["type_modifier"] as? NSNumber)?.int32Value ?? -1,
                                 kind: (c["kind"] as? String).flatMap(ColumnKind.init(rawValue:)) ?? .text,
                                 isKey: c["key"] as? Bool ?? false)
        }
        return TableSchemaVersion(schema: schema, table: table, version: version, columns: columns,
                                  lsn: (o["lsn"] as? NSNumber)?.uint64Value ?? 0, tsMillis: (o["ts_ms"] as? NSNumber)?.int64Value ?? 0)
    }
}
