import Foundation
public import Logging
public import StreamKit
import StreamKitJSON
public import StreamKitKafka
public import StreamKitCapture

/// Log-based capture of MariaDB/MySQL changes into Kafka, as Debezium's MySQL connector does: the
/// binlog read as a replica (row format, full row images and metadata), one topic per table
/// (`<prefix>.<db>.<table>`), Debezium envelopes, key = primary key, a tombstone after each
/// delete, a key-changing update as delete + create. The MySQL plug-in of the capture core: the
/// core's ``ChangeStream`` does transactions, acknowledgement tracking, transaction metadata and
/// the envelope; this type reads the binlog (``BinlogReader``), decodes row images itself
/// (``MySQLRowDecoder``, with the TABLE_MAP written with them, so each image is decoded with the
/// columns the table had then), snapshots and keeps the ``MySQLPosition``.
///
/// - **Position safety**: the GTID state (and file/pos) in the state file only advances past a
///   transaction once Kafka acknowledged every event of it and of all before it. A restart
///   connects with that GTID state; a transaction Kafka acknowledged only in part is published
///   from its first unacknowledged event.
/// - **Snapshot → binlog without a global lock**: `START TRANSACTION WITH CONSISTENT SNAPSHOT`
///   and the binlog position frozen for it (`binlog_snapshot_file/position`, as a GTID state with
///   `BINLOG_GTID_POS`); streaming starts exactly there.
/// - A lost server is retried with backoff (the core's ``CaptureSessionLoop``); a purged binlog
///   position is an error naming the recovery.
public final class MySQLCapture: ChangeCapture, @unchecked Sendable {
    // @unchecked: all mutable state is used only by the thread running `run(until:)`; `lifecycle`
    // and `metrics` are thread-safe.
    public let configuration: MySQLCaptureConfiguration
    public let kafka: KafkaConfiguration
    public let metrics: MySQLCaptureMetrics
    public let lifecycle = CaptureLifecycle()
    public let logger: Logger
    /// For benchmarks: the commit time (µs since the epoch) of a transaction by its GTID, when the
    /// writer knows it. MariaDB's event times have one-second resolution, so without it commit →
    /// acknowledged latency is measured from the moment the capture read the commit.
    public var commitTime: (@Sendable (String) -> Int64?)? = nil
    /// Called after each incremental-snapshot chunk was read and before its close marker is
    /// written, with the table and the chunk's first key (SQL text). For tests: a write made here
    /// lands inside the window, the case the watermarks exist for.
    public var afterChunkRead: (@Sendable (_ table: String, _ firstKey: [String?]) throws -> Void)? = nil

    let reporter: CaptureMetricsReporter
    var producer: KafkaProducer!
    var encoder: DebeziumChangeEncoder!
    var stream: ChangeStream<MySQLPosition>!
    var schemas: SchemaRegistry
    var state = MySQLCaptureState()
    var sql: MySQLConnection?
    var lastSaveError: (any Error)?

    /// Per table id: the table as the last TABLE_MAP described it (nil: not captured).
    var tables: [UInt64: MappedTable?] = [:]
    /// The last TABLE_MAP of each captured `db.table` (kept across DDL: a TRUNCATE names its table).
    var byName: [String: MappedTable] = [:]
    /// The live GTID state (per domain, the last transaction read).
    var gtidState: [UInt32: BinlogGTID] = [:]
    /// The open transaction.
    var currentGTID: BinlogGTID?
    var transactionStart: MySQLPosition?
    var commitSeconds: UInt32 = 0
    var file = ""
    var confirmed: MySQLPosition?
    var received = ""
    /// The signal table's last TABLE_MAP: its table id, decoder and where `id`, `type`, `data` are.
    var signalMap: (tableID: UInt64, decoder: MySQLRowDecoder, columns: (id: Int, type: Int, data: Int))?
    /// False when the signal table is not configured or could not be set up (no privilege).
    var signalsEnabled = false

    struct MappedTable {
        var map: BinlogTableMap
        var table: CapturedTable
        var decoder: MySQLRowDecoder
        var topic: String
    }

