public import StreamKit
public import StreamKitJSON

extension DataStream {
    /// Produces `value(element)` as JSON (``JSONLineEncoder``) to `topic`, keyed by
    /// `key(element)` (UTF-8; nil: no key, the partitioner spreads messages).
    ///
    /// ```swift
    /// alerts.writeToKafka(kafka, topic: "alerts", key: { $0.feature }) { $0 }
    /// ```
    @discardableResult
    public func writeToKafka<Value: Encodable>(_ kafka: KafkaConfiguration, topic: String, name: String = "kafka-sink",
                                               metrics: KafkaSinkMetrics = KafkaSinkMetrics(),
                                               key: @escaping @Sendable (Element) -> String? = { _ in nil },
                                               value: @escaping @Sendable (Element) -> Value) -> DataStream<Never> {
        writeToKafka(kafka, KafkaSinkConfiguration(topic: topic), name: name, metrics: metrics) { element in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(192)
            _appendJSON(value(element), to: &bytes)
            return KafkaMessage(key: key(element).map { Array($0.utf8) }, value: bytes)
        }
    }
}
