import Foundation
import Synchronization
import StreamKit
import StreamKitKafka
import StreamKitCapture
import Glibc

/// Catalog queries and small helpers shared by the PostgreSQL captures (``PostgresCapture``,
/// ``TriggerCapture``, ``PollingCapture``).
enum PostgresCatalog {
    /// `schema.table` or `table` (schema `public`).
    static func qualified(_ table: String) -> (schema: String, name: String) {
        let parts = table.split(separator: ".", maxSplits: 1).map(String.init)
        return parts.count == 2 ? (parts[0], parts[1]) : ("public", parts[0])
    }

    static func quotedName(_ sql: PostgresConnection, _ schema: String, _ name: String) -> String {
        sql.quoteIdentifier(schema) + "." + sql.quoteIdentifier(name)
    }

    /// The key of a table: its primary key columns, else its replica identity index's, by name.
    static func keyColumnNames(_ sql: PostgresConnection, oid: String) throws -> [String] {
        let keys = try sql.execute("""
            SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = $1::oid AND (i.indisprimary OR i.indisreplident)
            ORDER BY i.indisprimary DESC, array_position(i.indkey, a.attnum)
            """, [oid])
        var seen = Set<String>(), names: [String] = []
        for r in keys.rows { if let n = r[0], seen.insert(n).inserted { names.append(n) } }
        return names
    }

    /// A table's columns (with type OIDs, as pgoutput's Relation message has them), its key (the
    /// primary key, else the replica identity index) and each column's SQL type name
    /// (`format_type`, for casts). nil: no such table.
    static func loadTable(_ sql: PostgresConnection, schema: String, name: String, version: Int)
        throws -> (table: CapturedTable, typeNames: [String])?
    {
        guard let oid = try sql.execute("SELECT to_regclass($1)::oid", [quotedName(sql, schema, name)]).rows.first?.first ?? nil else { return nil }
        return try loadTable(sql, oid: oid, schema: schema, name: name, version: version)
    }

    /// ``loadTable(_:schema:name:version:)`` for a table known by its OID.
    static func loadTable(_ sql: PostgresConnection, oid: String, schema: String, name: String, version: Int)
        throws -> (table: CapturedTable, typeNames: [String])?
    {
        let cols = try sql.execute("""
            SELECT attname, atttypid, atttypmod, format_type(atttypid, atttypmod) FROM pg_attribute
            WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum
            """, [oid])
        guard !cols.rows.isEmpty else { return nil }
        let keyNames = try keyColumnNames(sql, oid: oid)
        let columns = cols.rows.map {
            PgOutput.Column(name: $0[0] ?? "", typeOID: UInt32($0[1] ?? "0") ?? 0, typeModifier: Int32($0[2] ?? "-1") ?? -1,
                            isKey: keyNames.contains($0[0] ?? "")).captureColumn
        }
        let table = CapturedTable(schema: schema, name: name, columns: columns,
                                  keyColumns: keyNames.compactMap { k in columns.firstIndex { $0.name == k } }, version: version)
        return (table, cols.rows.map { $0[3] ?? "text" })
    }

    /// Waits until Kafka acknowledged everything sent; on a failed delivery (flush throws) counts
    /// the failures in `errors` (at least one) and rethrows.
    static func flush(_ producer: KafkaProducer, timeout: Duration, errors: borrowing Atomic<Int>) throws {
        let failedBefore = producer.failed
        do {
            try producer.flush(timeout: timeout)
        } catch {
            errors.add(max(1, producer.failed - failedBefore), ordering: .relaxed)
            throw error
        }
    }

    /// Sleeps up to `duration` in short steps, returning early when `stop` becomes true.
    static func sleep(_ duration: Duration, until stop: () -> Bool) {
        var left = duration.milliseconds
        while left > 0 && !stop() {
            let step = min(left, 50)
            usleep(UInt32(step) * 1000)
            left -= step
        }
    }

    /// `{1,2,3}`: a bigint[] parameter.
    static func arrayLiteral(_ ids: [Int64]) -> String {
        "{" + ids.map(String.init).joined(separator: ",") + "}"
    }
}
