import Foundation
public import Logging
public import StreamKit
import StreamKitJSON
public import StreamKitKafka
public import StreamKitCapture

/// Log-based capture of PostgreSQL changes into Kafka, as Debezium's PostgreSQL connector does:
/// logical replication with the built-in `pgoutput` plugin, one topic per table, Debezium
/// envelopes (see ``DebeziumChangeEncoder``), key = primary key, a tombstone after each delete.
/// A table without a primary key (or replica-identity index) has a null key and its updates are
/// `u` events, as in Debezium; ``PostgresCaptureConfiguration/messageKeyColumns`` names key
/// columns instead. Every connection it opens pins the session settings that decide the values'
/// text form (``PostgresConnection/pinnedSettings``): a role's or database's own `DateStyle`,
/// `TimeZone` or `extra_float_digits` change nothing.
/// The PostgreSQL plug-in of the capture core (StreamKitCapture): this type reads the WAL
/// (`PostgresCapture+Streaming`), snapshots (`+Snapshot`, `+IncrementalSnapshot`) and keeps the
/// ``PostgresPosition``; the core tracks acknowledgements, schema versions, snapshot windows,
/// the lifecycle and the metrics.
///
/// - **Snapshot → stream without gaps or duplicates**: a new slot is created with an exported
///   snapshot; the existing rows are read in that snapshot (`op: "r"`), then streaming starts at
///   the slot's consistent point. A capture that dies during the snapshot drops the slot and
///   snapshots again on restart.
/// - **No loss, bounded WAL**: the LSN confirmed to PostgreSQL (and the state file) only advances
///   to the end of a transaction once Kafka acknowledged every event of it and of all before it
///   (``PositionTracker``). A restart resumes after the last acknowledged transaction: nothing is
///   skipped, and at most the events sent but not yet confirmed are published again.
/// - Keepalives are answered; when nothing is pending, the confirmed LSN follows the server's WAL
///   end, so an idle slot (or one whose publication sees no changes) does not retain WAL.
///
/// ``run(until:)`` blocks: call it on a dedicated thread, or run the capture as a `Service` with
/// ``CaptureService``:
///
/// ```swift
/// let capture = PostgresCapture(configuration: c, kafka: kafka, logger: logger)
/// try await ServiceGroup(configuration: .init(services: [CaptureService(capture, logger: logger)],
///                                             gracefulShutdownSignals: [.sigterm], logger: logger)).run()
/// ```
public final class PostgresCapture: ChangeCapture, @unchecked Sendable {
    // @unchecked: all mutable state is used only by the thread running `run(until:)`; `lifecycle`
    // and `metrics` are thread-safe.
    public let configuration: PostgresCaptureConfiguration
    public let kafka: KafkaConfiguration
    public let metrics: PostgresCaptureMetrics
    public let lifecycle = CaptureLifecycle()
    /// Called after each incremental-snapshot chunk was read and before its close marker is
    /// written, with the table and the chunk's first key (text values). For tests: a write made
    /// here lands inside the window, the case the watermarks exist for.
    public var afterChunkRead: (@Sendable (_ table: String, _ firstKey: [String?]) throws -> Void)? = nil
    /// Where warnings (slot lag, reconnects, signals) and progress go; metadata carries the source
    /// name and the slot. Connection strings are logged without passwords.
    public let logger: Logger

    let reporter: CaptureMetricsReporter
    var producer: KafkaProducer!
    var encoder: DebeziumChangeEncoder!
    var state: PostgresCaptureState
    var relations: [UInt32: CapturedTable] = [:]
    var schemas: SchemaRegistry
    var topics: [UInt32: String] = [:]
    var sql: PostgresConnection!
    var metadata: PostgresConnection?

    /// The neutral half of the capture: transactions, acknowledgements, signals, DBLog windows.
    var stream: ChangeStream<PostgresPosition>!
    /// The open transaction's xid and commit time (PostgreSQL's `source` fields).
    var xid: UInt32 = 0
    var commitMillis: Int64 = 0
    var lastCommitLSN: UInt64? = nil
    /// The commit LSN of each transaction seen but not yet durable, by its end LSN: the state's
    /// `sequenceBase` is the commit LSN of the transaction that ends at the durable position.
    var commitOfEnd: [UInt64: UInt64] = [:]
    var signalRelation: UInt32?
    var signalColumns: (id: Int, type: Int, data: Int) = (0, 1, 2)
    /// False when the signal table is not configured or could not be set up (no privilege).
    var signalsEnabled = false
    var confirmed: UInt64 = 0
    var received: UInt64 = 0
    var lastSaveError: (any Error)?
    var deliveryWarningLogged = false

