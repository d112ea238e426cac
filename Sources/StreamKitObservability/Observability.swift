public import Logging
import CoreMetrics
public import Prometheus
import Synchronization

/// Process-wide bootstrap of swift-log and swift-metrics. Only executables call these (once);
/// libraries take a `Logger` and report through swift-metrics' global factory.
///
/// ```swift
/// Observability.bootstrapLogging(level: .info, format: .json)
/// let registry = Observability.bootstrapPrometheus()
/// let endpoint = PrometheusEndpoint(registry: registry, port: 9464)   // a Service
/// ```
public enum Observability {
    private static let loggingDone = Atomic<Bool>(false)
    private static let metricsRegistry = Mutex<PrometheusCollectorRegistry?>(nil)

    /// Bootstraps swift-log with ``StreamKitLogHandler`` on stderr. Later calls do nothing.
    public static func bootstrapLogging(level: Logger.Level, format: LogFormat) {
        guard !loggingDone.exchange(true, ordering: .acquiringAndReleasing) else { return }
        LoggingSystem.bootstrap { label in StreamKitLogHandler(label: label, level: level, format: format) }
    }

    /// Hummingbird's `MetricsMiddleware` labels → the names the Prometheus endpoint exposes.
    static let httpMetricNames: [String: String] = [
        "hb.requests": "streamkit_http_requests_total",
        "hb.request.errors": "streamkit_http_request_errors_total",
        "http.server.request.duration": "streamkit_http_request_duration_seconds",
        "http.server.active_requests": "streamkit_http_active_requests",
    ]

    /// Bootstraps swift-metrics with swift-prometheus' factory over one registry and returns it.
    /// Later calls return the same registry.
    @discardableResult
    public static func bootstrapPrometheus() -> PrometheusCollectorRegistry {
        metricsRegistry.withLock { existing in
            if let existing { return existing }
            let registry = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: registry)
            // Seconds-scale buckets: latencies from 1 ms (end-to-end) to a minute (checkpoints).
            factory.defaultDurationHistogramBuckets = [
                .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
                .seconds(10), .seconds(30), .seconds(60),
            ]
            // Hummingbird's HTTP metrics under StreamKit's names; label names without dots.
            factory.nameAndLabelSanitizer = { name, labels in
                (httpMetricNames[name] ?? name, labels.map { (String($0.0.map { $0 == "." ? "_" : $0 }), $0.1) })
            }
            // Request latencies: sub-millisecond resolution up to 5 ms (the feature-serving target), then coarser.
            factory.durationHistogramBuckets["streamkit_http_request_duration_seconds"] = [
                .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(3), .milliseconds(4),
                .milliseconds(5), .milliseconds(7), .milliseconds(10), .milliseconds(25), .milliseconds(100), .seconds(1), .seconds(10),
            ]
            MetricsSystem.bootstrap(factory)
            existing = registry
            return registry
        }
    }
}
