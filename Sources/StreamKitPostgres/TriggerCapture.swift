import Foundation
public import StreamKit
public import StreamKitCapture
public import Logging
public import StreamKitKafka

/// Settings of a trigger-based PostgreSQL capture (for databases where logical replication is not allowed).
public struct TriggerCaptureConfiguration: Sendable {
    /// libpq connection string or URL (`postgresql://user@host:port/db`).
    public var dsn: String
    /// Tables to capture (`schema.table` or `table` for `public`). Each gets the capture triggers.
    public var tables: [String]
    /// Topic prefix and Debezium `source.name`: changes of `schema.table` go to `<prefix>.<schema>.<table>`.
    public var topicPrefix: String
    /// The change-log table the triggers write to (`schema.table` or `table`). Default: `public.streamkit_change_log`.
    /// Several captures may share it: each reads and deletes only the rows of its own tables.
    public var changeLog = "public.streamkit_change_log"
    /// Create the change log, the trigger function and the triggers (idempotently) when ``TriggerCapture/run(until:)`` starts. Default: true.
    public var installOnStart = true
    /// Send a tombstone (null value, same key) after each delete. Default: true.
    public var tombstonesOnDelete = true
    /// Change-log rows published per batch (one Kafka flush and one delete per batch). Default: 1 000.
    public var batchSize = 1_000
    /// How long to wait before reading again when the change log had nothing to publish. Default: 200 ms.
    public var pollInterval: Duration = .milliseconds(200)
    /// How long to wait for Kafka to acknowledge a batch. Default: 60 s.
    public var flushTimeout: Duration = .seconds(60)
    /// Consecutive failed reconnects to PostgreSQL before the capture gives up (the wait doubles
    /// from 0.5 s to 10 s; a session that published anything or ran a minute starts the count again).
    public var reconnectAttempts = 60
    /// Debezium's `message.key.columns` (see ``PostgresCaptureConfiguration/messageKeyColumns``):
    /// the log-based capture's key rule — a table without a primary key and without an entry
    /// here has a null key and its updates are `u` events. Default: none.
    public var messageKeyColumns = MessageKeyColumns()

    public init(dsn: String, tables: [String], topicPrefix: String) {
        self.dsn = dsn; self.tables = tables; self.topicPrefix = topicPrefix
    }
}

/// Trigger-based capture of PostgreSQL changes into Kafka, for databases where logical
/// replication (`wal_level=logical`, replication slots) is not available.
///
/// ``install()`` creates a change-log table, a PL/pgSQL trigger function and, on every captured
/// table, an `AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW` trigger plus an
/// `AFTER TRUNCATE ... FOR EACH STATEMENT` trigger. Each row change is written to the log in the
/// writing transaction as `to_json(OLD)` / `to_json(NEW)`, so it commits or rolls back with it.
/// The log keeps them as `json`, not `jsonb`: `jsonb` would rewrite `json` columns (key order,
/// `1.5e300` → all its digits) and turn a float's `-0` into `0`. A change log created by an
/// earlier version with `jsonb` columns keeps working, with that loss (a warning says so).
/// ``run(until:)`` reads the log in id order, publishes every row as the same Debezium envelope
/// as ``PostgresCapture`` (topic `<prefix>.<schema>.<table>`, key = primary key — null for a table
/// without one, whose updates are `u` events — or the configured message key columns, tombstone after
/// a delete, `source.connector` `postgresql`, `source.snapshot` `false`, `op` c/u/d/t), waits
/// until Kafka acknowledged the whole batch, and only then deletes the published log rows.
///
/// ```swift
/// var c = TriggerCaptureConfiguration(dsn: dsn, tables: ["orders"], topicPrefix: "cdc")
/// let capture = TriggerCapture(configuration: c, kafka: KafkaConfiguration(bootstrapServers: brokers))
/// Thread { try? capture.run(until: { stopped.load(ordering: .relaxed) }) }.start()
/// ```
///
/// **Guarantees.** At least once, nothing lost: a crash re-publishes at most the batch that was
/// sent but not yet deleted. Per key, events are in commit order (two transactions changing the
/// same row are serialised by its row lock, so the later one also gets the higher log id).
///
/// **Ids are not commit order.** A `bigserial` id is taken when the trigger fires, not at
/// commit: a long transaction can insert id 5, a short one id 6 and commit first. A reader that
/// kept a cursor (`id > last`) would skip id 5 for ever, and a blind `DELETE ... WHERE id <= last`
/// would delete it unpublished if it commits between the read and the delete. This capture keeps
/// no cursor: every read takes the *visible* (committed) rows of its tables in id order, and the
/// delete removes exactly the ids it published (`id = ANY($ids)`). A row committed later with a
/// lower id is simply read by the next batch. (The alternative rule — read only rows whose
/// `txid < txid_snapshot_xmin(txid_current_snapshot())` — is also safe but stalls the whole
/// capture behind any long transaction in the cluster.)
///
/// **Values.** The logged JSON is turned back into the table's row type in SQL
/// (`json_populate_record(NULL::table, before/after)`), so every column arrives in the
/// PostgreSQL text form with its real type OID and is typed by ``DebeziumChangeEncoder`` exactly
/// like the log-based capture (numeric digits, timestamps, booleans, ...), without JSON parsing in
/// Swift. Unlike the log-based capture with the default replica identity, `before` of updates and
/// deletes is the full old row. If a table's columns change while log rows are pending, those rows
/// are read with the current columns (a dropped column disappears, a new one is null). Rows of a
/// table dropped while they were pending cannot be typed or keyed: they are discarded with a warning.
///
/// **Other differences.** `source.ts_ms` is the writing transaction's start time (`now()` in the
/// trigger; the commit time is not visible to a trigger), `source.txId` is the 32-bit xid, and
/// `source.lsn` carries the change-log id (there is no WAL position). The triggers cost one extra
/// insert per changed row inside the writing transaction.
///
/// ``run(until:)`` blocks: call it on a dedicated thread.
public final class TriggerCapture: ChangeCapture, @unchecked Sendable {
    // @unchecked: all mutable state is used only by the thread running `run(until:)` or `install()`.
    public let configuration: TriggerCaptureConfiguration
    public let kafka: KafkaConfiguration
    public let metrics: FallbackCaptureMetrics
    /// Where warnings and progress go (metadata: the source name). Connection strings are logged without passwords.
    public let logger: Logger
    public let lifecycle = CaptureLifecycle()
    let reporter: CaptureMetricsReporter

