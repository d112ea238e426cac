import CoreMetrics
import Synchronization
import StreamKit

// Bridges of the connector's lock-free counters into swift-metrics, run by the job's
// ``MetricsPublisher`` (see ``JobMetrics/addPublisher(_:)``), never on the consume path.

/// Publishes one ``KafkaSourceMetrics``: messages, pauses, rebalances, commits, errors, and the
/// consumer lag of every assigned partition (`streamkit_kafka_consumer_lag_records{group,topic,partition}`).
final class KafkaSourceMetricsBridge: @unchecked Sendable {
    // @unchecked: only the publisher thread calls `publish`.
    let metrics: KafkaSourceMetrics
    let group: String
    private let messages, deadLetters, tombstones, pauses, resumes, rebalances, commits, commitFailures, errors: CounterBridge
    private let messageAge: TimerBridge
    private var lagGauges: [KafkaTopicPartition: CoreMetrics.Gauge] = [:]

    init(metrics: KafkaSourceMetrics, group: String) {
        self.metrics = metrics; self.group = group
        let g = [("group", group)]
        messages = CounterBridge("streamkit_kafka_consumer_messages_total", g)
        deadLetters = CounterBridge("streamkit_kafka_consumer_dead_letters_total", g)
        tombstones = CounterBridge("streamkit_kafka_consumer_tombstones_total", g)
        pauses = CounterBridge("streamkit_kafka_source_pauses_total", g)
        resumes = CounterBridge("streamkit_kafka_source_resumes_total", g)
        rebalances = CounterBridge("streamkit_kafka_consumer_rebalances_total", g)
        commits = CounterBridge("streamkit_kafka_consumer_commits_total", g)
        commitFailures = CounterBridge("streamkit_kafka_consumer_commit_failures_total", g)
        errors = CounterBridge("streamkit_kafka_consumer_errors_total", g)
        messageAge = TimerBridge("streamkit_kafka_message_age_seconds", g, histogram: metrics.messageAge)
    }

    func publish() {
        messages.publish(metrics.messages.current)
        deadLetters.publish(metrics.deadLetters.current)
        tombstones.publish(metrics.tombstones.current)
        pauses.publish(metrics.pauses.current)
        resumes.publish(metrics.resumes.current)
        rebalances.publish(metrics.rebalances.current)
        commits.publish(metrics.commits.current)
        commitFailures.publish(metrics.commitFailures.current)
        errors.publish(metrics.consumerErrors.current)
        messageAge.publish()
        var seen = Set<KafkaTopicPartition>()
        for lag in metrics.partitionLags {
            let tp = KafkaTopicPartition(lag.topic, lag.partition)
            seen.insert(tp)
            let gauge = lagGauges[tp] ?? {
                let g = CoreMetrics.Gauge(label: "streamkit_kafka_consumer_lag_records",
                                          dimensions: [("group", group), ("topic", lag.topic), ("partition", String(lag.partition))])
                lagGauges[tp] = g
                return g
            }()
            gauge.record(lag.lag)
        }
        // Partitions revoked from this process: their lag is another member's now.
        for (tp, gauge) in lagGauges where !seen.contains(tp) {
            gauge.record(0)
        }
    }
}

/// Publishes one ``KafkaSinkMetrics``: messages and bytes delivered, delivery errors, transactions.
final class KafkaSinkMetricsBridge: @unchecked Sendable {
    // @unchecked: only the publisher thread calls `publish`.
    let metrics: KafkaSinkMetrics
    private let delivered, bytes, failed, transactions: CounterBridge
    init(metrics: KafkaSinkMetrics, topic: String) {
        self.metrics = metrics
        let t = [("topic", topic)]
        delivered = CounterBridge("streamkit_kafka_producer_messages_total", t)
        bytes = CounterBridge("streamkit_kafka_producer_bytes_total", t)
        failed = CounterBridge("streamkit_kafka_producer_delivery_errors_total", t)
        transactions = CounterBridge("streamkit_kafka_producer_transactions_total", t)
    }
    func publish() {
        delivered.publish(metrics.delivered.current)
        bytes.publish(metrics.deliveredBytes.current)
        failed.publish(metrics.failed.current)
        transactions.publish(metrics.transactionsCommitted.current)
    }
}
