import Foundation
public import Synchronization
public import StreamKit
public import StreamKitJSON
public import StreamKitDebezium
public import StreamKitKafka
public import Glibc

/// Settings of a log-based PostgreSQL capture (logical replication with `pgoutput`).
public struct PostgresCaptureConfiguration: Sendable {
    /// libpq connection string or URL (`postgresql://user@host:port/db`).
    public var dsn: String
    /// The logical replication slot (created when missing).
    public var slot: String
    /// The publication (created when missing: for `tables`, or for all tables).
    public var publication: String
    /// Topic prefix and Debezium `source.name`: changes of `schema.table` go to `<prefix>.<schema>.<table>`.
    public var topicPrefix: String
    /// Tables to capture (`schema.table` or `table` for `public`); nil: every table of the publication.
    public var tables: [String]?
    /// Read the existing rows first (`op: "r"`) when the slot is created. Default: `.initial`.
    public var snapshot: PostgresSnapshotMode = .initial
    /// Send a tombstone (null value, same key) after each delete. Default: true.
    public var tombstonesOnDelete = true
    /// Where the capture keeps its own position (last published commit, snapshot done): a restart
    /// resumes from it, so transactions the slot re-delivers are not published twice (the slot's
    /// confirmed LSN can go back after a PostgreSQL restart).
    public var stateFile: String
    /// How often the position confirmed to PostgreSQL and the state file are brought up to the
    /// events Kafka has acknowledged. Default: 200 ms.
    public var confirmInterval: Duration = .milliseconds(200)
    /// How often the slot lag is measured. Default: 5 s.
    public var slotLagInterval: Duration = .seconds(5)
    /// Slot lag (WAL retained) above which a warning is logged. Default: 1 GiB.
    public var slotLagWarningBytes: Int64 = 1 << 30
    /// Rows per snapshot fetch. Default: 10 000.
    public var snapshotFetchSize = 10_000
    /// Columns left out of the events: `schema.table.column` or `table.column` (in `public`).
    public var excludedColumns: [String] = []
    /// Columns whose values are replaced by `"***"` (NULL stays null): same naming.
    public var maskedColumns: [String] = []
    /// Operations not published (Debezium's `skipped.operations`): any of `c`, `u`, `d`, `t`.
    /// Snapshot reads (`r`) are controlled by `snapshot`.
    public var skippedOperations: Set<String> = []
    /// Debezium's `heartbeat.interval.ms`: every interval a heartbeat record (key
    /// `{"serverName": prefix}`, value `{"ts_ms": ...}`) goes to `<heartbeatTopicPrefix>.<prefix>`,
    /// so consumers see the capture is alive while the tables are quiet. nil (default): none.
    public var heartbeatInterval: Duration? = nil
    /// Debezium's `topic.heartbeat.prefix`. Default: `__debezium-heartbeat`.
    public var heartbeatTopicPrefix = "__debezium-heartbeat"
    /// Debezium's `heartbeat.action.query`: SQL run on every heartbeat (e.g. an `UPDATE` of a
    /// one-row heartbeat table in the captured database), so the slot keeps moving when the
    /// captured tables are idle while other databases of the server write WAL.
    public var heartbeatActionQuery: String? = nil
    /// Debezium's `provide.transaction.metadata`: `BEGIN`/`END` events on `<prefix>.transaction`
    /// (key `{"id"}`; `END` has the event counts per table), and every change's `transaction`
    /// block `{id, total_order, data_collection_order}`. Default: false (`transaction` is null).
    public var transactionMetadata = false
    /// Consecutive failed reconnects (PostgreSQL restart, network loss) before the capture gives
    /// up and throws. The wait doubles from 0.5 s to 10 s. 0: fail on the first loss. Default: 60.
    public var reconnectAttempts = 60
    /// The signal table (Debezium's `signal.data.collection`), created when missing and added to
    /// the publication. A row `(id, type, data)` of type `execute-snapshot` with data
    /// `{"data-collections": ["schema.table", ...]}` starts an incremental snapshot of those tables
    /// while streaming goes on (`cdc-features capture snapshot` writes one); the capture also
    /// writes its snapshot-window markers here. Tables added to `tables` between runs are
    /// snapshotted the same way. nil: no signals, and tables added later get no snapshot.
    public var signalTable: String? = "public.streamkit_signal"
    /// Rows per incremental-snapshot chunk (Debezium's `incremental.snapshot.chunk.size`). Default: 1024.
    public var incrementalChunkSize = 1024
    /// How long the capture's producer lets events wait to fill a record batch per partition
    /// (librdkafka's `linger.ms`; a `linger.ms` in the Kafka configuration overrides it). Fewer,
    /// larger batches cost the broker and every consumer much less: on Tansu at 20K changes/s,
    /// 2 ms batches left the consumers behind (commit → feature p99 0.2–0.8 s), 10 ms batches
    /// kept them current (p99 50–150 ms). Adds up to this delay to commit → Kafka at low rates.
    /// Default: 10 ms.
    public var producerLinger: Duration = .milliseconds(10)

    public init(dsn: String, slot: String, publication: String, topicPrefix: String, stateFile: String) {
        self.dsn = dsn; self.slot = slot; self.publication = publication; self.topicPrefix = topicPrefix; self.stateFile = stateFile
    }
}

public enum PostgresSnapshotMode: String, Sendable, CaseIterable {
    case initial, never
}

/// Counters of a running capture (thread-safe).
public final class PostgresCaptureMetrics: Sendable {
    public let changes = Atomic<Int>(0)
    public let snapshotRows = Atomic<Int>(0)
    public let transactions = Atomic<Int>(0)
    public let skippedTransactions = Atomic<Int>(0)
    public let deliveryErrors = Atomic<Int>(0)
    /// Events of a re-delivered, partly acknowledged transaction that were not published again.
    public let skippedEvents = Atomic<Int>(0)
    /// Times the capture reconnected after losing PostgreSQL.
    public let reconnects = Atomic<Int>(0)
    public let heartbeats = Atomic<Int>(0)
    /// Rows published by incremental snapshots (`op: "r"`, `snapshot: "incremental"`).
    public let incrementalRows = Atomic<Int>(0)
    /// Tables waiting for or in an incremental snapshot.
    public let incrementalTablesPending = Atomic<Int>(0)
    public let confirmedLSN = Atomic<UInt64>(0)
    public let receivedLSN = Atomic<UInt64>(0)
    /// WAL bytes the slot retains (`pg_current_wal_lsn() - restart_lsn`), -1 until measured.
    public let slotLagBytes = Atomic<Int64>(-1)
    /// Commit → acknowledged by Kafka, per transaction (µs).
    public let latency = LatencyHistogram()
    /// Commit → the commit message received by the capture, per transaction (µs): the database side of `latency`.
    public let receiveLatency = LatencyHistogram()
    private let started = MonotonicClock.nanos()

