public import StreamKit
public import StreamKitKafka
public import StreamKitRedis
public import StreamKitQuery
public import Glibc


/// The standard feature pipeline of the demo and the pipeline benchmark: Debezium change events of
/// `user_interactions` from Kafka → per-user hopping windows (5 min every 1 min) of count, sum,
/// avg and max of `amount` → the Redis feature view ``view`` (versioned, TTL'd, monotonic) and,
/// optionally, inference requests on a Kafka topic.
public enum UserActivityFeatures {
    /// The feature view the job writes and `cdc-features features get user_activity_5m <user>` reads.
    public static let view = view(namespace: "feature")

    /// The view under another key namespace (benchmarks use their own, so they never touch the demo's features).
    public static func view(namespace: String) -> FeatureView {
        FeatureView(name: "user_activity_5m", entityKey: "user_id",
                    features: [.int("count"), .double("sum"), .double("avg"), .double("max")],
                    ttl: .hours(2), version: 1, namespace: namespace)
    }

    public struct Options: Sendable {
        public var kafka: KafkaConfiguration
        public var topic: String
        public var groupID: String
        public var startFrom: KafkaStartOffset = .earliest
        /// Stop at the end of the topic (benchmarks, tests).
        public var bounded = false
        /// Kafka readers.
        public var sourceParallelism = 1
        public var redis: RedisFeatureSinkConfiguration
        /// Inference requests go here when set.
        public var inferenceTopic: String?
        /// The model version stamped on inference requests (see ``ModelRegistry``).
        public var modelVersion = "unversioned"
        public var watermarkDelay: Duration = .seconds(2)
        public var idleness: Duration? = .seconds(10)
        public var deadLetterTopic: String?
        /// Consumer group session timeout; the first join on Tansu waits about half of it.
        public var sessionTimeout: Duration = .seconds(6)
        public var heartbeatInterval: Duration = .milliseconds(1500)
        /// Redis key namespace of the feature view. Default: `feature`.
        public var namespace = "feature"
        /// Sets the Redis sink to mini-batches of at most 250 ms (coalescing per user) unless configured.
        public init(kafka: KafkaConfiguration, topic: String, groupID: String, redis: RedisFeatureSinkConfiguration) {
            self.kafka = kafka; self.topic = topic; self.groupID = groupID
            var r = redis
            if r.maxFlushDelay == nil { r.maxFlushDelay = .milliseconds(250); r.maxBufferedEntities = Swift.max(r.maxBufferedEntities, 262_144) }
            self.redis = r
        }
    }

    /// Metrics shared by the caller and the job's operators.
    public struct Metrics: Sendable {
        public let source = KafkaSourceMetrics()
        public let redis = RedisFeatureSinkMetrics()
        public let inference = KafkaSinkMetrics()
        public init() {}
    }

    public typealias Result = WindowResult<Int64, FieldAccumulator<FieldStats1>>

    public static func job(_ o: Options, metrics: Metrics = Metrics()) throws -> Job {
        let decoder = try FieldRecordDecoder<Int64>(keyPath: "after.user_id", timePath: "after.ts_ms", valuePaths: ["after.amount"])
        var source = KafkaSourceConfiguration(topics: [o.topic], groupID: o.groupID, startFrom: o.startFrom)
        source.bounded = o.bounded
        source.parallelism = o.sourceParallelism
        source.sessionTimeout = o.sessionTimeout
        source.heartbeatInterval = o.heartbeatInterval
        let view = Self.view(namespace: o.namespace)
        let sourceConfiguration = source
        return Job("user-activity-features") { env in
            let events = env.source(KafkaSource(kafka: o.kafka, sourceConfiguration, decoder: decoder, metrics: metrics.source), name: "kafka")
            if let dlq = o.deadLetterTopic {
                events.sideOutput(DeadLetter<String>.self).writeDeadLetters(toKafka: o.kafka, topic: dlq)
            }
            let windows = events
                .assignTimestamps({ $0.time }, watermark: .boundedOutOfOrderness(o.watermarkDelay), idleness: o.idleness)
                .keyBy { $0.key }
                .window(.sliding(size: .minutes(5), slide: .minutes(1)))
                .aggregate(FieldAggregate<Int64, FieldStats1>())
            windows.sink("redis-features") {
                RedisFeatureSink(view: view, configuration: o.redis, metrics: metrics.redis) { r in
                    FeatureUpdate(entity: String(r.key), eventTime: r.windowEnd - 1, values: features(r))
                }
            }
            if let topic = o.inferenceTopic {
                windows.writeInferenceRequests(to: o.kafka, topic: topic, view: view, modelVersion: o.modelVersion,
                                               metrics: metrics.inference) { r in (String(r.key), r.windowEnd - 1, features(r)) }
            }
        }
    }

    @inlinable static func features(_ r: Result) -> [FeatureValue?] {
        let s = r.value.field(0)
        return [.int(r.value.count), .double(s.sum), .double(s.count == 0 ? 0 : s.sum / Double(s.count)), .double(s.max)]
    }
}

