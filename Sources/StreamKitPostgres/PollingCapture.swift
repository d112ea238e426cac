import Foundation
public import StreamKit
public import StreamKitCapture
public import Logging
public import StreamKitKafka

/// Settings of a polling capture of one PostgreSQL table.
public struct PollingCaptureConfiguration: Sendable {
    /// libpq connection string or URL (`postgresql://user@host:port/db`).
    public var dsn: String
    /// The table (`schema.table` or `table` for `public`). Without a primary key its rows are
    /// read in (column, `ctid`) order and published with a null Kafka key (unless
    /// ``messageKeyColumns`` names key columns), as Debezium keys a table without a primary key.
    public var table: String
    /// The column that grows with every change of a row: `timestamp`/`timestamptz`/`date`
    /// (e.g. `updated_at`, set on every insert and update) or an integer version. Rows where it is
    /// NULL are never read. An index on `(column, primary key)` keeps the polls cheap.
    public var column: String
    /// Topic prefix and Debezium `source.name`: rows go to `<prefix>.<schema>.<table>`.
    public var topicPrefix: String
    /// Where the position is kept (written after Kafka acknowledged each batch).
    public var stateFile: String
    /// Rows per query (one Kafka flush and one state-file write per batch). Default: 1 000.
    public var batchSize = 1_000
    /// Pause between two polls once the table has been read to its end. Default: 1 s.
    public var interval: Duration = .seconds(1)
    /// Timestamp columns: every poll reads again from `position - safetyMargin`, so a row whose
    /// transaction committed up to this long after the time it wrote into the column is still
    /// seen (rows already published are recognised by (key, column value) and skipped).
    /// It must exceed the longest writing transaction. Default: 5 s.
    public var safetyMargin: Duration = .seconds(5)
    /// Integer version columns: the same overlap, in version units. Default: 1 000.
    public var versionSafetyMargin: Int64 = 1_000
    /// How long to wait for Kafka to acknowledge a batch. Default: 60 s.
    public var flushTimeout: Duration = .seconds(60)
    /// Consecutive failed reconnects to PostgreSQL before the capture gives up (the wait doubles
    /// from 0.5 s to 10 s; a session that published anything or ran a minute starts the count again).
    public var reconnectAttempts = 60
    /// Debezium's `message.key.columns` (see ``PostgresCaptureConfiguration/messageKeyColumns``):
    /// the Kafka key columns instead of the primary key. Default: none.
    public var messageKeyColumns = MessageKeyColumns()

    public init(dsn: String, table: String, column: String, topicPrefix: String, stateFile: String) {
        self.dsn = dsn; self.table = table; self.column = column; self.topicPrefix = topicPrefix; self.stateFile = stateFile
    }
}

/// The polling capture's durable position.
struct PollingCaptureState: Codable, Equatable {
    var table: String
    var column: String
    /// The highest column value published (its text form), nil: nothing yet.
    var position: String?
    /// The same value as an orderable number (µs since the epoch, or the version).
    var ordinal: Int64 = .min
    /// The first full read of the table (published as `op: "r"`) finished.
    var initialDone = false

    static func load(_ path: String) -> PollingCaptureState? {
        CaptureStateFile.load(PollingCaptureState.self, from: path)  // cold path: once per start
    }

    func save(_ path: String) throws {
        try CaptureStateFile.save(self, to: path)  // once per batch
    }
}