    public init() {}

    /// Percentile `p` (0–100) of commit → Kafka-acknowledged latency in milliseconds.
    public func latencyMillis(percentile p: Double) -> Double {
        latency.percentileMillis(p)
    }

    public var seconds: Double { Double(MonotonicClock.nanos() &- started) / 1e9 }

    /// A JSON object (for `capture status` and logs).
    public func json() -> String {
        var w = JSONWriter()
        w.beginObject()
        w.field("changes", changes.load(ordering: .relaxed))
        w.field("snapshot_rows", snapshotRows.load(ordering: .relaxed))
        w.field("transactions", transactions.load(ordering: .relaxed))
        w.field("skipped_transactions", skippedTransactions.load(ordering: .relaxed))
        w.field("delivery_errors", deliveryErrors.load(ordering: .relaxed))
        w.field("skipped_events", skippedEvents.load(ordering: .relaxed))
        w.field("reconnects", reconnects.load(ordering: .relaxed))
        w.field("heartbeats", heartbeats.load(ordering: .relaxed))
        w.field("incremental_rows", incrementalRows.load(ordering: .relaxed))
        w.field("incremental_tables_pending", incrementalTablesPending.load(ordering: .relaxed))
        w.field("confirmed_lsn", PgOutput.format(confirmedLSN.load(ordering: .relaxed)))
        w.field("received_lsn", PgOutput.format(receivedLSN.load(ordering: .relaxed)))
        w.field("slot_lag_bytes", slotLagBytes.load(ordering: .relaxed))
        let s = seconds
        w.field("changes_per_s", s > 0 ? Double(changes.load(ordering: .relaxed) + snapshotRows.load(ordering: .relaxed)) / s : 0)
        w.field("capture_p50_ms", latencyMillis(percentile: 50))
        w.field("capture_p95_ms", latencyMillis(percentile: 95))
        w.field("capture_p99_ms", latencyMillis(percentile: 99))
        w.field("receive_p50_ms", receiveLatency.percentileMillis(50))
        w.field("receive_p95_ms", receiveLatency.percentileMillis(95))
        w.endObject()
        return String(decoding: w.bytes, as: UTF8.self)
    }
}

/// Where the incremental snapshots stand (DBLog-style chunks between watermarks).
struct IncrementalSnapshotProgress: Codable, Equatable {
    /// Tables (`schema.table`) waiting for a snapshot.
    var queue: [String] = []
    /// The table being snapshotted.
    var current: String? = nil
    /// Text values of the primary key of the last row of the last published chunk (nil: from the start).
    var lastKey: [String?]? = nil
    var chunks = 0
    var isIdle: Bool { current == nil && queue.isEmpty }
    var pending: Int { queue.count + (current == nil ? 0 : 1) }
}

/// The capture's own durable position.
struct PostgresCaptureState: Codable, Equatable {
    var slot: String
    /// End LSN of the last transaction whose events Kafka acknowledged (0: none yet).
    var lsn: UInt64 = 0
    var snapshotDone = false
    /// The first transaction after `lsn` that Kafka acknowledged only in part: its commit LSN and
    /// how many of its events (in order) were acknowledged. A re-delivery of it publishes only the rest.
    var partialLSN: UInt64 = 0
    var partialEvents = 0
    /// Incremental snapshots: tables waiting, the one in progress and the last key published.
    var incremental = IncrementalSnapshotProgress()

    init(slot: String, lsn: UInt64 = 0, snapshotDone: Bool = false) {
        self.slot = slot; self.lsn = lsn; self.snapshotDone = snapshotDone
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        slot = try c.decode(String.self, forKey: .slot)
        lsn = try c.decodeIfPresent(UInt64.self, forKey: .lsn) ?? 0
        snapshotDone = try c.decodeIfPresent(Bool.self, forKey: .snapshotDone) ?? false
        partialLSN = try c.decodeIfPresent(UInt64.self, forKey: .partialLSN) ?? 0
        partialEvents = try c.decodeIfPresent(Int.self, forKey: .partialEvents) ?? 0
        incremental = try c.decodeIfPresent(IncrementalSnapshotProgress.self, forKey: .incremental) ?? IncrementalSnapshotProgress()
    }

    static func load(_ path: String) -> PostgresCaptureState? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(PostgresCaptureState.self, from: data)  // cold path: once per start
    }

    func save(_ path: String) throws {
        try DurableFile.replaceAtomically(path, contents: Array(try JSONEncoder().encode(self)))
    }

}