    public init(configuration: MySQLCaptureConfiguration, kafka: KafkaConfiguration,
                metrics: MySQLCaptureMetrics = MySQLCaptureMetrics(), logger: Logger = .disabled) {
        self.configuration = configuration; self.kafka = kafka; self.metrics = metrics
        var logger = logger
        logger[metadataKey: LogMetadataKey.captureSource] = "\(configuration.topicPrefix)"
        self.logger = logger
        reporter = CaptureMetricsReporter(source: configuration.topicPrefix)
        schemas = SchemaRegistry(prefix: configuration.topicPrefix)
    }

    public func metricsJSON() -> String { metrics.json() }

    public func run(until stop: @escaping @Sendable () -> Bool) throws {
        let lifecycle = self.lifecycle
        let stop: @Sendable () -> Bool = { lifecycle.isStopRequested || stop() }
        guard lifecycle.start() == .run else { return }
        do {
            try runSessions(until: stop)
            lifecycle.transition { $0.finished(error: nil) }
            logger.info("capture stopped", metadata: [LogMetadataKey.position: "\(state.file):\(state.position) (\(state.gtids))"])
        } catch {
            lifecycle.transition { $0.finished(error: error) }
            logger.error("capture failed", metadata: [LogMetadataKey.errorCode: "\(error.captureCode)", LogMetadataKey.error: "\(error.captureMessage)"])
            throw error
        }
    }

    private func runSessions(until stop: @escaping @Sendable () -> Bool) throws {
        let c = configuration
        logger.info("capture starting", metadata: [LogMetadataKey.dsn: "\(c.dsn.redacted)"])
        if let saved = MySQLCaptureState.load(c.stateFile) { state = saved }
        var settings = ChangeStream<MySQLPosition>.Settings(topicPrefix: c.topicPrefix, defaultSchema: c.dsn.database)
        settings.tombstonesOnDelete = c.tombstonesOnDelete
        settings.skippedOperations = c.skippedOperations
        settings.transactionMetadata = c.transactionMetadata
        settings.tables = c.tables
        encoder = DebeziumChangeEncoder(serverName: c.topicPrefix, database: c.dsn.database, connector: "mysql")
        encoder.databaseIsSchema = true
        stream = ChangeStream(settings: settings, encoder: encoder, metrics: metrics, reporter: reporter, logger: logger)
        stream.incremental = state.incremental; stream.durableIncremental = state.incremental
        producer = try KafkaProducer(configuration: kafka, idempotent: true, extraProperties: ["linger.ms": String(c.producerLinger.milliseconds)])
        try schemas.load(kafka: kafka)
        let metrics = self.metrics
        var loop = CaptureSessionLoop(lifecycle: lifecycle, logger: logger, database: "MariaDB",
                                      reconnectAttempts: c.reconnectAttempts) { metrics.reconnects.add(1, ordering: .relaxed) }
        try loop.run(until: stop, session: { streamed in try session(until: stop, streamed: &streamed) }, quiesce: quiesce)
    }

    private func quiesce() throws {
        try? producer.flush(timeout: .seconds(30))
        collectAcks()
        savePosition(force: true)
        stream.forgetSession()
        tables.removeAll()
        signalMap = nil
        currentGTID = nil; transactionStart = nil
        sql = nil
    }

    private func session(until stop: @escaping @Sendable () -> Bool, streamed: inout Bool) throws {
        let c = configuration
        let sql = try MySQLConnection(dsn: c.dsn)
        self.sql = sql
        ensureSignalTable(sql)
        if !state.hasPosition || (c.snapshot == .initial && !state.snapshotDone) {
            if c.snapshot == .initial {
                try snapshot(sql)
            } else {
                let rows = try sql.query("SELECT @@global.gtid_binlog_pos")
                state = MySQLCaptureState()
                state.gtids = rows.first?.first.flatMap { $0 } ?? ""
                let status = try sql.query("SHOW BINLOG STATUS")
                state.file = status.first?[0] ?? ""
                state.position = UInt64(status.first?[1] ?? "") ?? 0
            }
            state.snapshotDone = true
            state.tables = c.tables.map { list in list.map { t in let q = c.qualified(t); return q.schema + "." + q.name } }
            try state.save(c.stateFile)
        }
        try addNewTables()
        gtidState = Self.parseState(state.gtids)
        file = state.file
        confirmed = MySQLPosition(file: state.file, position: state.position, gtid: state.gtids)
        let reader = try BinlogReader(dsn: c.dsn, serverID: c.serverID, start: .gtid(state.gtids), heartbeat: c.binlogHeartbeat)
        lifecycle.transition { $0.streaming() }
        logger.info("streaming", metadata: [LogMetadataKey.position: "\(state.gtids)"])
        try stream(reader, until: stop, streamed: &streamed)
        try producer.flush(timeout: .seconds(30))
        collectAcks()
        savePosition(force: true)
        if let e = lastSaveError { throw e }
    }

