import Foundation
import StreamKit
import StreamKitJSON
import StreamKitCapture

/// Incremental snapshots (DBLog): chunks read between watermarks written to the signal table,
/// signals (`execute-snapshot`) and tables added to the capture between runs.
extension PostgresCapture {
    /// Asks a running capture to snapshot `tables` again while it keeps streaming: inserts an
    /// `execute-snapshot` row (Debezium's signal format) into `signalTable`, named as the
    /// capture's ``PostgresCaptureConfiguration/signalTable`` is (`schema.table`, or `table` in
    /// `public`). Returns the signal's id.
    public static func requestSnapshot(of tables: [String], on sql: PostgresConnection,
                                       signalTable: String = "public.streamkit_signal") throws -> String {
        var w = JSONWriter()
        w.beginObject()
        w.key("data-collections")
        w.beginArray()
        for t in tables { w.value(t) }
        w.endArray()
        w.field("type", "incremental")
        w.endObject()
        let id = "snapshot-" + UUID().uuidString.lowercased()
        let q = PostgresCatalog.qualified(signalTable)
        try sql.execute("INSERT INTO \(PostgresCatalog.quotedName(sql, q.schema, q.name)) (id, type, data) VALUES ($1, 'execute-snapshot', $2)",
                        [id, String(decoding: w.bytes, as: UTF8.self)])
        return id
    }

    var signalTableName: String? {
        guard signalsEnabled, let s = configuration.signalTable else { return nil }
        let q = PostgresCatalog.qualified(s)
        return PostgresCatalog.quotedName(sql, q.schema, q.name)
    }

    func publicationIncludes(_ sql: PostgresConnection, _ schema: String, _ name: String) throws -> Bool {
        try sql.execute("SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3",
                        [configuration.publication, schema, name]).rows.count == 1
    }

    func allTablesPublication(_ sql: PostgresConnection) throws -> Bool {
        try sql.execute("SELECT puballtables FROM pg_publication WHERE pubname = $1", [configuration.publication]).rows.first?.first == "t"
    }

    /// Creates the signal table when missing and adds it to the publication. Without the
    /// privileges for that the capture runs on, without signals and incremental snapshots.
    func ensureSignalTable(_ sql: PostgresConnection) throws {
        signalsEnabled = configuration.signalTable != nil
        do { try setUpSignalTable(sql) } catch where !error.isRetriableCaptureFailure {
            signalsEnabled = false
            logger.warning("cannot set up the signal table: running without signals and incremental snapshots",
                           metadata: [LogMetadataKey.signalTable: "\(configuration.signalTable ?? "")", LogMetadataKey.error: "\(error.captureMessage)"])
        }
    }

    func setUpSignalTable(_ sql: PostgresConnection) throws {
        guard let s = configuration.signalTable, let name = signalTableName else { return }
        let q = PostgresCatalog.qualified(s)
        let exists = { ((try sql.execute("SELECT to_regclass($1)::text", [name]).rows.first?.first) ?? nil) != nil }
        if try !exists() {
            do {
                try sql.execute("CREATE TABLE IF NOT EXISTS \(name) (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))")
            } catch {
                if try !exists() { throw error }   // else another capture created it at the same time
            }
        }
        if try !allTablesPublication(sql), try !publicationIncludes(sql, q.schema, q.name) {
            try sql.execute("ALTER PUBLICATION \(sql.quoteIdentifier(configuration.publication)) ADD TABLE \(name)")
        }
    }

    /// Tables in `tables` that the publication does not have yet (added since the last run): added
    /// to the publication, then snapshotted incrementally while streaming goes on.
    func addNewTables(_ sql: PostgresConnection) throws {
        guard let tables = configuration.tables, try !allTablesPublication(sql) else { return }
        var added: [String] = []
        for t in tables {
            let q = PostgresCatalog.qualified(t)
            if try publicationIncludes(sql, q.schema, q.name) { continue }
            try sql.execute("ALTER PUBLICATION \(sql.quoteIdentifier(configuration.publication)) ADD TABLE \(PostgresCatalog.quotedName(sql, q.schema, q.name))")
            added.append(q.schema + "." + q.name)
        }
        guard !added.isEmpty, state.snapshotDone, configuration.snapshot == .initial else { return }
        guard signalsEnabled else {
            logger.warning("tables added to the publication without a snapshot (no signal table)", metadata: [LogMetadataKey.tables: "\(added.joined(separator: ", "))"])
            return
        }
        // Durable at once: once in the publication, a restart would not see them as new.
        // A session starts with the live progress equal to the durable one (run start, or quiesce()).
        for t in added { stream.incremental.enqueue(t) }
        stream.durableIncremental = stream.incremental
        state.incremental = stream.durableIncremental
        try state.save(configuration.stateFile)
        metrics.incrementalTablesPending.store(stream.incremental.pending, ordering: .relaxed)
        logger.info("tables added: snapshotting them while streaming continues", metadata: [LogMetadataKey.tables: "\(added.joined(separator: ", "))"])
    }

    /// Reads the next chunk of the table being snapshotted between two markers written to the
    /// signal table: the open marker, the chunk's SELECT, the close marker.
    func openWindow() throws {
        guard let signal = signalTableName else { return }
        if stream.incremental.current == nil { stream.incrementalChanged = true }
        guard let current = stream.incremental.startNext() else { return }
        let q = PostgresCatalog.qualified(current)
        var reader = PostgresSnapshotReader(sql: sql)
        guard let loaded = try reader.table(schema: q.schema, name: q.name), !loaded.keyColumns.isEmpty else {
            logger.warning("incremental snapshot skipped: the table is missing or has no primary key", metadata: [LogMetadataKey.table: "\(current)"])
            stream.incremental.finishCurrent(); stream.incrementalChanged = true
            return
        }
        // Chunks are read in primary-key order (`loaded`); events are keyed by the Kafka key (`table`).
        var table = try keyed(loaded)
        table.version = try registerSchema(schema: q.schema, name: q.name, columns: table.columns, keys: table.keyColumns)
        table = filtered(table)
        var chunkTable = loaded
        chunkTable.version = table.version
        let chunk = stream.incremental.chunks + 1
        let base = "\(configuration.slot)-\(chunk)-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        // The open marker, the chunk's read, the close marker: a change streamed between the two
        // markers is newer than the read and replaces its row (DBLog).
        try sql.execute("INSERT INTO \(signal) (id, type, data) VALUES ($1, 'snapshot-window-open', $2)", [base + "-open", current])
        let rows = try reader.chunk(of: chunkTable, after: stream.incremental.lastKey, limit: configuration.incrementalChunkSize)
        func text(_ v: ColumnValue) -> String? { if case let .text(t) = v { return t }; return nil }
        if let hook = afterChunkRead, let first = rows.first { try hook(current, chunkTable.keyColumns.map { text(first[$0]) }) }
        try sql.execute("INSERT INTO \(signal) (id, type, data) VALUES ($1, 'snapshot-window-close', $2)", [base + "-close", current])
        var w = SnapshotWindow(openID: base + "-open", closeID: base + "-close", table: table,
                               topic: "\(configuration.topicPrefix).\(q.schema).\(q.name)",
                               lastKey: rows.last.map { r in chunkTable.keyColumns.map { text(r[$0]) } } ?? stream.incremental.lastKey,
                               complete: rows.count < configuration.incrementalChunkSize)
        w.rows.reserveCapacity(rows.count)
        for values in rows {
            guard let key = try encoder.key(table: table, values: values) else { continue }
            w.add(key: key, row: values)
        }
        stream.window = w
    }
}
