public import StreamKit
public import FeatureJobs
public import StreamKitJSON
public import StreamKitRedis

/// `user-features`: interactions CDC → per-user rolling features over 5 minutes (every minute)
/// and 1 hour (every 5 minutes): clicks, purchases, spend, distinct items (HyperLogLog), p90
/// amount (DDSketch) → Redis views `user` and `user_1h`, plus inference requests carrying the
/// model version from the registry (`model_registry:<model>` in Redis).
public struct UserFeaturesJob: ExampleJob {
    public static let name = "user-features"
    public static let summary = "per-user clicks, purchases, spend, distinct items, p90 amount over 5 min and 1 h → Redis views user, user_1h (+ inference requests)"
    public static let parameters = [
        JobParameter("dead-letters", "file for malformed events"),
        JobParameter("inference-topic", "produce inference requests to this topic"),
        JobParameter("model", "model whose registered version inference requests carry", default: "fraud-scorer"),
        JobParameter("namespace", "Redis key namespace of the feature views", default: "feature"),
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

    let deadLetters: String?
    let inferenceTopic: String?
    let model: String
    let namespace: String

    public init(arguments: JobArguments) throws {
        deadLetters = arguments.string("dead-letters")
        inferenceTopic = arguments.string("inference-topic")
        model = arguments.string("model", default: "fraud-scorer")
        namespace = arguments.string("namespace", default: "feature")
    }

    public func job(_ io: JobContext) throws -> Job {
        let modelVersion = inferenceTopic == nil ? "" : try ModelRegistry.currentVersion(of: model, redis: io.redis, fallback: "unregistered")
        var sinkConfiguration = RedisFeatureSinkConfiguration(redis: io.redis)
        sinkConfiguration.maxFlushDelay = .milliseconds(250)      // coalesce a user's consecutive windows
        sinkConfiguration.maxBufferedEntities = 262_144
        let sink = sinkConfiguration
        let v5 = Self.view5m(namespace: namespace), v1 = Self.view1h(namespace: namespace)
        let deadLetters = self.deadLetters, inferenceTopic = self.inferenceTopic
        return Job(Self.name) { env in
            let keyed = interactions(env, io, deadLetters: deadLetters)
                .assignTimestamps({ $0.tsMs }, watermark: .boundedOutOfOrderness(.seconds(2)), idleness: .seconds(10))
                .keyBy { $0.userId }
            let short = Self.rolling(keyed, size: .minutes(5), slide: .minutes(1))
            let long = Self.rolling(keyed, size: .hours(1), slide: .minutes(5))
            for (stream, view) in [(short, v5), (long, v1)] {
                switch io.output {
                case .redis:
                    stream.sink("redis-\(view.name)") {
                        RedisFeatureSink(view: view, configuration: sink) { r in
                            FeatureUpdate(entity: String(r.key), eventTime: r.windowEnd - 1, values: Self.values(r))
                        }
                    }
                case let .file(path):
                    stream.writeJSONLines(to: view.name == "user" ? path : path + "." + view.name) { r in
                        Row(user_id: r.key, window_start: r.windowStart, window_end: r.windowEnd, clicks: r.clicks, purchases: r.purchases,
                            spend: r.spend, distinct_items: r.distinctItems, p90_amount: r.amount.p90)
                    }
                }
            }
            if let topic = inferenceTopic {
                short.writeInferenceRequests(to: io.kafka, topic: topic, view: v5, modelVersion: modelVersion) { r in
                    (String(r.key), r.windowEnd - 1, Self.values(r))
                }
            }
        }
    }
}
