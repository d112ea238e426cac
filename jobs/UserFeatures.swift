public import StreamKit
public import FeatureJobs
public import StreamKitJSON
public import StreamKitRedis

/// `user-features`: interactions CDC → per-user rolling features over 5 minutes (every minute)
/// and 1 hour (every 5 minutes): clicks, purchases, spend, distinct items (HyperLogLog), p90
/// amount (DDSketch) → Redis views `user` and `user_1h`, plus inference requests carrying the
/// model version from the registry (`model_registry:<model>` in Redis).
public enum UserFeaturesJob {
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

    public typealias Aggregates = (Int64, Int64, Double, Int64, QuantileSummary)

    /// The rolling features of one window (shared by both windows and by the offline check).
    static func rolling(_ keyed: KeyedStream<Interaction, Int64>, size: Duration, slide: Duration)
    -> DataStream<WindowResult<Int64, Aggregates>> {
        keyed.window(.sliding(size: size, slide: slide))
            .aggregate(countIf { $0.interactionType == "click" },
                       countIf { $0.interactionType == "purchase" },
                       sum { $0.interactionType == "purchase" ? $0.amount : 0 },
                       distinctCount { $0.itemId },
                       quantiles { $0.amount })
    }

    static func values(_ r: WindowResult<Int64, Aggregates>) -> [FeatureValue?] {
        [.int(r.value.0), .int(r.value.1), .double(r.value.2), .int(r.value.3), .double(r.value.4.p90)]
    }

    public static func make(_ io: JobIO, namespace: String = "feature") throws -> Job {
        let modelVersion = io.inferenceTopic == nil ? "" : try ModelRegistry.currentVersion(of: io.model, redis: io.redis, fallback: "unregistered")
        var sinkConfiguration = RedisFeatureSinkConfiguration(redis: io.redis)
        sinkConfiguration.maxFlushDelay = .milliseconds(250)      // coalesce a user's consecutive windows
        sinkConfiguration.maxBufferedEntities = 262_144
        let sink = sinkConfiguration
        let v5 = view5m(namespace: namespace), v1 = view1h(namespace: namespace)
        return Job("user-features") { env in
            let keyed = interactions(env, io)
                .assignTimestamps({ $0.tsMs }, watermark: .boundedOutOfOrderness(.seconds(2)), idleness: .seconds(10))
                .keyBy { $0.userId }
            let short = rolling(keyed, size: .minutes(5), slide: .minutes(1))
            let long = rolling(keyed, size: .hours(1), slide: .minutes(5))
            for (stream, view) in [(short, v5), (long, v1)] {
                switch io.output {
                case .redis:
                    stream.sink("redis-\(view.name)") {
                        RedisFeatureSink(view: view, configuration: sink) { r in
                            FeatureUpdate(entity: String(r.key), eventTime: r.windowEnd - 1, values: values(r))
                        }
                    }
                case let .file(path):
                    stream.writeLines(to: view.name == "user" ? path : path + "." + view.name) { r, out in
                        var w = JSONWriter(capacity: 192)
                        w.beginObject()
                        w.field("user_id", r.key); w.field("window_start", r.windowStart); w.field("window_end", r.windowEnd)
                        w.field("clicks", r.value.0); w.field("purchases", r.value.1); w.field("spend", r.value.2)
                        w.field("distinct_items", r.value.3); w.field("p90_amount", r.value.4.p90)
                        w.endObject()
                        out.append(contentsOf: w.bytes)
                    }
                }
            }
            if let topic = io.inferenceTopic {
                short.writeInferenceRequests(to: io.kafka, topic: topic, view: v5, modelVersion: modelVersion) { r in
                    (String(r.key), r.windowEnd - 1, values(r))
                }
            }
        }
    }
}
