public import StreamKit
public import FeatureJobs
public import StreamKitKafka
public import StreamKitRedis

/// Where an example job reads and writes, from `cdc-features run` options.
public struct JobIO: Sendable {
    public enum Input: Sendable { case file(String), kafka(topic: String) }
    public enum Output: Sendable { case file(String), redis }
    public var input: Input
    public var output: Output
    public var kafka: KafkaConfiguration
    public var redis: RedisConfiguration
    public var groupID: String
    public var startFrom: KafkaStartOffset = .committed
    public var bounded = false
    /// Extra outputs some jobs produce (late events, dead letters, inference requests, alerts).
    public var late: String?
    public var deadLetters: String?
    public var inferenceTopic: String?
    public var alertTopic: String?
    public var model = "fraud-scorer"
    /// A baseline file for drift monitoring.
    public var baseline: String?
    /// Window size for jobs with one configurable window (drift-monitor).
    public var windowSize: Duration?
    public init(input: Input, output: Output, kafka: KafkaConfiguration, redis: RedisConfiguration, groupID: String) {
        self.input = input; self.output = output; self.kafka = kafka; self.redis = redis; self.groupID = groupID
    }

    public func kafkaTopic(for job: String) throws -> String {
        guard case let .kafka(topic) = input else { throw StreamKitError(.configuration, "\(job) reads a Kafka topic: use --topic") }
        return topic
    }
}

/// An example job `cdc-features run` knows.
public struct ExampleJob: Sendable {
    public let name: String
    public let summary: String
    public let make: @Sendable (JobIO) throws -> Job
    public init(name: String, summary: String, make: @escaping @Sendable (JobIO) throws -> Job) {
        self.name = name; self.summary = summary; self.make = make
    }
}

/// The example jobs, by name. To add a job: add one Swift file under `jobs/` that defines it and
/// list its `ExampleJob` here.
public enum ExampleJobs {
    public static let all: [ExampleJob] = [
        ExampleJob(name: "user-activity",
                   summary: "per-user count/sum/avg/max over 5-minute windows every minute (file → file, or Kafka → Redis + inference requests)") { io in
            switch (io.input, io.output) {
            case let (.file(input), .file(output)):
                return UserActivityJob.make(input: input, output: output, late: io.late ?? "late.ndjson", deadLetters: io.deadLetters)
            case let (.kafka(topic), .redis):
                var o = UserActivityFeatures.Options(kafka: io.kafka, topic: topic, groupID: io.groupID,
                                                     redis: RedisFeatureSinkConfiguration(redis: io.redis))
                o.startFrom = io.startFrom; o.bounded = io.bounded; o.inferenceTopic = io.inferenceTopic
                if io.inferenceTopic != nil {
                    o.modelVersion = try ModelRegistry.currentVersion(of: io.model, redis: io.redis, fallback: "unregistered")
                }
                return try UserActivityFeatures.job(o)
            default:
                throw StreamKitError(.configuration, "user-activity runs file → file (--input/--out) or Kafka → Redis (--topic/--redis)")
            }
        },
        ExampleJob(name: "realtime-pricing",
                   summary: "bookings CDC → per-listing demand features per change (Kafka → Redis, fresh within ~100 ms)") { io in
            RealtimePricingJob.make(kafka: io.kafka, topic: try io.kafkaTopic(for: "realtime-pricing"), groupID: io.groupID,
                                    redis: io.redis, startFrom: io.startFrom, bounded: io.bounded)
        },
        ExampleJob(name: "user-features",
                   summary: "per-user clicks, purchases, spend, distinct items, p90 amount over 5 min and 1 h → Redis views user, user_1h (+ inference requests)") { io in
            try UserFeaturesJob.make(io)
        },
        ExampleJob(name: "session-features",
                   summary: "per-user sessions (30-minute gap) updated on every interaction (file or Kafka → file or Redis)") { io in
            try SessionFeaturesJob.make(io)
        },
        ExampleJob(name: "drift-monitor",
                   summary: "amount distribution per 10 minutes vs a baseline (--baseline) or the previous window: PSI, KS, JS, z; alerts to --alert-topic") { io in
            try DriftMonitorJob.make(io, window: io.windowSize ?? .minutes(10))
        },
    ]

    public static var names: [String] { all.map(\.name) }
    public static func named(_ name: String) -> ExampleJob? { all.first { $0.name == name } }
}
