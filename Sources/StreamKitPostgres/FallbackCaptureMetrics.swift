import Foundation
import StreamKitCapture
public import Synchronization
public import StreamKit
public import StreamKitJSON
public import StreamKitKafka

/// Counters of a running trigger-based or polling capture (thread-safe).
public final class FallbackCaptureMetrics: Sendable {
    /// Change events published and acknowledged by Kafka (tombstones not counted).
    public let changes = Atomic<Int>(0)
    /// Batches published and acknowledged (each followed by the change-log delete or the state-file write).
    public let batches = Atomic<Int>(0)
    /// Kafka deliveries that failed; the batch is not acknowledged and is published again after a restart.
    public let deliveryErrors = Atomic<Int>(0)
    /// Polling: rows read again in the overlap window and skipped because already published.
    public let duplicatesSkipped = Atomic<Int>(0)
    /// Trigger: change-log rows deleted after Kafka acknowledged them.
    public let logRowsDeleted = Atomic<Int>(0)
    /// Times the capture reconnected after losing PostgreSQL.
    public let reconnects = Atomic<Int>(0)
    /// Read → acknowledged by Kafka, per batch (µs).
    public let batchLatency = LatencyHistogram()
    private let started = MonotonicClock.nanos()

    public init() {}

    public var seconds: Double { Double(MonotonicClock.nanos() &- started) / 1e9 }

    /// A JSON object (for status files and logs).
    public func json() -> String {
        var w = JSONWriter()
        w.beginObject()
        w.field("changes", changes.load(ordering: .relaxed))
        w.field("batches", batches.load(ordering: .relaxed))
        w.field("delivery_errors", deliveryErrors.load(ordering: .relaxed))
        w.field("duplicates_skipped", duplicatesSkipped.load(ordering: .relaxed))
        w.field("log_rows_deleted", logRowsDeleted.load(ordering: .relaxed))
        w.field("reconnects", reconnects.load(ordering: .relaxed))
        let s = seconds
        w.field("changes_per_s", s > 0 ? Double(changes.load(ordering: .relaxed)) / s : 0)
        w.field("batch_p50_ms", batchLatency.percentileMillis(50))
        w.field("batch_p95_ms", batchLatency.percentileMillis(95))
        w.endObject()
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// Reports the totals to swift-metrics (periodically, per batch: never per change).
    func report(to reporter: CaptureMetricsReporter) {
        reporter.total("changes", changes.load(ordering: .relaxed))
        reporter.total("batches", batches.load(ordering: .relaxed))
        reporter.total("delivery_errors", deliveryErrors.load(ordering: .relaxed))
        reporter.total("duplicates_skipped", duplicatesSkipped.load(ordering: .relaxed))
        reporter.total("log_rows_deleted", logRowsDeleted.load(ordering: .relaxed))
        reporter.total("reconnects", reconnects.load(ordering: .relaxed))
    }
}
