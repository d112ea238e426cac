public import Metrics

/// Reports a capture's counters to swift-metrics with Prometheus names
/// (`streamkit_capture_changes_total`, `streamkit_capture_lag_seconds`, ...) and a `source`
/// dimension (the capture's source name: its topic prefix).
///
/// The capture keeps its own atomic counters on the hot path (read by benchmarks and status
/// files); the reporter turns their totals into counter increments periodically (on the
/// capture's confirm tick) and latencies per transaction or batch — never per record. Owned by the
/// capture's thread.
public final class CaptureMetricsReporter: @unchecked Sendable {
    // @unchecked: used only by the capture's thread; the swift-metrics handlers are thread-safe.
    public let source: String
    private let dimensions: [(String, String)]
    private var counters: [String: (counter: Counter, reported: Int)] = [:]
    private var gauges: [String: Gauge] = [:]
    private var timers: [String: Metrics.Timer] = [:]
    private let factory: any MetricsFactory

    /// `factory`: where the metrics go; default: the process's `MetricsSystem` (bootstrapped by
    /// the application, e.g. with a Prometheus registry).
    public init(source: String, factory: any MetricsFactory = MetricsSystem.factory) {
        self.source = source
        self.factory = factory
        dimensions = [("source", source)]
    }

    /// Reports a counter's running total: `streamkit_capture_<name>_total` grows by what is new.
    public func total(_ name: String, _ value: Int) {
        let label = "streamkit_capture_\(name)_total"
        var entry = counters[label] ?? (Counter(label: label, dimensions: dimensions, factory: factory), 0)
        if value > entry.reported {
            entry.counter.increment(by: value - entry.reported)
            entry.reported = value
        }
        counters[label] = entry
    }

    /// Sets `streamkit_capture_<name>` (e.g. `slot_lag_bytes`, `incremental_tables_pending`).
    public func gauge(_ name: String, _ value: Double) {
        let label = "streamkit_capture_\(name)"
        let g = gauges[label] ?? Gauge(label: label, dimensions: dimensions, factory: factory)
        gauges[label] = g
        g.record(value)
    }

    /// Records one duration in `streamkit_capture_<name>_seconds` (e.g. `lag`: commit →
    /// acknowledged by Kafka; `receive_latency`: commit → received).
    public func duration(_ name: String, micros: Int64) {
        let label = "streamkit_capture_\(name)_seconds"
        let t = timers[label] ?? Metrics.Timer(label: label, dimensions: dimensions, factory: factory)
        timers[label] = t
        t.recordMicroseconds(max(0, micros))
    }
}
