import Foundation
public import Synchronization
import StreamKit
import StreamKitJSON
public import StreamKitCapture

/// Counters of a running MySQL capture (thread-safe): the core's ``CaptureMetrics`` plus binlog
/// events read and the bytes of binlog the server wrote after the confirmed position.
public final class MySQLCaptureMetrics: CaptureMetrics, @unchecked Sendable {
    // @unchecked: every stored property is an atomic or a lock.
    public let events = Atomic<Int>(0)
    /// Binlog bytes written after the confirmed position in the same file (-1 until measured).
    public let binlogLagBytes = Atomic<Int64>(-1)
    let positions = Mutex<(confirmed: String, received: String)>(("", ""))

    public override init() {}

    public func setPositions(confirmed: String, received: String) { positions.withLock { $0 = (confirmed, received) } }

    /// A JSON object (for status files and logs).
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
        w.field("binlog_events", events.load(ordering: .relaxed))
        let p = positions.withLock { $0 }
        w.field("confirmed_position", p.confirmed)
        w.field("received_position", p.received)
        w.field("binlog_lag_bytes", binlogLagBytes.load(ordering: .relaxed))
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
        let lag = binlogLagBytes.load(ordering: .relaxed)
        if lag >= 0 { reporter.gauge("binlog_lag_bytes", Double(lag)) }
    }
}
