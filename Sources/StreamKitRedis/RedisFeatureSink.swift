public import StreamKit
public import Glibc

/// Settings of a ``RedisFeatureSink``.
public struct RedisFeatureSinkConfiguration: Sendable {
    /// The Redis server. Default: `127.0.0.1:6379`.
    public var redis: RedisConfiguration
    /// Commands (entities) per pipelined round trip. Default: 1000.
    public var pipelineDepth: Int = 1000
    /// Distinct entities buffered before a flush inside a batch. Default: 16384.
    public var maxBufferedEntities: Int = 16384
    /// Flush at the end of every input batch (bounded latency). When false, updates are buffered
    /// (and coalesced) until the buffer fills, a checkpoint, or the end of input. Default: true.
    public var flushEveryBatch: Bool = true
    /// Mini-batching: when set, updates are buffered (and coalesced per entity) across batches and
    /// flushed once the oldest buffered update waited this long (checked at batch ends and
    /// processing-time ticks), when the buffer holds ``maxBufferedEntities``, at checkpoints and at
    /// the end of input. Overrides ``flushEveryBatch``. Bounds feature latency by this delay; while
    /// catching up, consecutive window results of one entity become one write. Default: nil.
    public var maxFlushDelay: Duration? = nil
    /// Throw (fail the job) when Redis rejects a write with an error reply (e.g. `WRONGTYPE`);
    /// when false such writes are only counted in ``RedisFeatureSinkMetrics/errors``. Default: true.
    public var failOnCommandError: Bool = true

    public init(redis: RedisConfiguration = RedisConfiguration()) { self.redis = redis }
    /// Settings for the server at `url`.
    public init(url: String) throws { self.redis = try RedisConfiguration(url: url) }
}

/// Counters of a ``RedisFeatureSink`` (shared by all its subtasks; safe to read from any thread).
public final class RedisFeatureSinkMetrics: Sendable {
    /// Entity updates written (the script found no newer event time).
    public let written = Counter()
    /// Updates skipped by Redis because the stored event time was newer (stale or replayed-older).
    public let skippedStale = Counter()
    /// Updates merged away inside one flush (an update of the same entity with a newer event time won).
    public let coalesced = Counter()
    /// Updates Redis rejected with an error reply.
    public let errors = Counter()
    /// Pipelined round trips.
    public let roundTrips = Counter()
    /// Flushes (batch ends, full buffers, checkpoints, end of input) that wrote something.
    public let flushes = Counter()
    /// Reconnects after I/O errors.
    public let reconnects = Counter()
    /// Time spent writing (building commands and pipelined round trips), in ns: `written / flushNanos`
    /// is the sink's own write rate, comparable with the raw Redis rate of its command shape.
    public let flushNanos = Counter()
    /// Event time → written, per update Redis applied: the `__updated` wall clock minus the
    /// update's event time (ms resolution). With event time = commit time this is commit →
    /// feature for every write, not only each entity's newest.
    public let eventToWrite = LatencyHistogram()
    public init() {}
}

