import Foundation
public import Synchronization
public import StreamKit
import StreamKitJSON
public import StreamKitCapture

/// Counters of a running PostgreSQL capture (thread-safe): the core's ``CaptureMetrics`` and the
/// WAL positions and slot lag.
public final class PostgresCaptureMetrics: CaptureMetrics, @unchecked Sendable {
    // @unchecked: every stored property is an atomic.
    public let confirmedLSN = Atomic<UInt64>(0)
    public let receivedLSN = Atomic<UInt64>(0)
    /// WAL bytes the slot retains (`pg_current_wal_lsn() - restart_lsn`), -1 until measured.
    public let slotLagBytes = Atomic<Int64>(-1)

    public override init() {}

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

    public override func report(to reporter: CaptureMetricsReporter) {
        super.report(to: reporter)
        let lag = slotLagBytes.load(ordering: .relaxed)
        if lag >= 0 { reporter.gauge("slot_lag_bytes", Double(lag)) }
    }
}