/// Log-based capture of PostgreSQL changes into Kafka, as Debezium's PostgreSQL connector does:
/// logical replication with the built-in `pgoutput` plugin, one topic per table, Debezium
/// envelopes (see ``DebeziumChangeEncoder``), key = primary key, a tombstone after each delete.
///
/// - **Snapshot → stream without gaps or duplicates**: a new slot is created with an exported
///   snapshot; the existing rows are read in that snapshot (`op: "r"`), then streaming starts at
///   the slot's consistent point. A capture that dies during the snapshot drops the slot and
///   snapshots again on restart.
/// - **No loss, bounded WAL**: the LSN confirmed to PostgreSQL (and the state file) only advances
///   to the end of a transaction once Kafka acknowledged every event of it and of all before it.
///   A restart resumes after the last acknowledged transaction: nothing is skipped, and at most
///   the events sent but not yet confirmed are published again.
/// - Keepalives are answered; when nothing is pending, the confirmed LSN follows the server's WAL
///   end, so an idle slot (or one whose publication sees no changes) does not retain WAL.
///
/// ``run(until:)`` blocks: call it on a dedicated thread.
public final class PostgresCapture: @unchecked Sendable {
    // @unchecked: all mutable state is used only by the thread running `run(until:)`.
    public let configuration: PostgresCaptureConfiguration
    public let kafka: KafkaConfiguration
    public let metrics: PostgresCaptureMetrics
    /// Called after each incremental-snapshot chunk was read and before its close marker is
    /// written, with the table and the chunk's first key (text values). For tests: a write made
    /// here lands inside the window, the case the watermarks exist for.
    public var afterChunkRead: (@Sendable (_ table: String, _ firstKey: [String?]) throws -> Void)? = nil
    /// Called with each warning (slot lag, ...). Default: prints to stderr.
    public var onWarning: @Sendable (String) -> Void = { FileHandle.standardError.write(Data(("capture: " + $0 + "\n").utf8)) }

    private var producer: KafkaProducer!
    private var encoder: DebeziumChangeEncoder!
    private var state: PostgresCaptureState
    private var relations: [UInt32: CapturedTable] = [:]
    private var schemaVersions: [String: (columns: [PgOutput.Column], version: Int)] = [:]
    private var topics: [UInt32: String] = [:]
    private var sql: PostgresConnection!
    private var metadata: PostgresConnection?

    /// The open transaction.
    private struct OpenTransaction {
        var xid: UInt32 = 0
        var finalLSN: UInt64 = 0
        var commitMicros: Int64 = 0
        /// Tag of the transaction's first event published in this run.
        var firstTag: UInt64 = 1
        /// Events acknowledged before a restart (not published again).
        var prefix = 0
        /// Of `prefix`, how many are still to be passed over.
        var skipRemaining = 0
        /// Already published entirely before a restart.
        var skipAll = false
        // Transaction metadata.
        var id = ""
        var dataEvents = 0
        var perTable: [(name: String, count: Int)] = []
    }
    private var tx = OpenTransaction()
    private var inTransaction = false
    private var lastCommitLSN: UInt64? = nil
    // Acknowledgement tracking: events are tagged 1, 2, 3, ...; `ackedThrough` is the highest tag
    // such that every tag up to it was acknowledged.
    private var nextTag: UInt64 = 1
    private var ackedThrough: UInt64 = 0
    private var acked = Set<UInt64>()
    /// Finished transactions not yet fully acknowledged.
    private struct PendingCommit {
        var firstTag: UInt64, lastTag: UInt64, finalLSN: UInt64, endLSN: UInt64, commitMicros: Int64, prefix: Int
        var incremental: IncrementalSnapshotProgress? = nil
    }
    private var pendingCommits: [PendingCommit] = []
    // Incremental snapshots: `incremental` is the live progress; `durableIncremental` the part
    // whose events Kafka acknowledged (what the state file keeps). A change made while a
    // transaction streams becomes durable with that transaction.
    private var incremental = IncrementalSnapshotProgress()
    private var durableIncremental = IncrementalSnapshotProgress()
    private var incrementalChanged = false
    /// The open chunk: rows read between the window's open and close markers; a streamed change
    /// of a row inside the window removes it (the change is newer), the rest is published when
    /// the close marker streams by.
    private struct SnapshotWindow {
        var openID: String, closeID: String
        var table: CapturedTable
        var topic: String
        var isOpen = false
        var rows: [[UInt8]: [PgOutput.Value]] = [:]
        var order: [[UInt8]] = []
        var lastKey: [String?]?
        var complete: Bool
    }
    private var window: SnapshotWindow?
    private var signalRelation: UInt32?
    private var signalColumns: (id: Int, type: Int, data: Int) = (0, 1, 2)
    private var markersToDelete: [String] = []
    private var pendingHead = 0
    private var confirmed: UInt64 = 0
    private var received: UInt64 = 0

