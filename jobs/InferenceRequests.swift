public import StreamKit
public import StreamKitJSON
public import StreamKitKafka
public import StreamKitRedis
public import Glibc
public import StreamKitBackfill

extension DataStream {
    /// Produces inference requests `{"request_id":…,"entity":…,"features":{…},"feature_view":…,"feature_version":…,"model_version":…,"event_time":…[,"served_at":…]}`
    /// to `topic`, keyed by entity, for each element (`fields` gives entity, event time and the
    /// feature values in the view's order).
    ///
    /// Requests are idempotent by identity: each carries its ``InferenceRequestID`` (view, entity,
    /// event time, feature and model version) in the header `streamkit.request.id` and as
    /// `request_id` in the body. A restore re-sends what followed its checkpoint with the same
    /// ids, so a consumer that drops ids it has seen processes each request once.
    @discardableResult
    public func writeInferenceRequests(to kafka: KafkaConfiguration, topic: String, view: FeatureView, modelVersion: String,
                                       metrics: KafkaSinkMetrics = KafkaSinkMetrics(),
                                       fields: @escaping @Sendable (Element) -> (entity: String, eventTime: EventTime, values: [FeatureValue?]))
    -> DataStream<Never> {
        writeInferenceRequests(to: kafka, topic: topic, view: view, modelVersion: modelVersion, metrics: metrics, servedFields: { element in
            let (entity, eventTime, values) = fields(element)
            return (entity, eventTime, nil, values)
        })
    }

    /// As above, also writing `"served_at"`: when the features became servable (see
    /// ``ServedFeatures/servedAt``), the time a training label must have to be served this vector.
    @discardableResult
    public func writeInferenceRequests(to kafka: KafkaConfiguration, topic: String, view: FeatureView, modelVersion: String,
                                       metrics: KafkaSinkMetrics = KafkaSinkMetrics(),
                                       servedFields fields: @escaping @Sendable (Element) -> (entity: String, eventTime: EventTime, servedAt: EventTime?, values: [FeatureValue?]))
    -> DataStream<Never> {
        writeToKafka(kafka, KafkaSinkConfiguration(topic: topic), name: "inference-requests", metrics: metrics) { element in
            let (entity, eventTime, servedAt, values) = fields(element)
            let id = InferenceRequestID(view: view, entity: entity, eventTime: eventTime, modelVersion: modelVersion).hexBytes
            var w = JSONWriter(capacity: 224)
            w.beginObject()
            w.key("request_id"); id.withUnsafeBytes { w.value(utf8: $0) }
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
            if let servedAt { w.field("served_at", servedAt) }
            w.endObject()
            return KafkaMessage(key: Array(entity.utf8), value: w.bytes, headers: [KafkaHeader(name: InferenceRequestID.header, value: id)])
        }
    }
}

extension DataStream where Element == ServedFeatures {
    /// Inference requests for the rows a feature job serves: the features, their event time
    /// (`event_time`, the row's `__event_time`) and `served_at` (when they became servable).
    @discardableResult
    public func writeInferenceRequests(to kafka: KafkaConfiguration, topic: String, view: FeatureView, modelVersion: String,
                                       metrics: KafkaSinkMetrics = KafkaSinkMetrics()) -> DataStream<Never> {
        writeInferenceRequests(to: kafka, topic: topic, view: view, modelVersion: modelVersion, metrics: metrics,
                               servedFields: { r in (r.entity, r.eventTime, r.servedAt, r.values) })
    }
}
