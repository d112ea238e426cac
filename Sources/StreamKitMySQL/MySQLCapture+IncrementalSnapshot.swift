import Foundation
import StreamKit
import StreamKitJSON
import StreamKitCapture

/// Incremental snapshots (DBLog) on the capture core: chunks read between watermarks written to
/// the signal table and seen again in the binlog, `execute-snapshot` signals, and tables added to
/// the configured tables between runs. The core's ``ChangeStream`` owns the window (a change
/// streamed between the markers replaces the chunk's row) and the durable progress.
///
/// Why the binlog order is the right one: a marker `INSERT` returns after its commit, and MariaDB
/// commits in binlog order (`binlog_order_commits`), so every transaction before the open marker
/// in the binlog is visible to the chunk's `SELECT` (its own autocommit read view); a transaction
/// the `SELECT` saw committed before the close marker was written, so it is before the close
/// marker in the binlog.
extension MySQLCapture {
    /// Asks a running capture to snapshot `tables` (`db.table`) again while it keeps streaming:
    /// inserts an `execute-snapshot` row (Debezium's signal format) into `signalTable`, named as
    /// the capture's ``MySQLCaptureConfiguration/signalTable`` is (`db.table`, or `table` in the
    /// connection's database). Returns the signal's id.
    public static func requestSnapshot(of tables: [String], on sql: MySQLConnection, signalTable: String = "streamkit_signal") throws -> String {
        var w = JSONWriter()
        w.beginObject()
        w.key("data-collections")
        w.beginArray()
        for t in tables { w.value(t) }
        w.endArray()
        w.field("type", "incremental")
        w.endObject()
        let id = "snapshot-" + UUID().uuidString.lowercased()
        try sql.execute("INSERT INTO \(quotedSignalTable(signalTable, database: sql.dsn.database)) (id, type, data) VALUES "
                        + "(\(sql.quoteLiteral(id)), 'execute-snapshot', \(sql.quoteLiteral(String(decoding: w.bytes, as: UTF8.self))))")
        return id
    }

    static func quotedSignalTable(_ name: String, database: String) -> String {
        let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
        let (db, table) = parts.count == 2 ? (parts[0], parts[1]) : (database, parts[0])
        return MySQLConnection.quoteIdentifier(db) + "." + MySQLConnection.quoteIdentifier(table)
    }

    /// The signal table as `db`.`table` when signals are on.
    var signalTableName: String? {
        guard signalsEnabled, let s = configuration.signalTable else { return nil }
        return Self.quotedSignalTable(s, database: configuration.dsn.database)
    }

    /// Whether `db.table` is the signal table (never captured as data).
    func isSignalTable(database: String, table: String) -> Bool {
        guard let s = configuration.signalTable else { return false }
        return configuration.qualified(s) == (database, table)
    }

    /// Creates the signal table when missing. Without the privilege for that the capture runs on,
    /// without signals and incremental snapshots.
    func ensureSignalTable(_ sql: MySQLConnection) {
        signalsEnabled = false
        guard let s = configuration.signalTable else { return }
        let q = configuration.qualified(s)
        do {
            let exists = try !sql.query("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = \(sql.quoteLiteral(q.schema)) "
                                        + "AND TABLE_NAME = \(sql.quoteLiteral(q.name))").isEmpty
            if !exists {
                try sql.execute("CREATE TABLE IF NOT EXISTS \(Self.quotedSignalTable(s, database: configuration.dsn.database)) "
                                + "(id VARCHAR(64) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048)) ENGINE=InnoDB")
            }
            signalsEnabled = true
        } catch where !error.isRetriableCaptureFailure {
            logger.warning("cannot set up the signal table: running without signals and incremental snapshots",
                           metadata: [LogMetadataKey.signalTable: "\(s)", LogMetadataKey.error: "\(error.captureMessage)"])
        } catch {
            logger.warning("cannot check the signal table", metadata: [LogMetadataKey.error: "\(error.captureMessage)"])
        }
    }

    /// Tables configured since the last run (the state file records the list): snapshotted
    /// incrementally while streaming goes on. Durable at once, as the recorded list is.
    func addNewTables() throws {
        let now = configuration.tables.map { list in list.map { t in let q = configuration.qualified(t); return q.schema + "." + q.name } }
        guard let recorded = state.tables, let now else {
            if state.tables != now { state.tables = now; try state.save(configuration.stateFile) }
            return
        }
        let added = now.filter { !recorded.contains($0) }
        if !added.isEmpty {
            if configuration.snapshot == .initial && signalsEnabled {
                for t in added { stream.incremental.enqueue(t) }
                stream.durableIncremental = stream.incremental
                state.incremental = stream.durableIncremental
                metrics.incrementalTablesPending.store(stream.incremental.pending, ordering: .relaxed)
                logger.info("tables added: snapshotting them while streaming continues", metadata: [LogMetadataKey.tables: "\(added.joined(separator: ", "))"])
            } else {
                logger.warning("tables added without a snapshot (--snapshot never or no signal table)",
                               metadata: [LogMetadataKey.tables: "\(added.joined(separator: ", "))"])
            }
        }
        if now != recorded { state.tables = now; try state.save(configuration.stateFile) }
    }