    public init(configuration: PostgresCaptureConfiguration, kafka: KafkaConfiguration,
                metrics: PostgresCaptureMetrics = PostgresCaptureMetrics(), logger: Logger = .disabled) {
        self.configuration = configuration; self.kafka = kafka; self.metrics = metrics
        var logger = logger
        logger[metadataKey: LogMetadataKey.captureSource] = "\(configuration.topicPrefix)"
        logger[metadataKey: LogMetadataKey.slot] = "\(configuration.slot)"
        self.logger = logger
        reporter = CaptureMetricsReporter(source: configuration.topicPrefix)
        state = PostgresCaptureState(slot: configuration.slot)
        schemas = SchemaRegistry(prefix: configuration.topicPrefix)
    }

    public func metricsJSON() -> String { metrics.json() }

    /// Runs until `stop` becomes true or ``lifecycle`` is asked to stop (then confirms what Kafka
    /// acknowledged and returns) or an error occurs (then throws; a restart resumes from the last
    /// acknowledged event). A lost connection (PostgreSQL restarted, network) is retried: up to
    /// `reconnectAttempts` consecutive attempts with a growing wait.
    public func run(until stop: @escaping @Sendable () -> Bool) throws {
        let lifecycle = self.lifecycle
        let stop: @Sendable () -> Bool = { lifecycle.isStopRequested || stop() }
        guard lifecycle.start() == .run else { return }
        do {
            try runSessions(until: stop)
            lifecycle.transition { $0.finished(error: nil) }
            logger.info("capture stopped", metadata: [LogMetadataKey.position: "\(state.position)"])
        } catch {
            lifecycle.transition { $0.finished(error: error) }
            logger.error("capture failed", metadata: [LogMetadataKey.errorCode: "\(error.captureCode)", LogMetadataKey.error: "\(error.captureMessage)"])
            throw error
        }
    }

    private func runSessions(until stop: @escaping @Sendable () -> Bool) throws {
        let c = configuration
        logger.info("capture starting", metadata: [LogMetadataKey.dsn: "\(LogRedaction.connectionString(c.dsn))",
                                                   LogMetadataKey.publication: "\(c.publication)"])
        if let saved = PostgresCaptureState.load(c.stateFile), saved.slot == c.slot { state = saved }
        var settings = ChangeStream<PostgresPosition>.Settings(topicPrefix: c.topicPrefix, defaultSchema: "public")
        settings.tombstonesOnDelete = c.tombstonesOnDelete
        settings.skippedOperations = c.skippedOperations
        settings.transactionMetadata = c.transactionMetadata
        settings.tables = c.tables
        stream = ChangeStream(settings: settings, encoder: DebeziumChangeEncoder(serverName: c.topicPrefix, database: "", connector: "postgresql"),
                              metrics: metrics, reporter: reporter, logger: logger)
        stream.incremental = state.incremental; stream.durableIncremental = state.incremental
        producer = try KafkaProducer(configuration: kafka, idempotent: true, extraProperties: ["linger.ms": String(c.producerLinger.milliseconds)])
        try schemas.load(kafka: kafka)
        let metrics = self.metrics
        var loop = CaptureSessionLoop(lifecycle: lifecycle, logger: logger, database: "PostgreSQL",
                                      reconnectAttempts: c.reconnectAttempts) { metrics.reconnects.add(1, ordering: .relaxed) }
        try loop.run(until: stop, session: { streamed in try session(until: stop, streamed: &streamed) }, quiesce: quiesce)
    }

    /// After a lost connection: waits for Kafka, saves the acknowledged position (with the part of
    /// an unfinished transaction already published) and forgets the session.
    private func quiesce() throws {
        try? producer.flush(timeout: .seconds(30))
        collectAcks()
        savePosition(force: true)
        // Events sent but never acknowledged stay unacknowledged: the next session publishes them
        // again from the saved position.
        stream.forgetSession()
        relations.removeAll(); topics.removeAll()
        sql = nil; metadata = nil
        signalRelation = nil
    }

