public import StreamKit
public import FeatureJobs
public import StreamKitJSON
public import StreamKitRedis
public import StreamKitDebezium
public import StreamKitBackfill

/// `user-features`: interactions CDC → per-user rolling features over 5 minutes (every minute)
/// and 1 hour (every 5 minutes): clicks, purchases, spend, distinct items (HyperLogLog), p90
/// amount (DDSketch) → Redis views `user` and `user_1h`, plus inference requests carrying the
/// model version from the registry (`model_registry:<model>` in Redis) and the 5-minute vector with
/// its `event_time` and `served_at`. Backfillable one view at a time (`--view user|user_1h`).
public struct UserFeaturesJob: ExampleJob {
    public static let name = "user-features"
    public static let summary = "per-user clicks, purchases, spend, distinct items, p90 amount over 5 min and 1 h → Redis views user, user_1h (+ inference requests)"
    public static let parameters = [
        JobParameter("dead-letters", "file for malformed events"),
        JobParameter("inference-topic", "produce inference requests to this topic"),
        JobParameter("model", "model whose registered version inference requests carry", default: "fraud-scorer"),
        JobParameter("namespace", "Redis key namespace of the feature views", default: "feature"),
        JobParameter("view", "the view a backfill computes (a training row holds one view): user or user_1h", default: "user"),
    ]

    static let features: [FeatureView.Feature] = [.int("clicks"), .int("purchases"), .double("spend"),
                                                 .int("distinct_items"), .double("p90_amount")]
    /// 5-minute features: `cdc-features features get user 42`.
    public static func view5m(namespace: String = "feature") -> FeatureView {
        FeatureView(name: "user", entityKey: "user_id", features: features, ttl: .hours(2), version: 1, namespace: namespace)
    }
    /// 1-hour features.
    public static func view1h(namespace: String = "feature") -> FeatureView {
        FeatureView(name: "user_1h", entityKey: "user_id", features: features, ttl: .hours(6), version: 1, namespace: namespace)
    }

    /// The rolling features of one user and window.
    public struct Rolling: Sendable {
        public var clicks: Int64
        public var purchases: Int64
        public var spend: Double
        public var distinctItems: Int64
        public var amount: QuantileSummary
    }

    /// One NDJSON output row.
    struct Row: Encodable {
        var user_id: Int64, window_start: EventTime, window_end: EventTime
        var clicks: Int64, purchases: Int64, spend: Double, distinct_items: Int64, p90_amount: Double
    }

    /// The rolling features of one window (shared by both windows and by the offline check).
    static func rolling(_ keyed: KeyedStream<Interaction, Int64>, size: Duration, slide: Duration)
    -> DataStream<WindowResult<Int64, Rolling>> {
        keyed.window(.sliding(size: size, slide: slide))
            .aggregate(.countIf { $0.interactionType == "click" },
                       .countIf { $0.interactionType == "purchase" },
                       .sum { $0.interactionType == "purchase" ? $0.amount : 0 },
                       .distinctCount(\.itemId),
                       .quantiles(\.amount)) {
                Rolling(clicks: $0, purchases: $1, spend: $2, distinctItems: $3, amount: $4)
            }
    }

    static func values(_ r: WindowResult<Int64, Rolling>) -> [FeatureValue?] {
        [.int(r.clicks), .int(r.purchases), .double(r.spend), .int(r.distinctItems), .double(r.amount.p90)]
    }

    /// One of the job's two views: its name and windows.
    public enum Horizon: String, Sendable, CaseIterable {
        /// `user`: 5 minutes every minute.
        case fiveMinutes = "user"
        /// `user_1h`: 1 hour every 5 minutes.
        case oneHour = "user_1h"
        var size: Duration { self == .fiveMinutes ? .minutes(5) : .hours(1) }
        var slide: Duration { self == .fiveMinutes ? .minutes(1) : .minutes(5) }
        public func view(namespace: String = "feature") -> FeatureView {
            self == .fiveMinutes ? UserFeaturesJob.view5m(namespace: namespace) : UserFeaturesJob.view1h(namespace: namespace)
        }
    }

