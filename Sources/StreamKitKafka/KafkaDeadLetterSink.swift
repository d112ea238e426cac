public import StreamKit

/// The Kafka headers of a dead letter (see ``DataStream/writeDeadLetters(toKafka:topic:name:metrics:deadLetters:)``).
public enum KafkaDeadLetterHeader {
    /// The class of the failure: `malformed_json`, `unknown_op`, `missing_field`, `null_key`,
    /// `wrong_type`, `record_too_large`, `future_timestamp`, `duplicate`, `late`, `user_function`,
    /// `tombstone`, `malformed_input` (see ``StreamKit/StreamKitError/Code``).
    public static let reason = "streamkit.dlq.reason"
    /// What went wrong, in words (for `user_function`: the error's text).
    public static let error = "streamkit.dlq.error"
    /// The topic, partition and offset the record was read from (when a source rejected it).
    public static let sourceTopic = "streamkit.dlq.source.topic"
    public static let sourcePartition = "streamkit.dlq.source.partition"
    public static let sourceOffset = "streamkit.dlq.source.offset"
    /// The original size in bytes when the value was cut to the source's dead-letter payload limit.
    public static let originalSize = "streamkit.dlq.original.size"
}

extension DataStream {
    /// The header holding a dead letter's reason code.
    public static var kafkaDeadLetterReasonHeader: String { KafkaDeadLetterHeader.reason }

    /// Writes dead letters of any record type to a Kafka topic (a dead-letter queue). The value is
    /// `payload(record)` (e.g. the record as JSON) unless the dead letter kept the original bytes;
    /// headers as in ``KafkaDeadLetterHeader``; the key is the source message's key, if any.
    /// Each dead letter is counted in `deadLetters` (`streamkit_dead_letters_total{reason}`).
    ///
    /// ```swift
    /// let scored = events.tryMap(score)                  // throws on a poison record
    /// scored.sideOutput(DeadLetter<Event>.self)
    ///     .writeDeadLetters(toKafka: kafka, topic: "events-dlq") { Array(render($0).utf8) }
    /// ```
    @discardableResult
    public func writeDeadLetters<Record: Sendable>(toKafka kafka: KafkaConfiguration, topic: String, name: String = "kafka-dead-letters",
                                                   metrics: KafkaSinkMetrics = KafkaSinkMetrics(),
                                                   deadLetters: DeadLetterMetrics? = nil,
                                                   payload: @escaping @Sendable (Record) -> [UInt8]) -> DataStream<Never>
    where Element == DeadLetter<Record> {
        let counts = deadLetters ?? DeadLetterMetrics(output: topic)
        return writeToKafka(kafka, KafkaSinkConfiguration(topic: topic), name: name, metrics: metrics) { d in
            counts.record(d.code)
            return KafkaMessage(key: d.origin?.key, value: d.payload ?? payload(d.record), headers: Self.deadLetterHeaders(d))
        }
    }

    static func deadLetterHeaders<Record>(_ d: DeadLetter<Record>) -> [KafkaHeader] {
        var headers = [KafkaHeader(name: KafkaDeadLetterHeader.reason, string: d.code.rawValue),
                       KafkaHeader(name: KafkaDeadLetterHeader.error, string: d.reason)]
        if let o = d.origin {
            headers.append(KafkaHeader(name: KafkaDeadLetterHeader.sourceTopic, string: o.source))
            headers.append(KafkaHeader(name: KafkaDeadLetterHeader.sourcePartition, string: String(o.split)))
            headers.append(KafkaHeader(name: KafkaDeadLetterHeader.sourceOffset, string: String(o.position)))
        }
        if let size = d.originalSize { headers.append(KafkaHeader(name: KafkaDeadLetterHeader.originalSize, string: String(size))) }
        return headers
    }
}

extension DataStream where Element == DeadLetter<String> {
    /// Writes a source's dead letters to a Kafka topic (a dead-letter queue): the value is the
    /// original record bytes (at most the source's `maxDeadLetterPayloadBytes`), the key the
    /// original key, the headers ``KafkaDeadLetterHeader/reason`` (the code, e.g. `malformed_json`),
    /// ``KafkaDeadLetterHeader/error`` (the reason in words) and the source topic, partition and
    /// offset. Each dead letter is counted in `deadLetters` (`streamkit_dead_letters_total{reason}`).
    @discardableResult
    public func writeDeadLetters(toKafka kafka: KafkaConfiguration, topic: String, name: String = "kafka-dead-letters",
                                 metrics: KafkaSinkMetrics = KafkaSinkMetrics(),
                                 deadLetters: DeadLetterMetrics? = nil) -> DataStream<Never> {
        writeDeadLetters(toKafka: kafka, topic: topic, name: name, metrics: metrics, deadLetters: deadLetters) { Array($0.utf8) }
    }
}