    /// One connection's worth of streaming.
    private func session(until stop: @escaping @Sendable () -> Bool, streamed: inout Bool) throws {
        let c = configuration
        sql = try PostgresConnection(dsn: c.dsn)
        let database = try sql.execute("SELECT current_database()").rows.first?.first ?? nil
        encoder = DebeziumChangeEncoder(serverName: c.topicPrefix, database: database ?? "", connector: "postgresql")
        stream.encoder = encoder
        try ensurePublication(sql)
        try ensureSignalTable(sql)
        try addNewTables(sql)

        let repl = try PostgresConnection(dsn: c.dsn, replication: true)
        var startLSN: UInt64 = state.lsn
        let slotExists = try sql.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [c.slot]).rows.count == 1
        if slotExists && c.snapshot == .initial && !state.snapshotDone {
            // A snapshot that did not finish: start over with a new slot.
            logger.info("an earlier snapshot did not finish: dropping the slot to snapshot again")
            try sql.execute("SELECT pg_drop_replication_slot($1)", [c.slot])
        }
        if !slotExists || (c.snapshot == .initial && !state.snapshotDone) {
            let created = try repl.execute("CREATE_REPLICATION_SLOT \(repl.quoteIdentifier(c.slot)) LOGICAL pgoutput"
                                           + (c.snapshot == .initial ? " EXPORT_SNAPSHOT" : " NOEXPORT_SNAPSHOT"))
            let consistent = created.value(0, "consistent_point").flatMap(PgOutput.parseLSN) ?? 0
            logger.info("replication slot created", metadata: [LogMetadataKey.position: "\(PgOutput.format(consistent))"])
            state = PostgresCaptureState(slot: c.slot, lsn: 0, snapshotDone: false)
            if c.snapshot == .initial, let name = created.value(0, "snapshot_name") {
                try snapshot(sql, exportedSnapshot: name, consistentPoint: consistent)
            }
            state.snapshotDone = true
            state.lsn = consistent
            try state.save(c.stateFile)
            startLSN = consistent
        }
        confirmed = max(confirmed, startLSN)
        metrics.confirmedLSN.store(confirmed, ordering: .relaxed)
        // Sequences continue where the saved position left them (transactions the slot delivers
        // again before it set `lastCommitLSN` themselves).
        lastCommitLSN = state.sequenceBase
        commitOfEnd.removeAll()