    /// Reads the next chunk of the table being snapshotted between two markers written to the
    /// signal table: the open marker, the chunk's SELECT, the close marker.
    func openWindow() throws {
        guard let signal = signalTableName, let sql else { return }
        if stream.incremental.current == nil { stream.incrementalChanged = true }
        guard let current = stream.incremental.startNext() else { return }
        let q = configuration.qualified(current)
        var reader = MySQLSnapshotReader(sql: sql, decimalHandling: configuration.decimalHandling)
        guard let loaded = try reader.table(schema: q.schema, name: q.name), !loaded.keyColumns.isEmpty else {
            logger.warning("incremental snapshot skipped: the table is missing or has no primary key", metadata: [LogMetadataKey.table: "\(current)"])
            stream.incremental.finishCurrent(); stream.incrementalChanged = true
            return
        }
        // Chunks are read in primary-key order (`loaded`); events are keyed by the Kafka key (`table`).
        let table = try prepared(loaded)
        let chunk = stream.incremental.chunks + 1
        let base = "\(configuration.serverID)-\(chunk)-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        func marker(_ id: String, _ type: String) throws {
            try sql.execute("INSERT INTO \(signal) (id, type, data) VALUES (\(sql.quoteLiteral(id)), '\(type)', \(sql.quoteLiteral(current)))")
        }
        do {
            try marker(base + "-open", "snapshot-window-open")
        } catch let error as CaptureError where !error.isRetriable {
            // No INSERT privilege on the signal table (or a read-only server): the queue stays durable for a later run.
            signalsEnabled = false
            stream.incremental = stream.durableIncremental; stream.incrementalChanged = false
            logger.warning("cannot write snapshot-window markers to the signal table: incremental snapshots paused (grant INSERT, DELETE on it)",
                           metadata: [LogMetadataKey.signalTable: "\(signal)", LogMetadataKey.error: "\(error.captureMessage)"])
            return
        }
        let rows = try reader.chunk(of: loaded, after: stream.incremental.lastKey, limit: configuration.incrementalChunkSize)
        if let hook = afterChunkRead, let first = reader.firstKey { try hook(current, first) }
        try marker(base + "-close", "snapshot-window-close")
        var w = SnapshotWindow(openID: base + "-open", closeID: base + "-close", table: table,
                               topic: "\(configuration.topicPrefix).\(q.schema).\(q.name)",
                               lastKey: reader.lastKey ?? stream.incremental.lastKey,
                               complete: rows.count < configuration.incrementalChunkSize)
        w.rows.reserveCapacity(rows.count)
        for values in rows {
            guard let key = try encoder.key(table: table, values: values) else { continue }
            w.add(key: key, row: values)
        }
        stream.window = w
    }

    /// Deletes the markers of closed windows (their binlog deletes are not signals).
    func deleteMarkers() throws {
        guard stream.window == nil, !stream.markersToDelete.isEmpty, let signal = signalTableName, let sql else { return }
        let ids = stream.markersToDelete.map { sql.quoteLiteral($0) }.joined(separator: ", ")
        try sql.execute("DELETE FROM \(signal) WHERE id IN (\(ids))")
        stream.markersToDelete.removeAll()
    }

    /// Rows inserted into the signal table: `execute-snapshot` requests and window markers.
    func signalRows(_ rows: BinlogRows, _ decoder: MySQLRowDecoder, columns: (id: Int, type: Int, data: Int), _ header: BinlogEventHeader) throws {
        guard rows.kind == .write, stream.inTransaction else { return }
        var r = BinlogBytes(rows.data)
        var index = 0
        while r.remaining > 0 {
            let values = try decoder.row(&r, present: rows.present)
            func text(_ i: Int) -> String? { if i < values.count, case let .text(t) = values[i] { return t }; return nil }
            let reads = MySQLSourceFields(tsMillis: WallClock.millis(), snapshot: "incremental", serverID: header.serverID,
                                          gtid: currentGTID?.description, file: file, position: header.position, row: index)
            try stream.signal(id: text(columns.id), type: text(columns.type), data: text(columns.data), readSource: reads, producer: producer)
            index += 1
        }
    }
}
