public import StreamKit
public import StreamKitJSON
public import StreamKitKafka
public import StreamKitRedis
public import Glibc

extension DataStream {
    /// Produces inference requests `{"entity":…,"features":{…},"feature_version":…,"model_version":…,"event_time":…}`
    /// to `topic`, keyed by entity, for each element (`fields` gives entity, event time and the
    /// feature values in the view's order).
    @discardableResult
    public func writeInferenceRequests(to kafka: KafkaConfiguration, topic: String, view: FeatureView, modelVersion: String,
                                       metrics: KafkaSinkMetrics = KafkaSinkMetrics(),
                                       fields: @escaping @Sendable (Element) -> (entity: String, eventTime: EventTime, values: [FeatureValue?]))
    -> DataStream<Never> {
        writeToKafka(kafka, KafkaSinkConfiguration(topic: topic), name: "inference-requests", metrics: metrics) { element in
            let (entity, eventTime, values) = fields(element)
            var w = JSONWriter(capacity: 192)
            w.beginObject()
            w.field("entity", entity)
            w.key("features"); w.beginObject()
            for (feature, value) in zip(view.features, values) {
                w.key(feature.name)
                switch value {
                case let .int(v)?: w.value(v)
                case let .double(v)?: w.value(v)
                case let .string(v)?: w.value(v)
                case nil: w.null()
                }
            }
            w.endObject()
            w.field("feature_view", view.name)
            w.field("feature_version", view.version)
            w.field("model_version", modelVersion)
            w.field("event_time", eventTime)
            w.endObject()
            return KafkaMessage(key: Array(entity.utf8), value: w.bytes)
        }
    }
}