    private var tables: [String: (table: CapturedTable, topic: String)] = [:]
    private var encoder: DebeziumChangeEncoder!

    public init(configuration: TriggerCaptureConfiguration, kafka: KafkaConfiguration, metrics: FallbackCaptureMetrics = FallbackCaptureMetrics(),
                logger: Logger = .disabled) {
        self.configuration = configuration; self.kafka = kafka; self.metrics = metrics
        var logger = logger
        logger[metadataKey: LogMetadataKey.captureSource] = "\(configuration.topicPrefix)"
        self.logger = logger
        reporter = CaptureMetricsReporter(source: configuration.topicPrefix)
    }

    /// The trigger function's name, derived from the change log's (one function per change log).
    private var functionName: (schema: String, name: String) {
        let log = PostgresCatalog.qualified(configuration.changeLog)
        return (log.schema, log.name + "_capture")
    }

    private var triggerNames: (row: String, truncate: String) {
        let log = PostgresCatalog.qualified(configuration.changeLog).name
        return (log + "_row", log + "_truncate")
    }

    /// Creates (idempotently) the change log, the trigger function and the triggers on every configured table.
    public func install() throws {
        let sql = try PostgresConnection(dsn: configuration.dsn)
        try install(sql)
    }

    /// Drops the capture triggers from the configured tables (the change log and its rows stay).
    public func uninstall() throws {
        let sql = try PostgresConnection(dsn: configuration.dsn)
        for t in configuration.tables {
            let q = PostgresCatalog.qualified(t)
            let rel = PostgresCatalog.quotedName(sql, q.schema, q.name)
            try sql.execute("""
                DROP TRIGGER IF EXISTS \(sql.quoteIdentifier(triggerNames.row)) ON \(rel);
                DROP TRIGGER IF EXISTS \(sql.quoteIdentifier(triggerNames.truncate)) ON \(rel);
                """)
        }
    }