/// Polling capture of one PostgreSQL table into Kafka, for databases where neither logical
/// replication nor triggers are allowed: repeatedly
/// `SELECT ... WHERE (column, pk) > ($last, $pk) ORDER BY column, pk LIMIT n`, each row published
/// as a Debezium envelope (same shape and topic as ``PostgresCapture``: `<prefix>.<schema>.<table>`,
/// key = primary key) with `before: null`.
///
/// ```swift
/// let c = PollingCaptureConfiguration(dsn: dsn, table: "orders", column: "updated_at", topicPrefix: "cdc",
///                                     stateFile: "orders.poll.json")
/// let capture = PollingCapture(configuration: c, kafka: KafkaConfiguration(bootstrapServers: brokers))
/// Thread { try? capture.run(until: { stopped.load(ordering: .relaxed) }) }.start()
/// ```
///
/// **What polling cannot do.** It sees no deletes (a deleted row simply stops appearing; no `d`
/// event, no tombstone) and only the latest state of a row at poll time: several updates between
/// two polls arrive as one event. It cannot tell an insert from an update: rows of the first full
/// read are published as `op: "r"` (`source.snapshot` `"true"`), every later one as `op: "u"`
/// (`source.snapshot` `"false"`). A change that does not move the column forward (an update
/// that leaves `updated_at` alone, a value set into the past) is not seen. `source.ts_ms` is the
/// column's time (timestamp columns), `source.lsn` the column's value as a number (µs or
/// version), `source.txId` null.
///
/// **Commit order.** `updated_at = now()` is the writing transaction's *start* time and a
/// sequence-drawn version is taken before commit, so a transaction that commits after a poll
/// has already moved past its value would be skipped by a plain `> $last` cursor. Every poll
/// therefore starts again at `position - safetyMargin` (``PollingCaptureConfiguration/safetyMargin``,
/// default 5 s; ``PollingCaptureConfiguration/versionSafetyMargin`` for versions) and skips the rows
/// it already published, recognised by (key, column value) in an in-memory set that forgets
/// entries once they fall out of the window. A transaction that commits more than the margin
/// after its value is still missed: the margin must exceed the longest writing transaction.
///
/// **Position and restarts.** The position (highest column value published) is written to the
/// state file only after Kafka acknowledged the batch: a restart loses nothing and re-publishes
/// at most the rows of the overlap window (the dedupe set is not persisted), at least once.
///
/// ``run(until:)`` blocks: call it on a dedicated thread.
public final class PollingCapture: ChangeCapture, @unchecked Sendable {
    // @unchecked: all mutable state is used only by the thread running `run(until:)`.
    public let configuration: PollingCaptureConfiguration
    public let kafka: KafkaConfiguration
    public let metrics: FallbackCaptureMetrics
    /// Where warnings and progress go (metadata: the source name). Connection strings are logged without passwords.
    public let logger: Logger
    public let lifecycle = CaptureLifecycle()
    let reporter: CaptureMetricsReporter

    private var state: PollingCaptureState
    private var encoder: DebeziumChangeEncoder!
    /// (key JSON, column text) of rows published whose value is still inside the overlap window → ordinal.
    private var published: [String: Int64] = [:]

    public init(configuration: PollingCaptureConfiguration, kafka: KafkaConfiguration, metrics: FallbackCaptureMetrics = FallbackCaptureMetrics(),
                logger: Logger = .disabled) {
        self.configuration = configuration; self.kafka = kafka; self.metrics = metrics
        var logger = logger
        logger[metadataKey: LogMetadataKey.captureSource] = "\(configuration.topicPrefix)"
        self.logger = logger
        reporter = CaptureMetricsReporter(source: configuration.topicPrefix)
        state = PollingCaptureState(table: configuration.table, column: configuration.column)
    }

    private enum ColumnKind { case time, version }

    /// Runs until `stop` becomes true (then returns after the batch in progress) or an error occurs
    /// (then throws; a restart resumes from the last acknowledged batch).
    public func metricsJSON() -> String { metrics.json() }

    public func run(until stop: @escaping @Sendable () -> Bool) throws {
        try FallbackCaptureRun.run(kind: "polling", dsn: configuration.dsn, lifecycle: lifecycle, logger: logger, metrics: metrics,
                                   reconnectAttempts: configuration.reconnectAttempts,
                                   report: { metrics.report(to: reporter) }, until: stop) { try capture(until: $0) }
    }

