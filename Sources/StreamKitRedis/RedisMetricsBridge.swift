import StreamKit

/// Publishes one ``RedisFeatureSinkMetrics`` into swift-metrics from the job's
/// ``MetricsPublisher`` (never from the write path).
final class RedisFeatureSinkMetricsBridge: @unchecked Sendable {
    // @unchecked: only the publisher thread calls `publish`.
    let metrics: RedisFeatureSinkMetrics
    private let written, stale, coalesced, errors, roundTrips, flushes, reconnects: CounterBridge
    private let writing: SecondsCounterBridge

    init(metrics: RedisFeatureSinkMetrics, view: String) {
        self.metrics = metrics
        let v = [("feature_view", view)]
        written = CounterBridge("streamkit_redis_feature_writes_total", v)
        stale = CounterBridge("streamkit_redis_stale_skips_total", v)
        coalesced = CounterBridge("streamkit_redis_coalesced_updates_total", v)
        errors = CounterBridge("streamkit_redis_errors_total", v)
        roundTrips = CounterBridge("streamkit_redis_round_trips_total", v)
        flushes = CounterBridge("streamkit_redis_flushes_total", v)
        reconnects = CounterBridge("streamkit_redis_reconnects_total", v)
        writing = SecondsCounterBridge("streamkit_redis_write_seconds_total", v)
    }

    func publish() {
        written.publish(metrics.written.current)
        stale.publish(metrics.skippedStale.current)
        coalesced.publish(metrics.coalesced.current)
        errors.publish(metrics.errors.current)
        roundTrips.publish(metrics.roundTrips.current)
        flushes.publish(metrics.flushes.current)
        reconnects.publish(metrics.reconnects.current)
        writing.publish(nanos: metrics.flushNanos.current)
    }
}