    /// Interactions with event time (`ts_ms`, 2 s out of order) keyed by user: the input of both views.
    static func keyed(_ interactions: DataStream<Interaction>, idleness: Duration?) -> KeyedStream<Interaction, Int64> {
        interactions
            .assignTimestamps({ $0.tsMs }, watermark: .boundedOutOfOrderness(.seconds(2)), idleness: idleness)
            .keyBy { $0.userId }
    }

    /// The feature definition of one view, shared by the online job (→ Redis, both views from one
    /// keyed stream) and the backfill (one view): the rolling windows as the rows written to the
    /// view (event time = window end − 1), stamped with when they became servable.
    public static func servedFeatures(_ keyed: KeyedStream<Interaction, Int64>, horizon: Horizon) -> DataStream<ServedFeatures> {
        rolling(keyed, size: horizon.size, slide: horizon.slide)
            .servedFeatures { r in (String(r.key), r.windowEnd - 1, values(r)) }
    }

    let deadLetters: String?
    let inferenceTopic: String?
    let model: String
    let namespace: String
    let horizon: Horizon

    public init(arguments: JobArguments) throws {
        deadLetters = arguments.string("dead-letters")
        inferenceTopic = arguments.string("inference-topic")
        model = arguments.string("model", default: "fraud-scorer")
        namespace = arguments.string("namespace", default: "feature")
        let view = arguments.string("view", default: "user")
        guard let horizon = Horizon(rawValue: view) else {
            throw StreamKitError(.configuration, "user-features: --view must be user or user_1h, not '\(view)'")
        }
        self.horizon = horizon
    }

    public func job(_ io: JobContext) throws -> Job {
        let modelVersion = inferenceTopic == nil ? "" : try ModelRegistry.currentVersion(of: model, redis: io.redis, fallback: "unregistered")
        var sinkConfiguration = RedisFeatureSinkConfiguration(redis: io.redis)
        sinkConfiguration.maxFlushDelay = .milliseconds(250)      // coalesce a user's consecutive windows
        sinkConfiguration.maxBufferedEntities = 262_144
        let sink = sinkConfiguration
        let namespace = self.namespace
        let deadLetters = self.deadLetters, inferenceTopic = self.inferenceTopic
        return Job(Self.name) { env in
            let keyed = Self.keyed(interactions(env, io, deadLetters: deadLetters), idleness: .seconds(10))
            for horizon in Horizon.allCases {
                let view = horizon.view(namespace: namespace)
                switch io.output {
                case .redis:
                    let served = Self.servedFeatures(keyed, horizon: horizon)
                    served.sink("redis-\(view.name)") {
                        RedisFeatureSink(view: view, configuration: sink) { r in
                            FeatureUpdate(entity: r.entity, eventTime: r.eventTime, values: r.values)
                        }
                    }
                    if horizon == .fiveMinutes, let topic = inferenceTopic {
                        served.writeInferenceRequests(to: io.kafka, topic: topic, view: view, modelVersion: modelVersion)
                    }
                case let .file(path):
                    Self.rolling(keyed, size: horizon.size, slide: horizon.slide)
                        .writeJSONLines(to: view.name == "user" ? path : path + "." + view.name) { r in
                            Row(user_id: r.key, window_start: r.windowStart, window_end: r.windowEnd, clicks: r.clicks, purchases: r.purchases,
                                spend: r.spend, distinct_items: r.distinctItems, p90_amount: r.amount.p90)
                        }
                }
            }
        }
    }
}

/// The backfill runs the definition of one view (`--view`, default `user`) exactly as the Redis
/// output runs it (`cdc-features backfill user-features --view user_1h …`): history lines are the
/// Debezium change events of `user_interactions`, as on the topic.
extension UserFeaturesJob: BackfillableJob {
    public var featureView: FeatureView { horizon.view(namespace: namespace) }
    public func eventDecoder() throws -> DebeziumLineDecoder<Interaction> { DebeziumLineDecoder(Interaction.self) }
    /// An interaction's `ts_ms`; a record without an after-image (which the job ignores) counts
    /// as the earliest time, so `--to` keeps it.
    public func eventTime(_ event: DebeziumRecord<Interaction>) -> EventTime { event.envelope?.after?.tsMs ?? .min }
    public func features(_ events: DataStream<DebeziumRecord<Interaction>>, idleness: Duration?) -> DataStream<ServedFeatures> {
        Self.servedFeatures(Self.keyed(events.afterImages(), idleness: idleness), horizon: horizon)
    }
}