/// Writes feature vectors into Redis (see ``FeatureView`` for the key layout), idempotently and
/// monotonically in event time.
///
/// Each element is mapped to a ``FeatureUpdate`` by `update` (nil skips the element). Updates are
/// buffered per entity — several updates of one entity inside a flush are coalesced, the newest
/// event time wins — and written with one `EVALSHA` per entity, pipelined `pipelineDepth` at a time.
/// The script writes only when the update's event time is ≥ the stored one, so a replay after a
/// restore from a checkpoint, or a late stale update, never overwrites newer features; replaying the
/// same update is idempotent. Buffers are flushed at the end of each batch (configurable), when
/// full, at each checkpoint (`snapshotState`) and at the end of input — so a completed checkpoint
/// implies all updates before it are in Redis (at-least-once, made effectively exactly-once by the
/// monotonic write).
///
/// Redis I/O runs on the sink's subtask thread (blocking, never on the concurrency pool). An I/O
/// error reconnects with backoff and re-sends the pipeline (safe: the writes are idempotent); when
/// Redis stays unreachable the sink throws a retriable `.connector` error.
///
/// ```swift
/// let view = FeatureView(name: "user_activity", entityKey: "user_id",
///                        features: [.int("clicks"), .double("amount")], ttl: .hours(24), version: 1)
/// let metrics = RedisFeatureSinkMetrics()
/// stream.sink("features") {
///     RedisFeatureSink(view: view, configuration: config, metrics: metrics) { (a: Activity) in
///         FeatureUpdate(entity: String(a.userId), eventTime: a.tsMs,
///                       features: ["clicks": .int(a.clicks), "amount": .double(a.amount)])
///     }
/// }
/// ```
public struct RedisFeatureSink<Element: Sendable>: StreamOperator {
    public typealias Input = Element
    public typealias Output = Never

    public let view: FeatureView
    public let configuration: RedisFeatureSinkConfiguration
    public let metrics: RedisFeatureSinkMetrics
    let update: @Sendable (Element) -> FeatureUpdate?
    var writer: FeatureStoreWriter?

    public init(view: FeatureView, configuration: RedisFeatureSinkConfiguration,
                metrics: RedisFeatureSinkMetrics = RedisFeatureSinkMetrics(),
                update: @escaping @Sendable (Element) -> FeatureUpdate?) {
        self.view = view; self.configuration = configuration; self.metrics = metrics; self.update = update
    }

    public mutating func open(context: OperatorContext) throws {
        writer = try FeatureStoreWriter(view: view, configuration: configuration, metrics: metrics)
        let bridge = RedisFeatureSinkMetricsBridge(metrics: metrics, view: view.name)
        context.jobMetrics.addPublisher(owner: metrics) { bridge.publish() }
    }

    public mutating func processBatch(_ input: inout Batch<Element>, into output: inout Batch<Never>,
                                      side: inout Batch<Never>, context: OperatorContext) throws {
        guard let writer else { throw StreamKitError(.state, "RedisFeatureSink used before open") }
        for v in input.values {
            guard let u = update(v) else { continue }
            if writer.bufferedEntities == 0 { oldestBufferedNanos = MonotonicClock.nanos() }
            writer.add(u)
            if writer.bufferedEntities >= configuration.maxBufferedEntities { try writer.flush() }
        }
        if let delay = configuration.maxFlushDelay {
            try flushIfDue(delay)
        } else if configuration.flushEveryBatch {
            try writer.flush()
        }
        recordLatency(input, context)
    }

    /// Monotonic time the oldest buffered update arrived (mini-batching).
    var oldestBufferedNanos: UInt64 = 0

    mutating func flushIfDue(_ delay: Duration) throws {
        guard let writer, writer.bufferedEntities > 0 else { return }
        if MonotonicClock.nanos() &- oldestBufferedNanos >= UInt64(delay.milliseconds) &* 1_000_000 { try writer.flush() }
    }

    public mutating func processProcessingTime(_ now: Int64, into output: inout Batch<Never>,
                                               side: inout Batch<Never>, context: OperatorContext) throws {
        if let delay = configuration.maxFlushDelay { try flushIfDue(delay) }
    }

    public mutating func snapshotState(_ snapshot: inout OperatorSnapshot, context: OperatorContext) throws {
        try writer?.flush()
    }

    public mutating func finish(into output: inout Batch<Never>, side: inout Batch<Never>, context: OperatorContext) throws {
        try writer?.flush()
        writer?.close()
    }
}

