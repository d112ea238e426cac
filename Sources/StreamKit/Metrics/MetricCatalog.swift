/// The swift-metrics names every StreamKit module reports, with their Prometheus `# HELP` text,
/// in one place (like ``LogMetadataKey``). swift-metrics has no help text; a Prometheus endpoint
/// adds these to its exposition.
public enum MetricCatalog {
    /// Metric name → help text.
    public static let help: [String: String] = [
        // Runtime (labels: job; operator and subtask where named so).
        "streamkit_operator_records_in_total": "Records an operator subtask received.",
        "streamkit_operator_records_out_total": "Records an operator subtask emitted.",
        "streamkit_operator_late_records_total": "Records an operator subtask received after their windows closed.",
        "streamkit_operator_dropped_records_total": "Records an operator subtask dropped on purpose (malformed input, dead letters).",
        "streamkit_operator_watermark_timestamp_seconds": "Current event-time watermark of an operator subtask (seconds since the epoch).",
        "streamkit_watermark_lag_seconds": "Processing time minus the job's lowest operator watermark.",
        "streamkit_source_records_total": "Records the job's sources read.",
        "streamkit_late_records_total": "Late records over all operators of the job.",
        "streamkit_dropped_records_total": "Dropped records over all operators of the job.",
        "streamkit_backpressure_pauses_total": "Times producers into an operator subtask's input were paused at the channel's high mark.",
        "streamkit_backpressure_seconds_total": "Time producers into an operator subtask's input spent paused by back-pressure.",
        "streamkit_channel_occupancy_batches": "Batches queued in an operator subtask's input channel.",
        "streamkit_checkpoints_completed_total": "Checkpoints completed.",
        "streamkit_checkpoint_duration_seconds": "Time from a checkpoint's trigger to its completion.",
        "streamkit_checkpoint_size_bytes": "State size of the newest completed checkpoint (before compression).",
        "streamkit_restores_total": "Restores of the job from a checkpoint.",
        "streamkit_end_to_end_latency_seconds": "Time from input entering the job to the result reaching a sink (one observation per sink batch).",
        // Kafka (labels: group; topic and partition for lag; topic for producers).
        "streamkit_kafka_consumer_lag_records": "Records of a partition not yet read by the source (high watermark minus position).",
        "streamkit_kafka_consumer_messages_total": "Kafka messages consumed and emitted by the source.",
        "streamkit_kafka_consumer_dead_letters_total": "Kafka messages that failed to decode.",
        "streamkit_kafka_consumer_tombstones_total": "Null-value Kafka messages skipped.",
        "streamkit_kafka_consumer_rebalances_total": "Partition assignments and revocations of the source's readers.",
        "streamkit_kafka_consumer_commits_total": "Offset commits to the consumer group.",
        "streamkit_kafka_consumer_commit_failures_total": "Offset commits that failed.",
        "streamkit_kafka_consumer_errors_total": "Consumer errors reported by librdkafka.",
        "streamkit_kafka_source_pauses_total": "Times the source paused its partitions because downstream was full.",
        "streamkit_kafka_source_resumes_total": "Times the source resumed its partitions.",
        "streamkit_kafka_message_age_seconds": "Age of Kafka messages when the source polls them (sampled once per poll).",
        "streamkit_kafka_producer_messages_total": "Kafka messages delivered by the sink.",
        "streamkit_kafka_producer_bytes_total": "Bytes of Kafka message values delivered by the sink.",
        "streamkit_kafka_producer_delivery_errors_total": "Kafka messages whose delivery failed.",
        "streamkit_kafka_producer_transactions_total": "Kafka transactions committed by the sink.",
        // Redis (label: feature_view).
        "streamkit_redis_feature_writes_total": "Feature updates written to Redis.",
        "streamkit_redis_stale_skips_total": "Feature updates Redis skipped because the stored event time was newer.",
        "streamkit_redis_coalesced_updates_total": "Feature updates merged away inside one flush.",
        "streamkit_redis_errors_total": "Feature updates Redis rejected with an error reply.",
        "streamkit_redis_round_trips_total": "Pipelined Redis round trips.",
        "streamkit_redis_flushes_total": "Flushes of the Redis feature sink that wrote something.",
        "streamkit_redis_reconnects_total": "Reconnects to Redis after I/O errors.",
        "streamkit_redis_write_seconds_total": "Time the Redis feature sink spent writing.",
    ]
}