        try repl.startCopyBoth("START_REPLICATION SLOT \(repl.quoteIdentifier(c.slot)) LOGICAL \(PgOutput.format(startLSN)) "
                               + "(proto_version '1', publication_names \(repl.quoteLiteral(c.publication)))")
        lifecycle.transition { $0.streaming() }
        logger.info("streaming", metadata: [LogMetadataKey.position: "\(PgOutput.format(startLSN))"])
        try stream(repl, until: stop, streamed: &streamed)
        // Graceful stop: wait for Kafka, confirm, save.
        try producer.flush(timeout: .seconds(30))
        collectAcks()
        savePosition(force: true)
        try sendStatus(repl)
        if let e = lastSaveError { throw e }
    }

    /// Brings the state file up to what Kafka acknowledged: the confirmed LSN, and the part of the
    /// first unfinished transaction acknowledged so far.
    func savePosition(force: Bool) {
        var next = state
        next.lsn = max(state.lsn, confirmed)
        next.incremental = stream.durableIncremental
        next.partialLSN = 0; next.partialEvents = 0
        let head: (firstTag: UInt64, finalLSN: UInt64, prefix: Int)?
        if let p = stream.tracker.oldestPending {
            head = (p.firstTag, p.begin.lsn, p.prefix)
        } else if let open = stream.openTransaction {
            head = (open.firstTag, open.begin.lsn, open.prefix)
        } else {
            head = nil
        }
        if let h = head, h.finalLSN >= next.lsn {
            let done = stream.tracker.acknowledgedEvents(from: h.firstTag)
            if h.prefix + done > 0 { next.partialLSN = h.finalLSN; next.partialEvents = h.prefix + done }
        } else if head == nil && state.partialLSN >= next.lsn {
            // The partly published transaction has not been re-delivered yet: keep its position.
            next.partialLSN = state.partialLSN; next.partialEvents = state.partialEvents
        }
        // The next transaction's `sequence` starts from the commit before it: the commit of the
        // transaction ending at the durable position (unchanged while the position is).
        if let commit = commitOfEnd[next.lsn] {
            next.sequenceBase = commit
        } else if next.lsn != state.lsn && head == nil, let last = lastCommitLSN {
            next.sequenceBase = last   // everything seen is durable (e.g. a keepalive moved the position)
        }
        guard force || next != state else { return }
        do {
            try next.save(configuration.stateFile); state = next; lastSaveError = nil
            if !commitOfEnd.isEmpty { commitOfEnd = commitOfEnd.filter { $0.key > next.lsn } }
        } catch {
            lastSaveError = error
            logger.warning("cannot save the capture state", metadata: [LogMetadataKey.stateFile: "\(configuration.stateFile)",
                                                                       LogMetadataKey.error: "\(error.captureMessage)"])
        }
    }

    /// Serves delivery reports and advances the confirmed LSN over fully acknowledged transactions.
    func collectAcks() {
        if let end = stream.acknowledge(producer: producer) { confirmed = max(confirmed, end.lsn) }
        metrics.confirmedLSN.store(confirmed, ordering: .relaxed)
        if metrics.deliveryErrors.load(ordering: .relaxed) > 0 && producer.failed > 0 && !deliveryWarningLogged {
            deliveryWarningLogged = true
            logger.warning("Kafka delivery failed; the confirmed position stays before the failed events — restart the capture",
                           metadata: [LogMetadataKey.count: "\(producer.failed)", LogMetadataKey.errorCode: "\(CaptureError.Code.delivery)"])
        }
    }

    /// Tells PostgreSQL how far the slot may move: only to the position in the state file. The
    /// slot never gets ahead of the state (a crash between confirming and saving would otherwise
    /// skip transactions on the restart whose commits the state's `sequenceBase` does not know).
    func sendStatus(_ repl: PostgresConnection) throws {
        let now = WallClock.micros() - PgOutput.postgresEpochOffsetMicros
        let durable = state.lsn
        try repl.sendCopyData(PgOutput.standbyStatusUpdate(write: max(received, durable), flush: durable, apply: durable, clockMicros: now))
    }

    func measureSlotLag(_ sql: PostgresConnection) {
        guard let r = try? sql.execute("SELECT (pg_current_wal_lsn() - restart_lsn)::bigint FROM pg_replication_slots WHERE slot_name = $1",
                                       [configuration.slot]),
              let text = r.rows.first?.first ?? nil, let lag = Int64(text) else { return }
        metrics.slotLagBytes.store(lag, ordering: .relaxed)
        if lag > configuration.slotLagWarningBytes {
            logger.warning("the replication slot retains much WAL", metadata: [LogMetadataKey.count: "\(lag)"])
        }
    }

    /// A heartbeat record, and the heartbeat action query when configured.
    func heartbeat() throws {
        let c = configuration
        let hb = encoder.heartbeat(nowMillis: WallClock.millis())
        try producer.send(topic: "\(c.heartbeatTopicPrefix).\(c.topicPrefix)", key: hb.key, value: hb.value)
        metrics.heartbeats.add(1, ordering: .relaxed)
        if let q = c.heartbeatActionQuery { try sql.execute(q) }
    }

    private func ensurePublication(_ sql: PostgresConnection) throws {
        let c = configuration
        let exists = try sql.execute("SELECT 1 FROM pg_publication WHERE pubname = $1", [c.publication]).rows.count == 1
        if !exists {
            let target: String
            if let tables = c.tables, !tables.isEmpty {
                target = "TABLE " + tables.map { let q = PostgresCatalog.qualified($0); return PostgresCatalog.quotedName(sql, q.schema, q.name) }.joined(separator: ", ")
            } else {
                target = "ALL TABLES"
            }
            try sql.execute("CREATE PUBLICATION \(sql.quoteIdentifier(c.publication)) FOR \(target)")
        }
    }

    /// The version of a table's columns in the schema registry (published first when new).
    func registerSchema(schema: String, name: String, columns: [CaptureColumn], keys: [Int] = [], lsn: UInt64 = 0) throws -> Int {
        try schemas.register(schema: schema, name: name, columns: columns, keys: keys, lsn: lsn, producer: producer)
    }

    /// The table with its configured message key columns (if any) as its key.
    func keyed(_ table: CapturedTable) throws -> CapturedTable {
        var t = table
        t.keyColumns = try configuration.messageKeyColumns.keyColumns(schema: t.schema, name: t.name, columns: t.columns, defaultKey: t.keyColumns)
        return t
    }

    /// Applies the column filters to a table.
    func filtered(_ table: CapturedTable) -> CapturedTable {
        table.filtered(excluded: configuration.excludedColumns, masked: configuration.maskedColumns, defaultSchema: "public")
    }

    func metadataConnection() throws -> PostgresConnection {
        if let metadata { return metadata }
        let c = try PostgresConnection(dsn: configuration.dsn)
        metadata = c
        return c
    }
}