    static func parseState(_ text: String) -> [UInt32: BinlogGTID] {
        var out: [UInt32: BinlogGTID] = [:]
        for part in text.split(separator: ",") {
            if let g = BinlogGTID(part.trimmingCharacters(in: .whitespaces)) { out[g.domain] = g }
        }
        return out
    }

    static func formatState(_ state: [UInt32: BinlogGTID]) -> String {
        state.keys.sorted().map { state[$0]!.description }.joined(separator: ",")
    }

    /// Brings the state file up to what Kafka acknowledged.
    func savePosition(force: Bool) {
        var next = state
        if let confirmed, confirmed.file > "" || !confirmed.gtid.isEmpty {
            next.gtids = confirmed.gtid; next.file = confirmed.file; next.position = confirmed.position
        }
        next.incremental = stream.durableIncremental
        next.partialGTID = ""; next.partialEvents = 0
        let head: (firstTag: UInt64, begin: MySQLPosition, prefix: Int)?
        if let p = stream.tracker.oldestPending {
            head = (p.firstTag, p.begin, p.prefix)
        } else if let open = stream.openTransaction {
            head = (open.firstTag, open.begin, open.prefix)
        } else {
            head = nil
        }
        if let h = head {
            let done = stream.tracker.acknowledgedEvents(from: h.firstTag)
            if h.prefix + done > 0 { next.partialGTID = h.begin.gtid; next.partialEvents = h.prefix + done }
        } else if !state.partialGTID.isEmpty, let g = BinlogGTID(state.partialGTID),
                  (Self.parseState(next.gtids)[g.domain]?.sequence ?? 0) < g.sequence {
            // The partly published transaction has not been re-delivered yet: keep it.
            next.partialGTID = state.partialGTID; next.partialEvents = state.partialEvents
        }
        guard force || next != state else { return }
        do { try next.save(configuration.stateFile); state = next; lastSaveError = nil } catch {
            lastSaveError = error
            logger.warning("cannot save the capture state", metadata: [LogMetadataKey.stateFile: "\(configuration.stateFile)",
                                                                       LogMetadataKey.error: "\(error.captureMessage)"])
        }
    }

    func collectAcks() {
        if let end = stream.acknowledge(producer: producer) { confirmed = max(confirmed ?? end, end) }
        metrics.setPositions(confirmed: confirmed?.description ?? "", received: received)
    }

    func heartbeat() throws {
        let c = configuration
        let hb = encoder.heartbeat(nowMillis: WallClock.millis())
        try producer.send(topic: "\(c.heartbeatTopicPrefix).\(c.topicPrefix)", key: hb.key, value: hb.value)
        metrics.heartbeats.add(1, ordering: .relaxed)
        if let q = c.heartbeatActionQuery { try sql?.execute(q) }
    }

    /// Whether changes of `db.table` are captured.
    func isCaptured(database: String, table: String) -> Bool {
        if isSignalTable(database: database, table: table) { return false }
        if let list = configuration.tables {
            return list.contains { configuration.qualified($0) == (database, table) }
        }
        return !["mysql", "information_schema", "performance_schema", "sys"].contains(database)
    }

    func prepared(_ table: CapturedTable) throws -> CapturedTable {
        var t = table
        t.keyColumns = try configuration.messageKeyColumns.keyColumns(schema: t.schema, name: t.name, columns: t.columns, defaultKey: t.keyColumns)
        t.version = try schemas.register(schema: t.schema, name: t.name, columns: t.columns, keys: t.keyColumns, lsn: 0, producer: producer)
        return t.filtered(excluded: configuration.excludedColumns, masked: configuration.maskedColumns, defaultSchema: configuration.dsn.database)
    }
}
