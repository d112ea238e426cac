public import Synchronization
import Histogram

/// A monotonically increasing counter, safe to bump from any thread.
public final class Counter: Sendable {
    @usableFromInline let value = Atomic<UInt64>(0)
    public init() {}
    @inlinable public func add(_ n: UInt64) { value.wrappingAdd(n, ordering: .relaxed) }
    public var current: UInt64 { value.load(ordering: .relaxed) }
}

/// A value that goes up and down (a watermark, a lag, an occupancy).
public final class Gauge: Sendable {
    @usableFromInline let value = Atomic<Int64>(0)
    public init(_ initial: Int64 = 0) { value.store(initial, ordering: .relaxed) }
    @inlinable public func set(_ v: Int64) { value.store(v, ordering: .relaxed) }
    public var current: Int64 { value.load(ordering: .relaxed) }
}

/// Occupancy and back-pressure of one channel (input gate).
public final class ChannelMetrics: Sendable {
    /// Batches queued now.
    public let occupancy = Gauge()
    /// The most batches ever queued at once.
    public let peakOccupancy = Gauge()
    /// How many times a producer was paused at the high mark.
    public let pauses = Counter()
    /// Total nanoseconds producers spent paused.
    public let backpressuredNanos = Counter()
    public init() {}
    @inlinable func recordOccupancy(_ n: Int) {
        occupancy.set(Int64(n))
        if Int64(n) > peakOccupancy.current { peakOccupancy.set(Int64(n)) }
    }
}

/// Per-operator counters.
public final class OperatorMetrics: Sendable {
    public let name: String
    public let recordsIn = Counter()
    public let recordsOut = Counter()
    /// Records that arrived after their windows were closed (sent to the late side output).
    public let lateRecords = Counter()
    /// Records dropped on purpose (e.g. malformed input sent to the dead-letter output).
    public let droppedRecords = Counter()
    /// Current watermark of the operator (ms), `Int64.min` before the first one.
    public let watermark = Gauge(Int64.min)
    public init(name: String) { self.name = name }
}

/// A latency histogram (HdrHistogram, microseconds), safe to record from several threads.
public final class LatencyHistogram: @unchecked Sendable {
    // @unchecked: the histogram is only touched under `lock`.
    private let lock = Mutex<Void>(())
    private nonisolated(unsafe) var histogram = Histogram<UInt64>(highestTrackableValue: LatencyHistogram.maxMicros, numberOfSignificantValueDigits: .three)
    /// The largest value kept (1 h); larger ones are recorded as it.
    static let maxMicros: UInt64 = 3_600_000_000
    /// Record calls kept since the last ``drainObservations(into:)`` once a metrics publisher
    /// tracks this histogram (nil: nobody does). One entry per `record` call (a sink batch), not per
    /// record; capped so a stalled publisher cannot grow it without bound.
    private nonisolated(unsafe) var pending: [UInt64]? = nil
    static let pendingCap = 65_536
    public init() {}
    /// Records `count` observations of `micros`.
    public func record(micros: UInt64, count: UInt64 = 1) {
        lock.withLock { _ in
            let v = min(micros, Self.maxMicros)
            _ = histogram.record(v, count: count)
            if pending != nil, pending!.count < Self.pendingCap { pending!.append(v) }
        }
    }
    /// Records each of `values` (µs) once, under one lock (a sink's batch of observations).
    public func record(micros values: [UInt64]) {
        guard !values.isEmpty else { return }
        lock.withLock { _ in
            for micros in values { _ = histogram.record(min(micros, Self.maxMicros)) }
            if pending != nil, pending!.count < Self.pendingCap { pending!.append(values.max()!) }
        }
    }
    /// Starts keeping record calls for ``drainObservations(into:)`` (a metrics publisher's bridge).
    package func trackObservations() {
        lock.withLock { _ in if pending == nil { pending = []; pending!.reserveCapacity(1024) } }
    }
    /// Moves the values (µs) recorded since the last call into `out` (one per `record` call).
    package func drainObservations(into out: inout [UInt64]) {
        lock.withLock { _ in
            guard pending != nil else { return }
            out.append(contentsOf: pending!)
            pending!.removeAll(keepingCapacity: true)
        }
    }
    /// The value at `percentile` (0–100), in milliseconds.
    public func percentileMillis(_ percentile: Double) -> Double {
        lock.withLock { _ in
            histogram.totalCount == 0 ? 0 : Double(histogram.valueAtPercentile(percentile)) / 1000.0
        }
    }
    public var count: UInt64 { lock.withLock { _ in histogram.totalCount } }
    /// Forgets every observation (e.g. between the phases of a benchmark).
    public func reset() { lock.withLock { _ in histogram.reset() } }
}

