import CoreMetrics
import Synchronization

// The runtime's lock-free counters (``Counter``, ``Gauge``, ``LatencyHistogram``) stay the source of
// truth: the hot paths bump atomics only, and the benchmarks read them. A ``MetricsPublisher``
// copies them into swift-metrics (whatever backend the executable bootstrapped) from its own
// thread every `interval`, as deltas for counters — never once per record.

/// Copies a lock-free ``Counter`` into a swift-metrics counter as deltas. Used by one publisher thread.
package final class CounterBridge: @unchecked Sendable {
    // @unchecked: only the publisher thread calls `publish`.
    let counter: CoreMetrics.Counter
    private var last: UInt64 = 0
    package init(_ label: String, _ dimensions: [(String, String)]) {
        counter = CoreMetrics.Counter(label: label, dimensions: dimensions)
    }
    package func publish(_ current: UInt64) {
        guard current > last else { return }
        counter.increment(by: Int64(clamping: current - last))
        last = current
    }
}

/// Copies nanoseconds accumulated in a lock-free ``Counter`` into a swift-metrics floating-point
/// counter of seconds (Prometheus' `_seconds_total`).
package final class SecondsCounterBridge: @unchecked Sendable {
    // @unchecked: only the publisher thread calls `publish`.
    let counter: FloatingPointCounter
    private var last: UInt64 = 0
    package init(_ label: String, _ dimensions: [(String, String)]) {
        counter = FloatingPointCounter(label: label, dimensions: dimensions)
    }
    package func publish(nanos current: UInt64) {
        guard current > last else { return }
        counter.increment(by: Double(current - last) / 1e9)
        last = current
    }
}

/// Drains the observations a ``LatencyHistogram`` collected since the last call into a
/// swift-metrics timer (a Prometheus histogram).
package final class TimerBridge: @unchecked Sendable {
    // @unchecked: only the publisher thread calls `publish`.
    let timer: CoreMetrics.Timer
    private let histogram: LatencyHistogram
    private var scratch: [UInt64] = []
    package init(_ label: String, _ dimensions: [(String, String)], histogram: LatencyHistogram) {
        timer = CoreMetrics.Timer(label: label, dimensions: dimensions)
        self.histogram = histogram
        histogram.trackObservations()
    }
    package func publish() {
        histogram.drainObservations(into: &scratch)
        for micros in scratch { timer.recordMicroseconds(micros) }
        scratch.removeAll(keepingCapacity: true)
    }
}

/// Runs publish functions on one thread every `interval` (and once more on ``stop()``), so
/// lock-free counters reach swift-metrics without a call into a metrics handler on any hot path.
///
/// ```swift
/// let publisher = MetricsPublisher(interval: .seconds(1))
/// publisher.add { bridge.publish() }
/// publisher.start()
/// ...
/// publisher.stop()   // publishes a last time
/// ```
public final class MetricsPublisher: @unchecked Sendable {
    // @unchecked: `publishers` and `stopped` are guarded by `lock`; publish functions run on the
    // publisher thread, or on the thread calling `stop`/`publishNow` under `publishLock`.
    public let interval: Duration
    private let lock = ConditionLock()
    private let publishLock = ConditionLock()
    private var publishers: [@Sendable () -> Void] = []
    private var started = false
    private var stopped = false
    private var threadDone = true

    public init(interval: Duration = .seconds(1)) { self.interval = interval }

    /// Adds a publish function (called with no lock of the caller held).
    public func add(_ publish: @escaping @Sendable () -> Void) { lock.withLock { publishers.append(publish) } }

    /// Runs every publish function now.
    public func publishNow() {
        let all = lock.withLock { publishers }
        publishLock.withLock { for p in all { p() } }
    }

    /// Starts the publisher thread. Idempotent.
    public func start() {
        let go = lock.withLock { () -> Bool in
            if started { return false }
            started = true; threadDone = false
            return true
        }
        guard go else { return }
        let nanos = UInt64(max(1, interval.milliseconds)) * 1_000_000
        _ = startThread(name: "metrics-publisher") { [self] in
            while true {
                let stop = lock.withLock { () -> Bool in
                    if !stopped { _ = lock.wait(nanos: nanos) }
                    return stopped
                }
                if stop { break }
                publishNow()
            }
            lock.withLock { threadDone = true; lock.broadcast() }
        }
    }

    /// Stops the thread and publishes a last time.
    public func stop() {
        lock.withLock {
            stopped = true
            lock.broadcast()
            while !threadDone { lock.wait() }
        }
        publishNow()
    }
}