/// Buffers, coalesces and writes feature updates of one view over one connection (one per subtask).
final class FeatureStoreWriter {
    let view: FeatureView
    let configuration: RedisFeatureSinkConfiguration
    let metrics: RedisFeatureSinkMetrics
    let connection: RedisConnection
    let ttlMillis: Int64
    /// Pending updates, one per entity, and the entity → index map that coalesces them.
    var pending: [FeatureUpdate] = []
    /// Event time → written of one pipeline's applied updates (µs), reused.
    var ages: [UInt64] = []
    var index: [String: Int] = [:]
    var commands: RedisCommandBuffer
    var replies: [RedisReply] = []
    var reconnectsSeen = 0
    /// Wall clock of the `__updated` field (replaceable in tests).
    var now: () -> Int64 = { WallClock.millis() }

    init(view: FeatureView, configuration: RedisFeatureSinkConfiguration, metrics: RedisFeatureSinkMetrics) throws {
        guard configuration.pipelineDepth > 0 else { throw StreamKitError(.configuration, "pipelineDepth must be > 0") }
        guard view.ttl.milliseconds > 0 else { throw StreamKitError(.configuration, "feature view \(view.name): ttl must be > 0") }
        self.view = view; self.configuration = configuration; self.metrics = metrics
        ttlMillis = view.ttl.milliseconds
        commands = RedisCommandBuffer(capacity: configuration.pipelineDepth * 256)
        connection = try RedisConnection(configuration.redis)
        // Load once up front: later NOSCRIPT replies (server restart) are handled by the connection.
        try connection.load(FeatureUpsert.script)
    }

    var bufferedEntities: Int { pending.count }

    func add(_ update: FeatureUpdate) {
        if let i = index[update.entity] {
            // Keep the newest by event time; on a tie the later arrival wins (as the script would).
            if update.eventTime >= pending[i].eventTime { pending[i] = update }
            metrics.coalesced.add(1)
        } else {
            index[update.entity] = pending.count
            pending.append(update)
        }
    }

    func flush() throws {
        guard !pending.isEmpty else { return }
        let flushStart = MonotonicClock.nanos()
        defer { metrics.flushNanos.add(MonotonicClock.nanos() &- flushStart) }
        let updated = now()
        var firstError: String? = nil
        var errors = 0
        var start = 0
        while start < pending.count {
            let end = min(start + configuration.pipelineDepth, pending.count)
            commands.removeAll()
            for i in start..<end {
                FeatureUpsert.append(pending[i], view: view, ttlMillis: ttlMillis, updated: updated, to: &commands)
            }
            try connection.pipeline(commands, into: &replies, scripts: [FeatureUpsert.script])
            metrics.roundTrips.add(1)
            var written: UInt64 = 0, stale: UInt64 = 0
            ages.removeAll(keepingCapacity: true)
            for (k, r) in replies.enumerated() {
                switch r {
                case .integer(1):
                    written += 1
                    ages.append(UInt64(clamping: (updated &- pending[start &+ k].eventTime) &* 1000))
                case .integer(0): stale += 1
                default:
                    errors += 1
                    if firstError == nil { firstError = "\(r)" }
                }
            }
            metrics.written.add(written); metrics.skippedStale.add(stale)
            metrics.eventToWrite.record(micros: ages)
            start = end
        }
        if connection.reconnects != reconnectsSeen {
            metrics.reconnects.add(UInt64(connection.reconnects - reconnectsSeen)); reconnectsSeen = connection.reconnects
        }
        metrics.flushes.add(1)
        pending.removeAll(keepingCapacity: true)
        index.removeAll(keepingCapacity: true)
        if errors > 0 {
            metrics.errors.add(UInt64(errors))
            configuration.redis.logger.warning("Redis rejected feature writes", metadata: [
                LogMetadataKey.featureView: "\(view.name)", "count": "\(errors)", LogMetadataKey.error: "\(firstError!)",
            ])
            if configuration.failOnCommandError {
                throw StreamKitError(.connector, "Redis rejected \(errors) feature writes of view \(view.name): \(firstError!)")
            }
        }
    }

    func close() { connection.close() }
}