    /// Each step commits on its own and existing objects are left alone: a DDL transaction that held
    /// the change log's lock (`CREATE INDEX IF NOT EXISTS` takes it even when the index exists) while
    /// waiting for a captured table's lock would deadlock with a writer, which locks the table first
    /// and the change log second (in the trigger).
    private func install(_ sql: PostgresConnection) throws {
        let log = PostgresCatalog.qualified(configuration.changeLog)
        let logName = PostgresCatalog.quotedName(sql, log.schema, log.name)
        let fn = PostgresCatalog.quotedName(sql, functionName.schema, functionName.name)
        if try sql.execute("SELECT to_regclass($1) IS NULL", [logName]).rows.first?.first == "t" {
            try sql.execute("""
            CREATE TABLE IF NOT EXISTS \(logName) (
                id bigserial PRIMARY KEY,
                schema_name text NOT NULL,
                table_name text NOT NULL,
                op char(1) NOT NULL,
                before json,
                after json,
                txid bigint NOT NULL DEFAULT txid_current(),
                committed_at timestamptz NOT NULL DEFAULT now()
            )
            """)
        }
        let index = PostgresCatalog.quotedName(sql, log.schema, log.name + "_table_id")
        if try sql.execute("SELECT to_regclass($1) IS NULL", [index]).rows.first?.first == "t" {
            try sql.execute("CREATE INDEX IF NOT EXISTS \(sql.quoteIdentifier(log.name + "_table_id")) ON \(logName) (schema_name, table_name, id)")
        }
        if try sql.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'after'",
                           [logName]).rows.first?.first == "jsonb" {
            logger.warning("the change log stores row images as jsonb (created by an earlier version): json columns lose their exact text and floats their -0; recreate it when empty to keep them",
                           metadata: [LogMetadataKey.table: "\(configuration.changeLog)"])
        }
        // Row changes write OLD/NEW as json; TRUNCATE (statement level) writes neither.
        try sql.execute("""
            CREATE OR REPLACE FUNCTION \(fn)() RETURNS trigger LANGUAGE plpgsql AS $streamkit$
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    INSERT INTO \(logName) (schema_name, table_name, op, after) VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 'c', to_json(NEW));
                ELSIF TG_OP = 'UPDATE' THEN
                    INSERT INTO \(logName) (schema_name, table_name, op, before, after) VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 'u', to_json(OLD), to_json(NEW));
                ELSIF TG_OP = 'DELETE' THEN
                    INSERT INTO \(logName) (schema_name, table_name, op, before) VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 'd', to_json(OLD));
                ELSIF TG_OP = 'TRUNCATE' THEN
                    INSERT INTO \(logName) (schema_name, table_name, op) VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 't');
                END IF;
                RETURN NULL;
            END
            $streamkit$
            """)
        for t in configuration.tables {
            let q = PostgresCatalog.qualified(t)
            let rel = PostgresCatalog.quotedName(sql, q.schema, q.name)
            let existing = try sql.execute("""
                SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgfoid = to_regprocedure($2) AND tgname IN ($3, $4)
                """, [rel, fn + "()", triggerNames.row, triggerNames.truncate]).rows.compactMap { $0[0] }
            if !existing.contains(triggerNames.row) {
                try sql.execute("""
                    CREATE OR REPLACE TRIGGER \(sql.quoteIdentifier(triggerNames.row)) AFTER INSERT OR UPDATE OR DELETE ON \(rel)
                        FOR EACH ROW EXECUTE FUNCTION \(fn)()
                    """)
            }
            if !existing.contains(triggerNames.truncate) {
                try sql.execute("""
                    CREATE OR REPLACE TRIGGER \(sql.quoteIdentifier(triggerNames.truncate)) AFTER TRUNCATE ON \(rel)
                        FOR EACH STATEMENT EXECUTE FUNCTION \(fn)()
                    """)
            }
        }
    }

    /// Change-log rows of the configured tables not yet published (for status and tests).
    public func pendingRows() throws -> Int {
        let sql = try PostgresConnection(dsn: configuration.dsn)
        let (filter, params) = tableFilter(sql)
        let log = PostgresCatalog.qualified(configuration.changeLog)
        let r = try sql.execute("SELECT count(*) FROM \(PostgresCatalog.quotedName(sql, log.schema, log.name)) WHERE \(filter)", params)
        return Int(r.rows.first?.first.flatMap { $0 } ?? "0") ?? 0
    }

    /// `(schema_name, table_name) IN (($1, $2), ...)` over the configured tables.
    private func tableFilter(_ sql: PostgresConnection, firstParameter: Int = 1) -> (String, [String?]) {
        var params: [String?] = []
        var items: [String] = []
        for t in configuration.tables {
            let q = PostgresCatalog.qualified(t)
            items.append("($\(firstParameter + params.count), $\(firstParameter + params.count + 1))")
            params.append(q.schema); params.append(q.name)
        }
        return ("(schema_name, table_name) IN (\(items.joined(separator: ", ")))", params)
    }

    /// Runs until `stop` becomes true (then returns after the batch in progress) or an error occurs
    /// (then throws; unacknowledged rows stay in the change log and are published after a restart).
    public func metricsJSON() -> String { metrics.json() }

    public func run(until stop: @escaping @Sendable () -> Bool) throws {
        try FallbackCaptureRun.run(kind: "trigger", dsn: configuration.dsn, lifecycle: lifecycle, logger: logger, metrics: metrics,
                                   reconnectAttempts: configuration.reconnectAttempts,
                                   report: { metrics.report(to: reporter) }, until: stop) { try capture(until: $0) }
    }

    private func capture(until stop: @escaping @Sendable () -> Bool) throws {
        let c = configuration
        guard !c.tables.isEmpty else { throw CaptureError(.configuration, "trigger capture: no tables configured") }
        let sql = try PostgresConnection(dsn: c.dsn)
        if c.installOnStart { try install(sql) }
        lifecycle.transition { $0.streaming() }
        let database = try sql.execute("SELECT current_database()").rows.first?.first ?? nil
        encoder = DebeziumChangeEncoder(serverName: c.topicPrefix, database: database ?? "", connector: "postgresql")
        let producer = try KafkaProducer(configuration: kafka, idempotent: true, extraProperties: ["linger.ms": "2"])
        let log = PostgresCatalog.qualified(c.changeLog)
        let logName = PostgresCatalog.quotedName(sql, log.schema, log.name)
        let (filter, filterParams) = tableFilter(sql, firstParameter: 2)
        let readSQL = """
            SELECT id, schema_name, table_name, op, txid, (extract(epoch FROM committed_at) * 1000)::bigint
            FROM \(logName) WHERE \(filter) ORDER BY id LIMIT $1
            """
        while !stop() {
            let started = WallClock.micros()
            let batch = try sql.execute(readSQL, [String(c.batchSize)] + filterParams)
            if batch.rows.isEmpty {
                PostgresCatalog.sleep(c.pollInterval, until: stop)
                continue
            }
            let published = try publish(batch, sql: sql, logName: logName, producer: producer)
            // Acknowledged by Kafka (flush throws on any failed delivery): now the rows may go.
            try PostgresCatalog.flush(producer, timeout: c.flushTimeout, errors: metrics.deliveryErrors)
            try sql.execute("DELETE FROM \(logName) WHERE id = ANY($1::bigint[])", [PostgresCatalog.arrayLiteral(published.ids)])
            metrics.changes.add(published.changes, ordering: .relaxed)
            metrics.batches.add(1, ordering: .relaxed)
            metrics.logRowsDeleted.add(published.ids.count, ordering: .relaxed)
            let batchMicros = WallClock.micros() - started
            metrics.batchLatency.record(micros: UInt64(max(0, batchMicros)))
            reporter.duration("batch_latency", micros: batchMicros)   // per batch
            metrics.report(to: reporter)
            if batch.rows.count < c.batchSize { PostgresCatalog.sleep(c.pollInterval, until: stop) }
        }
        try producer.flush(timeout: c.flushTimeout)
    }

    /// The table's metadata, reloaded when its columns changed (a new schema version).
    private func table(_ sql: PostgresConnection, schema: String, name: String) throws -> (table: CapturedTable, topic: String)? {
        let key = schema + "." + name
        let known = tables[key]
        guard let loaded = try PostgresCatalog.loadTable(sql, schema: schema, name: name, version: known?.table.version ?? 1) else { return nil }
        let keys = try configuration.messageKeyColumns.keyColumns(schema: schema, name: name, columns: loaded.table.columns,
                                                                   defaultKey: loaded.table.keyColumns)
        if let known, CaptureColumn.sameColumns(known.table.columns, loaded.table.columns) {
            var t = known
            t.table.keyColumns = keys
            tables[key] = t
            return t
        }
        var table = loaded.table
        table.keyColumns = keys
        if let known { table.version = known.table.version + 1 }
        let entry = (table, "\(configuration.topicPrefix).\(schema).\(name)")
        tables[key] = entry
        return entry
    }

    /// Publishes one batch of change-log rows (in id order); returns the ids sent and the change count.
    private func publish(_ batch: PostgresRows, sql: PostgresConnection, logName: String, producer: KafkaProducer) throws -> (ids: [Int64], changes: Int) {
        // The row images of each table, turned back into the table's row type in SQL.
        var idsByTable: [String: [Int64]] = [:]
        var order: [String] = []
        for r in batch.rows {
            guard let id = r[0].flatMap({ Int64($0) }), let schema = r[1], let name = r[2] else { continue }
            let key = schema + "." + name
            if idsByTable[key] == nil { order.append(key) }
            idsByTable[key, default: []].append(id)
        }
        var images: [Int64: (before: [ColumnValue]?, after: [ColumnValue]?)] = [:]
        var meta: [String: (table: CapturedTable, topic: String)] = [:]
        for key in order {
            let q = PostgresCatalog.qualified(key)
            guard let t = try table(sql, schema: q.schema, name: q.name) else {
                // The table is gone (dropped while rows were pending): nothing can be typed or keyed any more.
                logger.warning("a captured table no longer exists: its change-log rows are discarded (their row images cannot be typed)",
                               metadata: [LogMetadataKey.table: "\(key)", LogMetadataKey.count: "\(idsByTable[key]!.count)"])
                continue
            }
            meta[key] = t
            let rel = PostgresCatalog.quotedName(sql, q.schema, q.name)
            let n = t.table.columns.count
            let list = t.table.columns.map { sql.quoteIdentifier($0.name) }
            let select = (list.map { "b." + $0 } + list.map { "a." + $0 }).joined(separator: ", ")
            let rows = try sql.execute("""
                SELECT l.id, l.before IS NULL, l.after IS NULL, \(select) FROM \(logName) l
                LEFT JOIN LATERAL json_populate_record(NULL::\(rel), l.before::json) b ON true
                LEFT JOIN LATERAL json_populate_record(NULL::\(rel), l.after::json) a ON true
                WHERE l.id = ANY($1::bigint[])
                """, [PostgresCatalog.arrayLiteral(idsByTable[key]!)])
            for r in rows.rows {
                guard let id = r[0].flatMap({ Int64($0) }) else { continue }
                let before = r[1] == "t" ? nil : r[3..<(3 + n)].map { $0.map(ColumnValue.text) ?? .null }
                let after = r[2] == "t" ? nil : r[(3 + n)..<(3 + 2 * n)].map { $0.map(ColumnValue.text) ?? .null }
                images[id] = (before, after)
            }
        }
        var ids: [Int64] = []
        ids.reserveCapacity(batch.rows.count)
        var changes = 0
        for r in batch.rows {
            guard let id = r[0].flatMap({ Int64($0) }), let schema = r[1], let name = r[2], let opText = r[3], let op = opText.utf8.first else { continue }
            ids.append(id)
            guard let t = meta[schema + "." + name] else { continue }
            let txid = r[4].flatMap { Int64($0) }.map { UInt32(truncatingIfNeeded: $0) }
            let pos = PostgresSourceFields(lsn: UInt64(id), lastCommitLSN: nil, txID: txid,
                                                     tsMillis: r[5].flatMap { Int64($0) } ?? WallClock.millis(), snapshot: "false")
            let image = images[id]
            switch op {
            case UInt8(ascii: "u"):
                guard let after = image?.after else { continue }
                // A changed key: like Debezium, a delete (+ tombstone) of the old key, then a create of the new one.
                // A table without a key (null Kafka key): always `u`.
                let newKey = try encoder.key(table: t.table, values: after, fallback: image?.before)
                if let before = image?.before, let oldKey = try encoder.key(table: t.table, values: before), oldKey != newKey {
                    try send(op: UInt8(ascii: "d"), t, before: before, after: nil, key: oldKey, pos, producer)
                    try send(op: UInt8(ascii: "c"), t, before: nil, after: after, key: newKey, pos, producer)
                    changes += 2
                } else {
                    try send(op: op, t, before: image?.before, after: after, key: newKey, pos, producer)
                    changes += 1
                }
            case UInt8(ascii: "c"):
                guard let after = image?.after else { continue }
                try send(op: op, t, before: nil, after: after, key: try encoder.key(table: t.table, values: after), pos, producer)
                changes += 1
            case UInt8(ascii: "d"):
                guard let before = image?.before else { continue }
                try send(op: op, t, before: before, after: nil, key: try encoder.key(table: t.table, values: before), pos, producer)
                changes += 1
            case UInt8(ascii: "t"):
                try send(op: op, t, before: nil, after: nil, key: nil, pos, producer)
                changes += 1
            default:
                logger.warning("change-log row with an unknown op skipped", metadata: [LogMetadataKey.position: "\(id)", "capture.op": "\(opText)"])
            }
        }
        return (ids, changes)
    }

    private func send(op: UInt8, _ t: (table: CapturedTable, topic: String), before: [ColumnValue]?, after: [ColumnValue]?,
                      key: [UInt8]?, _ pos: PostgresSourceFields, _ producer: KafkaProducer) throws {
        let value = try encoder.value(op: op, table: t.table, before: before, after: after, source: pos, nowMillis: WallClock.millis())
        try producer.send(topic: t.topic, key: key, value: value)
        if op == UInt8(ascii: "d") && configuration.tombstonesOnDelete && key != nil {
            try producer.send(topic: t.topic, key: key, value: nil)
        }
    }
}