/// Publishes a job's ``JobMetrics`` (operators, channels, checkpoints, latency) and the bridges
/// its connectors attached (``JobMetrics/addPublisher(_:)``).
final class JobMetricsBridge: @unchecked Sendable {
    // @unchecked: only the publisher thread (or a final `publishNow`, serialized by the
    // publisher's lock) calls `publish`.
    let metrics: JobMetrics
    let job: String
    private final class OperatorBridges {
        let recordsIn, recordsOut, late, dropped: CounterBridge
        let dimensions: [(String, String)]
        /// Created at the first watermark: an operator without event time (a source) has no series.
        var watermark: CoreMetrics.Gauge?
        init(_ d: [(String, String)]) {
            dimensions = d
            recordsIn = CounterBridge("streamkit_operator_records_in_total", d)
            recordsOut = CounterBridge("streamkit_operator_records_out_total", d)
            late = CounterBridge("streamkit_operator_late_records_total", d)
            dropped = CounterBridge("streamkit_operator_dropped_records_total", d)
        }
    }
    private struct ChannelBridges {
        let pauses: CounterBridge
        let backpressure: SecondsCounterBridge
        let occupancy: CoreMetrics.Gauge
    }
    private var operators: [ObjectIdentifier: OperatorBridges] = [:]
    private var channels: [ObjectIdentifier: ChannelBridges] = [:]
    private let sourceRecords, checkpoints, restores, late, dropped: CounterBridge
    private let checkpointBytes, watermarkLag: CoreMetrics.Gauge
    private let latency, checkpointDuration: TimerBridge

    init(metrics: JobMetrics, job: String) {
        self.metrics = metrics; self.job = job
        let j = [("job", job)]
        sourceRecords = CounterBridge("streamkit_source_records_total", j)
        checkpoints = CounterBridge("streamkit_checkpoints_completed_total", j)
        restores = CounterBridge("streamkit_restores_total", j)
        late = CounterBridge("streamkit_late_records_total", j)
        dropped = CounterBridge("streamkit_dropped_records_total", j)
        checkpointBytes = CoreMetrics.Gauge(label: "streamkit_checkpoint_size_bytes", dimensions: j)
        watermarkLag = CoreMetrics.Gauge(label: "streamkit_watermark_lag_seconds", dimensions: j)
        latency = TimerBridge("streamkit_end_to_end_latency_seconds", j, histogram: metrics.endToEndLatency)
        checkpointDuration = TimerBridge("streamkit_checkpoint_duration_seconds", j, histogram: metrics.checkpointDuration)
    }

    /// `"uid[3]"` → (`"uid"`, `"3"`).
    static func split(_ name: String) -> (String, String) {
        guard name.hasSuffix("]"), let open = name.lastIndex(of: "[") else { return (name, "0") }
        return (String(name[..<open]), String(name[name.index(after: open)..<name.index(before: name.endIndex)]))
    }

    func publish() {
        for op in metrics.allOperators {
            let key = ObjectIdentifier(op)
            let b: OperatorBridges
            if let existing = operators[key] { b = existing } else {
                let (name, subtask) = Self.split(op.name)
                let d = [("job", job), ("operator", name), ("subtask", subtask)]
                b = OperatorBridges(d)
                operators[key] = b
            }
            b.recordsIn.publish(op.recordsIn.current)
            b.recordsOut.publish(op.recordsOut.current)
            b.late.publish(op.lateRecords.current)
            b.dropped.publish(op.droppedRecords.current)
            let wm = op.watermark.current
            if wm != Int64.min && wm != Int64.max {
                if b.watermark == nil {
                    b.watermark = CoreMetrics.Gauge(label: "streamkit_operator_watermark_timestamp_seconds", dimensions: b.dimensions)
                }
                b.watermark!.record(Double(wm) / 1000)
            }
        }
        for (name, channel) in metrics.allChannels {
            let key = ObjectIdentifier(channel)
            let b: ChannelBridges
            if let existing = channels[key] { b = existing } else {
                let (op, subtask) = Self.split(name)
                let d = [("job", job), ("operator", op), ("subtask", subtask)]
                b = ChannelBridges(pauses: CounterBridge("streamkit_backpressure_pauses_total", d),
                                   backpressure: SecondsCounterBridge("streamkit_backpressure_seconds_total", d),
                                   occupancy: CoreMetrics.Gauge(label: "streamkit_channel_occupancy_batches", dimensions: d))
                channels[key] = b
            }
            b.pauses.publish(channel.pauses.current)
            b.backpressure.publish(nanos: channel.backpressuredNanos.current)
            b.occupancy.record(channel.occupancy.current)
        }
        sourceRecords.publish(metrics.sourceRecords.current)
        checkpoints.publish(metrics.checkpointsCompleted.current)
        restores.publish(metrics.restores.current)
        late.publish(metrics.lateRecords)
        dropped.publish(metrics.droppedRecords)
        if metrics.checkpointsCompleted.current > 0 { checkpointBytes.record(metrics.checkpointBytes.current) }
        if let lag = metrics.watermarkLagMillis() { watermarkLag.record(Double(lag) / 1000) }
        latency.publish()
        checkpointDuration.publish()
        for p in metrics.attachedPublishers { p() }
    }
}