/// All metrics of one running job.
public final class JobMetrics: @unchecked Sendable {
    // @unchecked: the registries are only mutated under `lock`; the metric objects are thread-safe.
    private let lock = Mutex<Void>(())
    private nonisolated(unsafe) var operators: [OperatorMetrics] = []
    private nonisolated(unsafe) var channels: [(String, ChannelMetrics)] = []
    /// End-to-end latency: from the moment input entered the job to the moment a result reached a sink.
    public let endToEndLatency = LatencyHistogram()
    /// Source records read.
    public let sourceRecords = Counter()
    /// Checkpoints completed.
    public let checkpointsCompleted = Counter()
    /// Restores from a checkpoint (0 or 1 per run).
    public let restores = Counter()
    /// Time from a checkpoint's trigger to its completion (written to the store).
    public let checkpointDuration = LatencyHistogram()
    /// Size of the newest completed checkpoint's state (bytes, before compression).
    public let checkpointBytes = Gauge()
    /// Monotonic time the job started.
    public let startNanos = MonotonicClock.nanos()
    private nonisolated(unsafe) var publishers: [(ObjectIdentifier, @Sendable () -> Void)] = []
    private nonisolated(unsafe) var backlogs: [(ObjectIdentifier, @Sendable () -> Int64?)] = []
    public init() {}

    /// Adds a function that tells how many records a source has not read yet (a Kafka source's
    /// consumer lag), or nil when it does not know yet. At most one per `owner`.
    public func addBacklog(owner: AnyObject, _ backlog: @escaping @Sendable () -> Int64?) {
        let id = ObjectIdentifier(owner)
        lock.withLock { _ in
            if !backlogs.contains(where: { $0.0 == id }) { backlogs.append((id, backlog)) }
        }
    }

    /// Records the job's sources have not read yet (the sum of what they report, e.g. the consumer
    /// lag of every assigned Kafka partition), or nil when no source reports a backlog.
    public func sourceBacklog() -> Int64? {
        let providers = lock.withLock { _ in backlogs.map(\.1) }
        var total: Int64? = nil
        for p in providers { if let v = p() { total = (total ?? 0) + v } }
        return total
    }

    /// Adds a function the job's ``MetricsPublisher`` calls every interval, after the job's own
    /// metrics: connectors attach the bridge of their lock-free counters to swift-metrics here.
    /// At most one per `owner` (a source's readers all attach their shared metrics object).
    public func addPublisher(owner: AnyObject, _ publish: @escaping @Sendable () -> Void) {
        let id = ObjectIdentifier(owner)
        lock.withLock { _ in
            if !publishers.contains(where: { $0.0 == id }) { publishers.append((id, publish)) }
        }
    }
    var attachedPublishers: [@Sendable () -> Void] { lock.withLock { _ in publishers.map { $0.1 } } }

    public func registerOperator(_ name: String) -> OperatorMetrics {
        let m = OperatorMetrics(name: name)
        lock.withLock { _ in operators.append(m) }
        return m
    }
    public func registerChannel(_ name: String) -> ChannelMetrics {
        let m = ChannelMetrics()
        lock.withLock { _ in channels.append((name, m)) }
        return m
    }
    public var allOperators: [OperatorMetrics] { lock.withLock { _ in operators } }
    public var allChannels: [(String, ChannelMetrics)] { lock.withLock { _ in channels } }

    /// Total late records over all operators.
    public var lateRecords: UInt64 { allOperators.reduce(0) { $0 + $1.lateRecords.current } }
    /// Total dropped records over all operators.
    public var droppedRecords: UInt64 { allOperators.reduce(0) { $0 + $1.droppedRecords.current } }
    /// Nanoseconds sources spent paused by back-pressure.
    public var backpressuredNanos: UInt64 { allChannels.reduce(0) { $0 + $1.1.backpressuredNanos.current } }
    /// Times a producer was paused by back-pressure.
    public var backpressurePauses: UInt64 { allChannels.reduce(0) { $0 + $1.1.pauses.current } }
    /// Watermark lag: processing time minus the lowest operator watermark (ms); nil before any watermark.
    public func watermarkLagMillis(now: Int64 = WallClock.millis()) -> Int64? {
        let wms = allOperators.map { $0.watermark.current }.filter { $0 != Int64.min && $0 != Int64.max }
        guard let low = wms.min() else { return nil }
        return now - low
    }
}