    private func capture(until stop: @escaping @Sendable () -> Bool) throws {
        let c = configuration
        if let saved = PollingCaptureState.load(c.stateFile) {
            if saved.table == c.table && saved.column == c.column { state = saved } else {
                logger.warning("the state file is for another table or column: starting from the beginning",
                               metadata: [LogMetadataKey.stateFile: "\(c.stateFile)", LogMetadataKey.table: "\(saved.table).\(saved.column)"])
            }
        }
        let sql = try PostgresConnection(dsn: c.dsn)
        let q = PostgresCatalog.qualified(c.table)
        guard let (table, typeNames) = try PostgresCatalog.loadTable(sql, schema: q.schema, name: q.name, version: 1) else {
            throw CaptureError(.configuration, "polling capture: no table \(c.table)")
        }
        // The Kafka key (configured columns, else the primary key, else none: a null key); pages
        // are read in (column, primary key) order, or (column, ctid) without a primary key.
        var keyed = table
        keyed.keyColumns = try c.messageKeyColumns.keyColumns(schema: q.schema, name: q.name, columns: table.columns, defaultKey: table.keyColumns)
        let keyless = table.keyColumns.isEmpty
        guard let ci = table.columns.firstIndex(where: { $0.name == c.column }) else {
            throw CaptureError(.configuration, "polling capture: \(c.table) has no column \(c.column)")
        }
        let kind: ColumnKind
        switch table.columns[ci].typeID {
        case PostgresTypes.timestamp, PostgresTypes.timestamptz, PostgresTypes.date: kind = .time
        case PostgresTypes.int2, PostgresTypes.int4, PostgresTypes.int8: kind = .version
        default:
            throw CaptureError(.configuration, "polling capture: \(c.table).\(c.column) is \(typeNames[ci]); it must be a timestamp, timestamptz, date or integer column")
        }
        let database = try sql.execute("SELECT current_database()").rows.first?.first ?? nil
        encoder = DebeziumChangeEncoder(serverName: c.topicPrefix, database: database ?? "", connector: "postgresql")
        let producer = try KafkaProducer(configuration: kafka, idempotent: true, extraProperties: ["linger.ms": "2"])
        let topic = "\(c.topicPrefix).\(q.schema).\(q.name)"
        lifecycle.transition { $0.streaming() }

        let rel = PostgresCatalog.quotedName(sql, q.schema, q.name)
        let col = sql.quoteIdentifier(c.column)
        let keys = keyless ? ["ctid"] : table.keyColumns.map { sql.quoteIdentifier(table.columns[$0].name) }
        let keyTypes = keyless ? ["tid"] : table.keyColumns.map { typeNames[$0] }
        // µs since the epoch, clamped to the mapping's infinity values (±infinity, year 294276).
        let ordinal = kind == .time
            ? "least(greatest(extract(epoch FROM \(col)) * 1000000, \(TemporalMapping.negativeInfinityMicros)), \(TemporalMapping.positiveInfinityMicros))::bigint"
            : "\(col)::bigint"
        let select = "SELECT \(table.columns.map { sql.quoteIdentifier($0.name) }.joined(separator: ", ")), \(ordinal)\(keyless ? ", ctid" : "") FROM \(rel)"
        let orderBy = "ORDER BY \(([col] + keys).joined(separator: ", ")) LIMIT $1"
        let fromStart = "\(select) WHERE \(col) IS NOT NULL \(orderBy)"
        let margin = kind == .time ? "$3::interval" : "$3::bigint"
        let fromWindow = "\(select) WHERE \(col) >= $2::\(typeNames[ci]) - \(margin) \(orderBy)"
        let afterList = ([col] + keys).joined(separator: ", ")
        let afterParams = (["$2::\(typeNames[ci])"] + keyTypes.enumerated().map { "$\($0.offset + 3)::\($0.element)" }).joined(separator: ", ")
        let after = "\(select) WHERE (\(afterList)) > (\(afterParams)) \(orderBy)"
        let marginValue = kind == .time ? "\(c.safetyMargin.milliseconds) milliseconds" : String(c.versionSafetyMargin)
        let marginUnits = kind == .time ? c.safetyMargin.milliseconds * 1000 : c.versionSafetyMargin
        let n = table.columns.count
        var pruneAt = 10_000

        while !stop() {
            // One pass: from the overlap window (or the beginning) to the end of the table.
            var rows: PostgresRows
            if let position = state.position {
                rows = try sql.execute(fromWindow, [String(c.batchSize), position, marginValue])
            } else {
                rows = try sql.execute(fromStart, [String(c.batchSize)])
            }
            var reachedEnd = false
            while true {
                let started = WallClock.micros()
                let op = state.initialDone ? UInt8(ascii: "u") : UInt8(ascii: "r")
                var sent = 0
                var highest: (text: String, ordinal: Int64)? = nil
                for r in rows.rows {
                    guard let text = r[ci], let ord = r[n].flatMap({ Int64($0) }) else { continue }
                    let values = r[0..<n].map { $0.map(ColumnValue.text) ?? .null }
                    let key = try encoder.key(table: keyed, values: values)
                    // A row is (its key or, without a primary key, its ctid, column value).
                    let rowID = keyless ? (r[n + 1] ?? "") : table.keyColumns.map { r[$0] ?? "\u{0}" }.joined(separator: "\u{2}")
                    let identity = rowID + "\u{1}" + text
                    // `infinity` never becomes the position: later changes (below it) would not be read again.
                    if (kind == .version || ord < TemporalMapping.positiveInfinityMicros) && (highest == nil || ord >= highest!.ordinal) {
                        highest = (text, ord)
                    }
                    if published[identity] != nil {
                        metrics.duplicatesSkipped.add(1, ordering: .relaxed)
                        continue
                    }
                    published[identity] = ord
                    let pos = PostgresSourceFields(lsn: UInt64(max(0, ord)), lastCommitLSN: nil, txID: nil,
                                                             tsMillis: kind == .time ? ord / 1000 : WallClock.millis(),
                                                             snapshot: state.initialDone ? "false" : "true")
                    let value = try encoder.value(op: op, table: keyed, before: nil, after: values, source: pos, nowMillis: WallClock.millis())
                    try producer.send(topic: topic, key: key, value: value)
                    sent += 1
                }
                if sent > 0 {
                    try PostgresCatalog.flush(producer, timeout: c.flushTimeout, errors: metrics.deliveryErrors)
                    metrics.changes.add(sent, ordering: .relaxed)
                    metrics.batches.add(1, ordering: .relaxed)
                    let batchMicros = WallClock.micros() - started
                    metrics.batchLatency.record(micros: UInt64(max(0, batchMicros)))
                    reporter.duration("batch_latency", micros: batchMicros)   // per batch
                    metrics.report(to: reporter)
                }
                // Acknowledged: the position may move forward (never back: the window re-reads older rows).
                if let h = highest, state.position == nil || h.ordinal > state.ordinal {
                    state.position = h.text
                    state.ordinal = h.ordinal
                    try state.save(c.stateFile)
                }
                // Forget what can no longer be read again (below the window); amortised: only when the set doubled.
                if published.count > pruneAt, state.position != nil {
                    let floor = state.ordinal &- marginUnits
                    published = published.filter { $0.value >= floor }
                    pruneAt = max(10_000, 2 * published.count)
                }
                if rows.rows.count < c.batchSize { reachedEnd = true; break }
                if stop() { break }
                let last = rows.rows[rows.rows.count - 1]
                rows = try sql.execute(after, [String(c.batchSize), last[ci]] + (keyless ? [last[n + 1]] : table.keyColumns.map { last[$0] }))
            }
            if !state.initialDone && reachedEnd {
                state.initialDone = true
                try state.save(c.stateFile)
            }
            // Forget what can no longer be read again (below the window).
            if state.position != nil {
                let floor = state.ordinal &- marginUnits
                published = published.filter { $0.value >= floor }
            }
            PostgresCatalog.sleep(c.interval, until: stop)
        }
        try producer.flush(timeout: c.flushTimeout)
    }
}
