public import Synchronization
public import StreamKit

/// The counters every log-based capture keeps (thread-safe atomics, read by benchmarks and status
/// files); a plug-in adds its own in a subclass (PostgreSQL: LSNs, slot lag). ``report(to:)``
/// hands them to swift-metrics periodically.
open class CaptureMetrics: @unchecked Sendable {
    // @unchecked: every stored property is an atomic or a locked histogram.
    public let changes = Atomic<Int>(0)
    public let snapshotRows = Atomic<Int>(0)
    public let transactions = Atomic<Int>(0)
    public let skippedTransactions = Atomic<Int>(0)
    public let deliveryErrors = Atomic<Int>(0)
    /// Events of a re-delivered, partly acknowledged transaction that were not published again.
    public let skippedEvents = Atomic<Int>(0)
    /// Times the capture reconnected after losing the database.
    public let reconnects = Atomic<Int>(0)
    public let heartbeats = Atomic<Int>(0)
    /// Rows published by incremental snapshots (`op: "r"`, `snapshot: "incremental"`).
    public let incrementalRows = Atomic<Int>(0)
    /// Tables waiting for or in an incremental snapshot.
    public let incrementalTablesPending = Atomic<Int>(0)
    /// Commit → acknowledged by Kafka, per transaction (µs).
    public let latency = LatencyHistogram()
    /// Commit → the commit received by the capture, per transaction (µs): the database side of `latency`.
    public let receiveLatency = LatencyHistogram()
    private let started = MonotonicClock.nanos()

    public init() {}

    /// Percentile `p` (0–100) of commit → Kafka-acknowledged latency in milliseconds.
    public func latencyMillis(percentile p: Double) -> Double {
        latency.percentileMillis(p)
    }

    public var seconds: Double { Double(MonotonicClock.nanos() &- started) / 1e9 }

    /// Reports the totals and gauges to swift-metrics (on the capture's confirm tick: never per change).
    open func report(to reporter: CaptureMetricsReporter) {
        reporter.total("changes", changes.load(ordering: .relaxed))
        reporter.total("snapshot_rows", snapshotRows.load(ordering: .relaxed))
        reporter.total("incremental_snapshot_rows", incrementalRows.load(ordering: .relaxed))
        reporter.total("transactions", transactions.load(ordering: .relaxed))
        reporter.total("skipped_transactions", skippedTransactions.load(ordering: .relaxed))
        reporter.total("skipped_events", skippedEvents.load(ordering: .relaxed))
        reporter.total("delivery_errors", deliveryErrors.load(ordering: .relaxed))
        reporter.total("reconnects", reconnects.load(ordering: .relaxed))
        reporter.total("heartbeats", heartbeats.load(ordering: .relaxed))
        reporter.gauge("incremental_snapshot_tables_pending", Double(incrementalTablesPending.load(ordering: .relaxed)))
    }
}
