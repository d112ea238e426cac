import Foundation
public import Synchronization
public import StreamKit
import StreamKitJSON
import StreamKitCapture

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

    /// Reports the totals and gauges to swift-metrics (on the capture's confirm tick: never per change).
    func report(to reporter: CaptureMetricsReporter) {
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
        let lag = slotLagBytes.load(ordering: .relaxed)
        if lag >= 0 { reporter.gauge("slot_lag_bytes", Double(lag)) }
    }
}
