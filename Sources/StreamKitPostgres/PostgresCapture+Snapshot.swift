import Foundation
import StreamKit
import StreamKitCapture

/// The PostgreSQL snapshot reader: the initial snapshot, read in the slot's exported snapshot.
extension PostgresCapture {
    func snapshot(_ sql: PostgresConnection, exportedSnapshot: String, consistentPoint: UInt64) throws {
        try sql.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        defer { _ = try? sql.execute("COMMIT") }
        try sql.execute("SET TRANSACTION SNAPSHOT \(sql.quoteLiteral(exportedSnapshot))")
        let tables = try sql.execute("""
            SELECT c.oid, n.nspname, c.relname FROM pg_publication_tables p
            JOIN pg_namespace n ON n.nspname = p.schemaname JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename
            WHERE p.pubname = $1 ORDER BY n.nspname, c.relname
            """, [configuration.publication])
        logger.info("snapshot starting", metadata: [LogMetadataKey.tables: "\(tables.rows.count)"])
        let nowMillis = WallClock.millis()
        var held: (topic: String, key: [UInt8]?, table: CapturedTable, row: [ColumnValue])? = nil
        func emit(last: Bool) throws {
            guard let h = held else { return }
            let source = PostgresSourceFields(lsn: consistentPoint, lastCommitLSN: nil, txID: nil, tsMillis: nowMillis, snapshot: last ? "last" : "true")
            let value = try encoder.value(op: UInt8(ascii: "r"), table: h.table, before: nil, after: h.row, source: source, nowMillis: WallClock.millis())
            try producer.send(topic: h.topic, key: h.key, value: value)
            metrics.snapshotRows.add(1, ordering: .relaxed)
            held = nil
        }
        let signal = configuration.signalTable.map(PostgresCatalog.qualified)
        for t in tables.rows {
            if let signal, signal.schema == t[1] && signal.name == t[2] { continue }
            guard let oid = t[0], let schema = t[1], let name = t[2],
                  var table = try PostgresCatalog.loadTable(sql, oid: oid, schema: schema, name: name, version: 0)?.table else { continue }
            table = try keyed(table)
            let columns = table.columns
            table.version = try registerSchema(schema: schema, name: name, columns: columns, keys: table.keyColumns)
            table = filtered(table)
            let topic = "\(configuration.topicPrefix).\(schema).\(name)"
            let cursor = "streamkit_snapshot"
            let list = columns.map { sql.quoteIdentifier($0.name) }.joined(separator: ", ")
            try sql.execute("DECLARE \(cursor) NO SCROLL CURSOR FOR SELECT \(list) FROM \(sql.quoteIdentifier(schema)).\(sql.quoteIdentifier(name))")
            while true {
                let batch = try sql.execute("FETCH \(configuration.snapshotFetchSize) FROM \(cursor)")
                if batch.rows.isEmpty { break }
                for r in batch.rows {
                    try emit(last: false)
                    let values = r.map { $0.map(ColumnValue.text) ?? .null }
                    held = (topic, try encoder.key(table: table, values: values), table, values)
                }
                producer.poll()
            }
            try sql.execute("CLOSE \(cursor)")
        }
        try emit(last: true)
        try producer.flush(timeout: .seconds(120))
        if producer.failed > 0 {
            throw CaptureError(.delivery, "snapshot: \(producer.failed) events were not delivered to Kafka — check the brokers; a restart snapshots again")
        }
        _ = producer.takeTaggedDeliveries()
        metrics.report(to: reporter)
        logger.info("snapshot done", metadata: [LogMetadataKey.count: "\(metrics.snapshotRows.load(ordering: .relaxed))"])
    }
}