    public init(configuration: PostgresCaptureConfiguration, kafka: KafkaConfiguration, metrics: PostgresCaptureMetrics = PostgresCaptureMetrics()) {
        self.configuration = configuration; self.kafka = kafka; self.metrics = metrics
        state = PostgresCaptureState(slot: configuration.slot)
    }

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
        let q = CaptureSupport.qualified(signalTable)
        try sql.execute("INSERT INTO \(CaptureSupport.quotedName(sql, q.schema, q.name)) (id, type, data) VALUES ($1, 'execute-snapshot', $2)",
                        [id, String(decoding: w.bytes, as: UTF8.self)])
        return id
    }

    /// Runs until `stop` becomes true (then confirms what Kafka acknowledged and returns) or an
    /// error occurs (then throws; a restart resumes from the last acknowledged event). A lost
    /// connection (PostgreSQL restarted, network) is retried: up to
    /// `reconnectAttempts` consecutive attempts with a growing wait.
    public func run(until stop: @escaping @Sendable () -> Bool) throws {
        let c = configuration
        if let saved = PostgresCaptureState.load(c.stateFile), saved.slot == c.slot { state = saved }
        incremental = state.incremental; durableIncremental = state.incremental
        producer = try KafkaProducer(configuration: kafka, idempotent: true, extraProperties: ["linger.ms": String(c.producerLinger.milliseconds)])
        try loadSchemaHistory()
        var failures = 0
        var backoff = Duration.milliseconds(500)
        while !stop() {
            var streamed = false
            do {
                try session(until: stop, streamed: &streamed)
                return
            } catch let e as StreamKitError where e.isRetriable {
                if streamed { failures = 0; backoff = .milliseconds(500) }
                failures += 1
                guard failures <= c.reconnectAttempts else { throw e }
                onWarning("lost PostgreSQL (\(e.message)); reconnecting in \(backoff) (attempt \(failures) of \(c.reconnectAttempts))")
                try quiesce()
                let until = ContinuousClock.now + backoff
                while ContinuousClock.now < until && !stop() { Thread.sleep(forTimeInterval: 0.05) }
                backoff = min(backoff * 2, .seconds(10))
                metrics.reconnects.add(1, ordering: .relaxed)
            }
        }
    }

    /// After a lost connection: waits for Kafka, saves the acknowledged position (with the part of
    /// an unfinished transaction already published) and forgets the session.
    private func quiesce() throws {
        try? producer.flush(timeout: .seconds(30))
        collectAcks()
        savePosition(force: true)
        // Events sent but never acknowledged stay unacknowledged: drop them from the tracking (the
        // next session publishes them again from the saved position).
        nextTag = ackedThrough + 1
        acked.removeAll()
        pendingCommits.removeAll(); pendingHead = 0
        inTransaction = false
        tx = OpenTransaction()
        relations.removeAll(); topics.removeAll()
        sql = nil; metadata = nil
        window = nil; signalRelation = nil
        incremental = durableIncremental; incrementalChanged = false
    }

    /// One connection's worth of streaming.
    private func session(until stop: @escaping @Sendable () -> Bool, streamed: inout Bool) throws {
        let c = configuration
        sql = try PostgresConnection(dsn: c.dsn)
        let database = try sql.execute("SELECT current_database()").rows.first?.first ?? nil
        encoder = DebeziumChangeEncoder(serverName: c.topicPrefix, database: database ?? "")
        try ensurePublication(sql)
        try ensureSignalTable(sql)
        try addNewTables(sql)

        let repl = try PostgresConnection(dsn: c.dsn, replication: true)
        var startLSN: UInt64 = state.lsn
        let slotExists = try sql.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [c.slot]).rows.count == 1
        if slotExists && c.snapshot == .initial && !state.snapshotDone {
            // A snapshot that did not finish: start over with a new slot.
            try sql.execute("SELECT pg_drop_replication_slot($1)", [c.slot])
        }
        if !slotExists || (c.snapshot == .initial && !state.snapshotDone) {
            let created = try repl.execute("CREATE_REPLICATION_SLOT \(repl.quoteIdentifier(c.slot)) LOGICAL pgoutput"
                                           + (c.snapshot == .initial ? " EXPORT_SNAPSHOT" : " NOEXPORT_SNAPSHOT"))
            let consistent = created.value(0, "consistent_point").flatMap(PgOutput.parseLSN) ?? 0
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

        try repl.startCopyBoth("START_REPLICATION SLOT \(repl.quoteIdentifier(c.slot)) LOGICAL \(PgOutput.format(startLSN)) "
                               + "(proto_version '1', publication_names \(repl.quoteLiteral(c.publication)))")
        var lastConfirm = MonotonicClock.nanos(), lastLag: UInt64 = 0, lastHeartbeat = MonotonicClock.nanos()
        let confirmNanos = UInt64(c.confirmInterval.milliseconds) * 1_000_000
        let lagNanos = UInt64(c.slotLagInterval.milliseconds) * 1_000_000
        let heartbeatNanos = c.heartbeatInterval.map { UInt64(max(1, $0.milliseconds)) * 1_000_000 }
        var sentConfirmed: UInt64 = 0
        while !stop() {
            if let bytes = try repl.readCopyData(timeout: .milliseconds(50)) {
                streamed = true
                switch try PgOutput.decodeFrame(bytes) {
                case let .xLogData(walStart, walEnd, _, message):
                    received = max(received, walEnd)
                    try handle(message, lsn: walStart)
                case let .keepalive(walEnd, _, replyRequested):
                    received = max(received, walEnd)
                    collectAcks()
                    if !inTransaction && pendingHead == pendingCommits.count && ackedThrough == nextTag - 1 { confirmed = max(confirmed, walEnd) }
                    if replyRequested { try sendStatus(repl); sentConfirmed = confirmed }
                }
            }
            let now = MonotonicClock.nanos()
            if now &- lastConfirm >= confirmNanos {
                lastConfirm = now
                collectAcks()
                if confirmed != sentConfirmed {
                    try sendStatus(repl)
                    sentConfirmed = confirmed
                }
                savePosition(force: false)
                metrics.receivedLSN.store(received, ordering: .relaxed)
            }
            if window == nil && !markersToDelete.isEmpty, let signal = signalTableName {
                try sql.execute("DELETE FROM \(signal) WHERE id = ANY($1::text[])", ["{" + markersToDelete.joined(separator: ",") + "}"])
                markersToDelete.removeAll()
            }
            if window == nil && !inTransaction && !incremental.isIdle && signalsEnabled {
                try openWindow()
            }
            if let heartbeatNanos, now &- lastHeartbeat >= heartbeatNanos {
                lastHeartbeat = now
                try heartbeat()
            }
            if now &- lastLag >= lagNanos {
                lastLag = now
                measureSlotLag(sql)
            }
        }
        // Graceful stop: wait for Kafka, confirm, save.
        try producer.flush(timeout: .seconds(30))
        collectAcks()
        try sendStatus(repl)
        savePosition(force: true)
        if let e = lastSaveError { throw e }
    }

    private var lastSaveError: (any Error)?

    /// Brings the state file up to what Kafka acknowledged: the confirmed LSN, and the part of the
    /// first unfinished transaction acknowledged so far.
    private func savePosition(force: Bool) {
        var next = state
        next.lsn = max(state.lsn, confirmed)
        next.incremental = durableIncremental
        next.partialLSN = 0; next.partialEvents = 0
        let head: (firstTag: UInt64, lastTag: UInt64?, finalLSN: UInt64, prefix: Int)?
        if pendingHead < pendingCommits.count {
            let p = pendingCommits[pendingHead]
            head = (p.firstTag, p.lastTag, p.finalLSN, p.prefix)
        } else if inTransaction && !tx.skipAll {
            head = (tx.firstTag, nil, tx.finalLSN, tx.prefix)
        } else {
            head = nil
        }
        if let h = head, h.finalLSN >= next.lsn {
            let done = ackedThrough >= h.firstTag ? Int(ackedThrough - h.firstTag + 1) : 0
            if h.prefix + done > 0 { next.partialLSN = h.finalLSN; next.partialEvents = h.prefix + done }
        } else if head == nil && state.partialLSN >= next.lsn {
            // The partly published transaction has not been re-delivered yet: keep its position.
            next.partialLSN = state.partialLSN; next.partialEvents = state.partialEvents
        }
        guard force || next != state else { return }
        do { try next.save(configuration.stateFile); state = next; lastSaveError = nil } catch {
            lastSaveError = error
            onWarning("cannot save the capture state to \(configuration.stateFile): \(error)")
        }
    }

    /// A heartbeat record, and the heartbeat action query when configured.
    private func heartbeat() throws {
        let c = configuration
        let hb = encoder.heartbeat(nowMillis: WallClock.millis())
        try producer.send(topic: "\(c.heartbeatTopicPrefix).\(c.topicPrefix)", key: hb.key, value: hb.value)
        metrics.heartbeats.add(1, ordering: .relaxed)
        if let q = c.heartbeatActionQuery { try sql.execute(q) }
    }

    // MARK: setup

    private func ensurePublication(_ sql: PostgresConnection) throws {
        let c = configuration
        let exists = try sql.execute("SELECT 1 FROM pg_publication WHERE pubname = $1", [c.publication]).rows.count == 1
        if !exists {
            let target: String
            if let tables = c.tables, !tables.isEmpty {
                target = "TABLE " + tables.map { let q = CaptureSupport.qualified($0); return CaptureSupport.quotedName(sql, q.schema, q.name) }.joined(separator: ", ")
            } else {
                target = "ALL TABLES"
            }
            try sql.execute("CREATE PUBLICATION \(sql.quoteIdentifier(c.publication)) FOR \(target)")
        }
    }

    // MARK: snapshot

    private func snapshot(_ sql: PostgresConnection, exportedSnapshot: String, consistentPoint: UInt64) throws {
        try sql.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        defer { _ = try? sql.execute("COMMIT") }
        try sql.execute("SET TRANSACTION SNAPSHOT \(sql.quoteLiteral(exportedSnapshot))")
        let tables = try sql.execute("""
            SELECT c.oid, n.nspname, c.relname FROM pg_publication_tables p
            JOIN pg_namespace n ON n.nspname = p.schemaname JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename
            WHERE p.pubname = $1 ORDER BY n.nspname, c.relname
            """, [configuration.publication])
        let nowMillis = WallClock.millis()
        var held: (topic: String, key: [UInt8]?, table: CapturedTable, row: [PgOutput.Value])? = nil
        func emit(last: Bool) throws {
            guard let h = held else { return }
            let pos = DebeziumChangeEncoder.Position(lsn: consistentPoint, lastCommitLSN: nil, txID: nil, tsMillis: nowMillis, snapshot: last ? "last" : "true")
            let value = encoder.value(op: UInt8(ascii: "r"), table: h.table, before: nil, after: h.row, position: pos, nowMillis: WallClock.millis())
            try producer.send(topic: h.topic, key: h.key, value: value)
            metrics.snapshotRows.add(1, ordering: .relaxed)
            held = nil
        }
        let signal = configuration.signalTable.map(CaptureSupport.qualified)
        for t in tables.rows {
            if let signal, signal.schema == t[1] && signal.name == t[2] { continue }
            guard let oid = t[0], let schema = t[1], let name = t[2],
                  var table = try CaptureSupport.loadTable(sql, oid: oid, schema: schema, name: name, version: 0)?.table else { continue }
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
                    let values = r.map { $0.map(PgOutput.Value.text) ?? .null }
                    held = (topic, encoder.key(table: table, values: values), table, values)
                }
                producer.poll()
            }
            try sql.execute("CLOSE \(cursor)")
        }
        try emit(last: true)
        try producer.flush(timeout: .seconds(120))
        if producer.failed > 0 { throw StreamKitError(.connector, "snapshot: \(producer.failed) events were not delivered to Kafka") }
        _ = producer.takeTaggedDeliveries()
    }

    /// Restores the versions published by earlier runs (the registry topic has one partition).
    private func loadSchemaHistory() throws {
        let admin = try KafkaAdmin(configuration: kafka)
        try admin.createTopics([KafkaTopicSpec(name: PostgresSchemaHistory.topic(prefix: configuration.topicPrefix), partitions: 1)])
        for v in try PostgresSchemaHistory.read(prefix: configuration.topicPrefix, kafka: kafka) {
            schemaVersions[v.schema + "." + v.table] = (v.columns, v.version)
        }
    }

    /// Versioned schemas: a new version whenever a table's column list changes, published to the
    /// registry topic (and acknowledged) before any event that carries it.
    private func registerSchema(schema: String, name: String, columns: [PgOutput.Column], keys: [Int] = [], lsn: UInt64 = 0) throws -> Int {
        let key = schema + "." + name
        let version: Int
        if let known = schemaVersions[key] {
            if CaptureSupport.sameColumns(known.columns, columns) { return known.version }
            version = known.version + 1
        } else {
            version = 1
        }
        var keyed = columns
        for i in keyed.indices { keyed[i].isKey = keys.contains(i) }
        schemaVersions[key] = (keyed, version)
        let record = TableSchemaVersion(schema: schema, table: name, version: version, columns: keyed, lsn: lsn, tsMillis: WallClock.millis())
        try producer.send(topic: PostgresSchemaHistory.topic(prefix: configuration.topicPrefix), key: Array(key.utf8), value: record.json())
        try producer.flush(timeout: .seconds(30))
        return version
    }

    /// Applies the column filters to a table.
    private func filtered(_ table: CapturedTable) -> CapturedTable {
        var t = table
        func matches(_ list: [String], _ column: String) -> Bool {
            list.contains("\(t.schema).\(t.name).\(column)") || (t.schema == "public" && list.contains("\(t.name).\(column)"))
        }
        for (i, c) in t.columns.enumerated() {
            t.excluded[i] = matches(configuration.excludedColumns, c.name)
            t.masked[i] = matches(configuration.maskedColumns, c.name)
        }
        return t
    }

    // MARK: incremental snapshots

    /// False when the signal table is not configured or could not be set up (no privilege).
    private var signalsEnabled = false

    private var signalTableName: String? {
        guard signalsEnabled, let s = configuration.signalTable else { return nil }
        let q = CaptureSupport.qualified(s)
        return CaptureSupport.quotedName(sql, q.schema, q.name)
    }

    private func publicationIncludes(_ sql: PostgresConnection, _ schema: String, _ name: String) throws -> Bool {
        try sql.execute("SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3",
                        [configuration.publication, schema, name]).rows.count == 1
    }

    private func allTablesPublication(_ sql: PostgresConnection) throws -> Bool {
        try sql.execute("SELECT puballtables FROM pg_publication WHERE pubname = $1", [configuration.publication]).rows.first?.first == "t"
    }

    /// Creates the signal table when missing and adds it to the publication. Without the
    /// privileges for that the capture runs on, without signals and incremental snapshots.
    private func ensureSignalTable(_ sql: PostgresConnection) throws {
        signalsEnabled = configuration.signalTable != nil
        do { try setUpSignalTable(sql) } catch let e as StreamKitError where !e.isRetriable {
            signalsEnabled = false
            onWarning("signal table \(configuration.signalTable ?? ""): \(e.message) — running without signals and incremental snapshots")
        }
    }

    private func setUpSignalTable(_ sql: PostgresConnection) throws {
        guard let s = configuration.signalTable, let name = signalTableName else { return }
        let q = CaptureSupport.qualified(s)
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
    private func addNewTables(_ sql: PostgresConnection) throws {
        guard let tables = configuration.tables, try !allTablesPublication(sql) else { return }
        var added: [String] = []
        for t in tables {
            let q = CaptureSupport.qualified(t)
            if try publicationIncludes(sql, q.schema, q.name) { continue }
            try sql.execute("ALTER PUBLICATION \(sql.quoteIdentifier(configuration.publication)) ADD TABLE \(CaptureSupport.quotedName(sql, q.schema, q.name))")
            added.append(q.schema + "." + q.name)
        }
        guard !added.isEmpty, state.snapshotDone, configuration.snapshot == .initial else { return }
        guard signalsEnabled else {
            onWarning("tables \(added.joined(separator: ", ")) added to the publication without a snapshot (no signal table)")
            return
        }
        // Durable at once: once in the publication, a restart would not see them as new.
        // A session starts with the live progress equal to the durable one (run start, or quiesce()).
        for t in added where incremental.current != t && !incremental.queue.contains(t) { incremental.queue.append(t) }
        durableIncremental = incremental
        state.incremental = durableIncremental
        try state.save(configuration.stateFile)
        metrics.incrementalTablesPending.store(incremental.pending, ordering: .relaxed)
        onWarning("tables \(added.joined(separator: ", ")) added: snapshotting them while streaming continues")
    }

    /// Reads the next chunk of the table being snapshotted between two markers written to the
    /// signal table: the open marker, the chunk's SELECT, the close marker.
    private func openWindow() throws {
        guard let signal = signalTableName else { return }
        if incremental.current == nil {
            incremental.current = incremental.queue.removeFirst()
            incremental.lastKey = nil
            incrementalChanged = true
        }
        let current = incremental.current!
        let q = CaptureSupport.qualified(current)
        guard let loaded = try CaptureSupport.loadTable(sql, schema: q.schema, name: q.name, version: 0), !loaded.table.keyColumns.isEmpty else {
            onWarning("incremental snapshot of \(current) skipped: the table is missing or has no primary key")
            incremental.current = nil; incremental.lastKey = nil; incrementalChanged = true
            return
        }
        var table = loaded.table
        table.version = try registerSchema(schema: q.schema, name: q.name, columns: table.columns, keys: table.keyColumns)
        table = filtered(table)
        let chunk = incremental.chunks + 1
        let base = "\(configuration.slot)-\(chunk)-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        try sql.execute("INSERT INTO \(signal) (id, type, data) VALUES ($1, 'snapshot-window-open', $2)", [base + "-open", current])
        let keyNames = table.keyColumns.map { sql.quoteIdentifier(table.columns[$0].name) }
        var query = "SELECT \(table.columns.map { sql.quoteIdentifier($0.name) }.joined(separator: ", ")) FROM \(CaptureSupport.quotedName(sql, q.schema, q.name))"
        var params: [String?] = []
        if let last = incremental.lastKey, last.count == keyNames.count {
            let placeholders = table.keyColumns.enumerated().map { "$\($0.offset + 1)::\(loaded.typeNames[$0.element])" }
            query += " WHERE (\(keyNames.joined(separator: ", "))) > (\(placeholders.joined(separator: ", ")))"
            params = last
        }
        query += " ORDER BY \(keyNames.joined(separator: ", ")) LIMIT \(configuration.incrementalChunkSize)"
        let result = try sql.execute(query, params)
        if let hook = afterChunkRead, let first = result.rows.first { try hook(current, table.keyColumns.map { first[$0] }) }
        try sql.execute("INSERT INTO \(signal) (id, type, data) VALUES ($1, 'snapshot-window-close', $2)", [base + "-close", current])
        var w = SnapshotWindow(openID: base + "-open", closeID: base + "-close", table: table,
                               topic: "\(configuration.topicPrefix).\(q.schema).\(q.name)",
                               lastKey: result.rows.last.map { r in table.keyColumns.map { r[$0] } } ?? incremental.lastKey,
                               complete: result.rows.count < configuration.incrementalChunkSize)
        w.rows.reserveCapacity(result.rows.count)
        for r in result.rows {
            let values = r.map { $0.map(PgOutput.Value.text) ?? .null }
            guard let key = encoder.key(table: table, values: values) else { continue }
            w.rows[key] = values
            w.order.append(key)
        }
        window = w
    }

    /// A row inserted into the signal table, as streamed.
    private func signal(_ values: [PgOutput.Value], lsn: UInt64) throws {
        func text(_ i: Int) -> String? { if i < values.count, case let .text(t) = values[i] { return t }; return nil }
        guard let id = text(signalColumns.id), let type = text(signalColumns.type) else { return }
        switch type {
        case "snapshot-window-open":
            if window?.openID == id { window!.isOpen = true }
        case "snapshot-window-close":
            if window?.closeID == id, window!.isOpen { try closeWindow(lsn: lsn) }
        case "execute-snapshot":
            guard let data = text(signalColumns.data),
                  let object = try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any],   // cold path: one per signal
                  let collections = object["data-collections"] as? [String] else {
                onWarning("signal \(id): execute-snapshot needs data {\"data-collections\": [\"schema.table\", ...]}")
                return
            }
            if let kind = object["type"] as? String, kind.lowercased() != "incremental" {
                onWarning("signal \(id): only incremental snapshots can be started by a signal (type \(kind))")
                return
            }
            for c in collections {
                let q = CaptureSupport.qualified(c)
                let name = q.schema + "." + q.name
                if let tables = configuration.tables, !tables.contains(where: { CaptureSupport.qualified($0) == q }) {
                    onWarning("signal \(id): \(name) is not a table of this capture")
                    continue
                }
                if incremental.current != name && !incremental.queue.contains(name) {
                    incremental.queue.append(name)
                    incrementalChanged = true
                }
            }
        default:
            break
        }
    }

    /// The close marker streamed by: what is left of the chunk is published as reads.
    private func closeWindow(lsn: UInt64) throws {
        guard let w = window else { return }
        let now = WallClock.millis()
        let pos = DebeziumChangeEncoder.Position(lsn: lsn, lastCommitLSN: lastCommitLSN, txID: nil, tsMillis: now, snapshot: "incremental")
        for key in w.order {
            guard let row = w.rows[key] else { continue }
            let value = encoder.value(op: UInt8(ascii: "r"), table: w.table, before: nil, after: row, position: pos, nowMillis: now)
            try send(topic: w.topic, key: key, value: value)
            metrics.incrementalRows.add(1, ordering: .relaxed)
        }
        incremental.chunks += 1
        if w.complete {
            incremental.current = nil; incremental.lastKey = nil
        } else {
            incremental.lastKey = w.lastKey
        }
        incrementalChanged = true
        markersToDelete += [w.openID, w.closeID]
        window = nil
    }

    // MARK: streaming

    private func handle(_ message: PgOutput.Message, lsn: UInt64) throws {
        switch message {
        case let .begin(finalLSN, commitMicros, xid):
            inTransaction = true
            tx = OpenTransaction(xid: xid, finalLSN: finalLSN, commitMicros: commitMicros, firstTag: nextTag)
            tx.id = "\(xid):\(finalLSN)"
            // Already published before a restart (the slot may re-deliver confirmed transactions).
            tx.skipAll = finalLSN < state.lsn
            if !tx.skipAll && state.partialLSN == finalLSN && state.partialEvents > 0 {
                tx.prefix = state.partialEvents
                tx.skipRemaining = state.partialEvents
            }
        case let .commit(_, commitLSN, endLSN, commitMicros):
            if tx.skipAll {
                metrics.skippedTransactions.add(1, ordering: .relaxed)
            } else {
                if configuration.transactionMetadata && tx.dataEvents > 0 {
                    try send(topic: transactionTopic, key: encoder.transactionKey(id: tx.id),
                             value: encoder.transactionBoundary(begin: false, id: tx.id, tsMillis: commitMillis, collections: tx.perTable))
                }
                metrics.transactions.add(1, ordering: .relaxed)
                metrics.receiveLatency.record(micros: UInt64(max(0, WallClock.micros() - (commitMicros + PgOutput.postgresEpochOffsetMicros))))
                pendingCommits.append(PendingCommit(firstTag: tx.firstTag, lastTag: nextTag - 1, finalLSN: tx.finalLSN, endLSN: endLSN,
                                                    commitMicros: commitMicros, prefix: tx.prefix,
                                                    incremental: incrementalChanged ? incremental : nil))
                if incrementalChanged {
                    metrics.incrementalTablesPending.store(incremental.pending, ordering: .relaxed)
                    incrementalChanged = false
                }
            }
            inTransaction = false
            lastCommitLSN = commitLSN
            collectAcks()
        case let .relation(id, namespace, name, _, columns):
            if let s = configuration.signalTable, CaptureSupport.qualified(s) == (namespace, name) {
                signalRelation = id
                let find = { (n: String, d: Int) in columns.firstIndex { $0.name == n } ?? d }
                signalColumns = (find("id", 0), find("type", 1), find("data", 2))
                return
            }
            let sql = try metadataConnection()
            let keyNames = try CaptureSupport.keyColumnNames(sql, oid: String(id))
            let keys = keyNames.compactMap { k in columns.firstIndex { $0.name == k } }
            let keyIndexes = keys.isEmpty ? columns.indices.filter { columns[$0].isKey } : keys
            relations[id] = filtered(CapturedTable(schema: namespace, name: name, columns: columns, keyColumns: keyIndexes,
                                                   version: try registerSchema(schema: namespace, name: name, columns: columns,
                                                                               keys: keyIndexes, lsn: lsn)))
            topics[id] = "\(configuration.topicPrefix).\(namespace).\(name)"
        case .type, .origin, .message:
            break
        case let .insert(rel, new):
            guard !tx.skipAll else { return }
            if rel == signalRelation { try signal(new, lsn: lsn); return }
            try publish(op: UInt8(ascii: "c"), relation: rel, before: nil, after: new, keyFrom: new, lsn: lsn)
        // A key-only old tuple (default replica identity) carries NULL for the other columns, which
        // Debezium shows as null too: `before` is the old tuple as sent.
        case let .update(rel, old, _, new):
            guard !tx.skipAll && rel != signalRelation else { return }
            let table = try relation(rel)
            // A changed key: Debezium emits a delete (+ tombstone) of the old key and a create of the new one.
            if let old, let oldKey = encoder.key(table: table, values: old), oldKey != encoder.key(table: table, values: new) {
                try publish(op: UInt8(ascii: "d"), relation: rel, before: old, after: nil, keyFrom: old, lsn: lsn)
                try publish(op: UInt8(ascii: "c"), relation: rel, before: nil, after: new, keyFrom: new, lsn: lsn)
            } else {
                try publish(op: UInt8(ascii: "u"), relation: rel, before: old, after: new, keyFrom: new, lsn: lsn)
            }
        case let .delete(rel, old, _):
            guard !tx.skipAll && rel != signalRelation else { return }
            try publish(op: UInt8(ascii: "d"), relation: rel, before: old, after: nil, keyFrom: old, lsn: lsn)
        case let .truncate(rels, _, _):
            guard !tx.skipAll else { return }
            for rel in rels where rel != signalRelation {
                if let w = window, let t = relations[rel], t.schema == w.table.schema && t.name == w.table.name {
                    window!.rows.removeAll()
                }
                try publish(op: UInt8(ascii: "t"), relation: rel, before: nil, after: nil, keyFrom: nil, lsn: lsn)
            }
        }
    }

    private var transactionTopic: String { configuration.topicPrefix + ".transaction" }
    private var commitMillis: Int64 { (tx.commitMicros + PgOutput.postgresEpochOffsetMicros) / 1000 }

    private func metadataConnection() throws -> PostgresConnection {
        if let metadata { return metadata }
        let c = try PostgresConnection(dsn: configuration.dsn)
        metadata = c
        return c
    }

    private func relation(_ id: UInt32) throws -> CapturedTable {
        guard let t = relations[id] else { throw StreamKitError(.malformedInput, "change for relation \(id) before its Relation message") }
        return t
    }

    private func publish(op: UInt8, relation rel: UInt32, before: [PgOutput.Value]?, after: [PgOutput.Value]?,
                         keyFrom: [PgOutput.Value]?, lsn: UInt64) throws {
        let table = try relation(rel)
        let topic = topics[rel]!
        let key = keyFrom.flatMap { encoder.key(table: table, values: $0) }
        // Checked in place: binding `window` would copy the chunk's dictionary references per event.
        if let key, window?.isOpen == true, window!.table.name == table.name && window!.table.schema == table.schema {
            window!.rows.removeValue(forKey: key)   // the streamed change is newer than the chunk's read
        }
        if !configuration.skippedOperations.isEmpty && configuration.skippedOperations.contains(String(UnicodeScalar(op))) { return }
        let pos = DebeziumChangeEncoder.Position(lsn: lsn, lastCommitLSN: lastCommitLSN, txID: tx.xid,
                                                 tsMillis: commitMillis, snapshot: "false")
        var order: DebeziumChangeEncoder.TransactionOrder? = nil
        if configuration.transactionMetadata {
            if tx.dataEvents == 0 {
                try send(topic: transactionTopic, key: encoder.transactionKey(id: tx.id),
                         value: encoder.transactionBoundary(begin: true, id: tx.id, tsMillis: commitMillis, collections: []))
            }
            tx.dataEvents += 1
            let name = table.schema + "." + table.name
            let i: Int
            if let j = tx.perTable.firstIndex(where: { $0.name == name }) { i = j } else { tx.perTable.append((name, 0)); i = tx.perTable.count - 1 }
            tx.perTable[i].count += 1
            order = .init(id: tx.id, totalOrder: tx.dataEvents, dataCollectionOrder: tx.perTable[i].count)
        }
        let value = encoder.value(op: op, table: table, before: before, after: after, position: pos, nowMillis: WallClock.millis(), transaction: order)
        try send(topic: topic, key: key, value: value)
        if op == UInt8(ascii: "d") && configuration.tombstonesOnDelete && key != nil {
            try send(topic: topic, key: key, value: nil)
        }
        metrics.changes.add(1, ordering: .relaxed)
        if nextTag & 1023 == 0 { collectAcks() }
    }

    /// Sends one event of the open transaction, tagged for acknowledgement tracking — unless it is
    /// one of the events of a re-delivered transaction that Kafka acknowledged before a restart.
    private func send(topic: String, key: [UInt8]?, value: [UInt8]?) throws {
        if tx.skipRemaining > 0 {
            tx.skipRemaining -= 1
            metrics.skippedEvents.add(1, ordering: .relaxed)
            return
        }
        try producer.send(topic: topic, key: key, value: value, tag: nextTag)
        nextTag += 1
    }

    /// Serves delivery reports and advances the confirmed LSN over fully acknowledged transactions.
    private func collectAcks() {
        producer.poll()
        for d in producer.takeTaggedDeliveries() {
            if !d.ok {
                metrics.deliveryErrors.add(1, ordering: .relaxed)
                continue  // never acknowledged: the confirmed LSN stops before it
            }
            if d.tag == ackedThrough + 1 {
                ackedThrough += 1
                while acked.remove(ackedThrough + 1) != nil { ackedThrough += 1 }
            } else if d.tag > ackedThrough {
                acked.insert(d.tag)
            }
        }
        let now = WallClock.micros()
        while pendingHead < pendingCommits.count, pendingCommits[pendingHead].lastTag <= ackedThrough {
            let p = pendingCommits[pendingHead]
            confirmed = max(confirmed, p.endLSN)
            if let inc = p.incremental { durableIncremental = inc }
            let latency = now - (p.commitMicros + PgOutput.postgresEpochOffsetMicros)
            metrics.latency.record(micros: UInt64(max(0, latency)))
            pendingHead += 1
        }
        if pendingHead > 1024 { pendingCommits.removeFirst(pendingHead); pendingHead = 0 }
        metrics.confirmedLSN.store(confirmed, ordering: .relaxed)
        if metrics.deliveryErrors.load(ordering: .relaxed) > 0 && producer.failed > 0 {
            onWarning("Kafka delivery failed (\(producer.failed) events); the confirmed position stays before them — restart the capture")
        }
    }

    private func sendStatus(_ repl: PostgresConnection) throws {
        let now = WallClock.micros() - PgOutput.postgresEpochOffsetMicros
        try repl.sendCopyData(PgOutput.standbyStatusUpdate(write: max(received, confirmed), flush: confirmed, apply: confirmed, clockMicros: now))
    }

    private func measureSlotLag(_ sql: PostgresConnection) {
        guard let r = try? sql.execute("SELECT (pg_current_wal_lsn() - restart_lsn)::bigint FROM pg_replication_slots WHERE slot_name = $1",
                                       [configuration.slot]),
              let text = r.rows.first?.first ?? nil, let lag = Int64(text) else { return }
        metrics.slotLagBytes.store(lag, ordering: .relaxed)
        if lag > configuration.slotLagWarningBytes { onWarning("slot \(configuration.slot) retains \(lag) bytes of WAL") }
    }
}
