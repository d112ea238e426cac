public import StreamKit
public import StreamKitJSON
public import StreamKitDebezium
public import StreamKitKafka
public import StreamKitRedis
public import StreamKitQuery
public import StreamKitBackfill

/// A row of the `user_interactions` table, as Debezium captures it.
public struct Interaction: Decodable, Sendable {
    public var id: Int64
    public var userId: Int64
    public var itemId: Int64
    public var interactionType: String
    public var amount: Double
    public var tsMs: Int64
}

/// `user-activity`: per-user count, sum, avg and max of `amount` over sliding 5-minute windows
/// (every minute) — the README's example job, the demo's pipeline and the pipeline benchmark.
/// File → NDJSON rows (late events to `--late`), or Kafka → the Redis feature view
/// `user_activity_5m` (+ inference requests with `--inference-topic`).
public struct UserActivityFeatures: ExampleJob {
    public static let name = "user-activity"
    public static let summary = "per-user count/sum/avg/max over 5-minute windows every minute (file → file, or Kafka → Redis + inference requests)"
    public static let parameters = [
        JobParameter("late", "file for events later than allowed (file input)", default: "late.ndjson"),
        JobParameter("dead-letters", "file for malformed events"),
        JobParameter("inference-topic", "produce inference requests to this topic (Kafka input)"),
        JobParameter("model", "model whose registered version inference requests carry", default: "fraud-scorer"),
        JobParameter("namespace", "Redis key namespace of the feature view", default: "feature"),
        JobParameter("watermark-delay", "bounded out-of-orderness of the events (Kafka → Redis and backfill)", default: "2s"),
        JobParameter("allowed-lateness", "how long fired windows accept late events (Kafka → Redis and backfill; file → file keeps 10s)", default: "0s"),
        JobParameter("ttl", "TTL of the feature view: older features count as missing", default: "2h"),
    ]

    /// The feature view the job writes and `cdc-features features get user_activity_5m <user>` reads.
    public static let view = view(namespace: "feature")

    /// The view under another key namespace (benchmarks use their own, so they never touch the demo's features).
    public static func view(namespace: String, ttl: Duration = .hours(2)) -> FeatureView {
        FeatureView(name: "user_activity_5m", entityKey: "user_id",
                    features: [.int("count"), .double("sum"), .double("avg"), .double("max")],
                    ttl: ttl, version: 1, namespace: namespace)
    }

    /// The features of one user and window.
    public struct Activity: Sendable {
        public var count: Int64
        public var sum: Double
        public var avg: Double
        public var max: Double
    }

    /// One NDJSON output row.
    struct Row: Encodable {
        var user_id: Int64, window_start: EventTime, window_end: EventTime
        var count: Int64, sum: Double, avg: Double, max: Double
    }

    /// A late event, as written to `--late`.
    struct LateEvent: Encodable { var user_id: Int64, ts_ms: Int64, id: Int64 }

    /// Kafka → Redis settings (the pipeline command and benchmark set them all).
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
        /// Bad input goes here (reason code in the `streamkit.dlq.reason` header, see
        /// ``StrictFieldRecordDecoder``); without it bad input is only counted.
        public var deadLetterTopic: String?
        /// Values larger than this are dead-lettered without being parsed (`record_too_large`).
        /// Default: 1 MiB.
        public var maxRecordBytes: Int? = 1_048_576
        /// Checks of the decoded events: unknown `op`, missing fields, null keys, wrong types,
        /// future timestamps (default max skew 1 h), duplicates (off unless identity paths are set).
        public var validation = FieldRecordValidation()
        /// Windows stay open this long after the watermark passed them. Default: 0.
        public var allowedLateness: Duration = .zero
        /// Events later than the allowed lateness go here (as JSON `{"user_id","ts_ms","amount"}`
        /// with reason `late`); nil: to ``deadLetterTopic`` when set. Always counted.
        public var lateTopic: String?
        /// A user function applied to every event before the windows; a record it throws on is
        /// dead-lettered (`user_function`, the error's text in `streamkit.dlq.error`) and the job goes on.
        public var transform: (@Sendable (FieldRecord<Int64>) throws -> FieldRecord<Int64>)?
        /// Consumer group session timeout; the first join on Tansu waits about half of it.
        public var sessionTimeout: Duration = .seconds(6)
        public var heartbeatInterval: Duration = .milliseconds(1500)
        /// Redis key namespace of the feature view. Default: `feature`.
        public var namespace = "feature"
        /// TTL of the feature view (Redis expiry; older features count as missing). Default: 2 h.
        public var ttl: Duration = .hours(2)
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
        /// Dead letters (and late events written out) by reason code.
        public let deadLetters = DeadLetterMetrics()
        public init() {}
    }

    let late: String
    let deadLetters: String?
    let inferenceTopic: String?
    let model: String
    let namespace: String
    let watermarkDelay: Duration
    let allowedLateness: Duration
    let ttl: Duration

    public init(arguments: JobArguments) throws {
        late = arguments.string("late", default: "late.ndjson")
        deadLetters = arguments.string("dead-letters")
        inferenceTopic = arguments.string("inference-topic")
        model = arguments.string("model", default: "fraud-scorer")
        namespace = arguments.string("namespace", default: "feature")
        watermarkDelay = try arguments.duration("watermark-delay", default: .seconds(2))
        allowedLateness = try arguments.duration("allowed-lateness", default: .zero)
        ttl = try arguments.duration("ttl", default: .hours(2))
    }

    public func job(_ context: JobContext) throws -> Job {
        switch (context.input, context.output) {
        case let (.file(input), .file(output)):
            return Self.job(input: input, output: output, late: late, deadLetters: deadLetters)
        case let (.kafka(topic), .redis):
            var o = Options(kafka: context.kafka, topic: topic, groupID: context.groupID,
                            redis: RedisFeatureSinkConfiguration(redis: context.redis))
            o.startFrom = context.startFrom; o.bounded = context.bounded; o.inferenceTopic = inferenceTopic; o.namespace = namespace
            o.watermarkDelay = watermarkDelay; o.allowedLateness = allowedLateness; o.ttl = ttl
            if inferenceTopic != nil {
                o.modelVersion = try ModelRegistry.currentVersion(of: model, redis: context.redis, fallback: "unregistered")
            }
            return try Self.job(o)
        default:
            throw StreamKitError(.configuration, "user-activity runs file → file (--input/--out) or Kafka → Redis (--topic/--redis)")
        }
    }

    /// The windows of the job, whatever the source: per user, 5 minutes every minute.
    static func activity<E>(_ events: DataStream<E>, key: @escaping @Sendable (E) -> Int64, time: @escaping @Sendable (E) -> EventTime,
                            amount: @escaping @Sendable (E) -> Double, watermarkDelay: Duration, idleness: Duration?,
                            allowedLateness: Duration = .zero, late: (@Sendable (DataStream<E>) -> Void)? = nil)
    -> DataStream<WindowResult<Int64, Activity>> {
        var windows = events
            .assignTimestamps(time, watermark: .boundedOutOfOrderness(watermarkDelay), idleness: idleness)
            .keyBy(key)
            .window(.sliding(size: .minutes(5), slide: .minutes(1)), allowedLateness: allowedLateness)
        if let late { windows = windows.sideOutputLateData(late) }
        return windows.aggregate(.count(), .sum(amount), .mean(amount), .max(amount)) { Activity(count: $0, sum: $1, avg: $2, max: $3) }
    }

    /// File → file: Debezium change events of `user_interactions` (NDJSON) → one NDJSON row per
    /// (user, window); late events to `late`.
    public static func job(input: String, output: String, late: String, deadLetters: String? = nil) -> Job {
        Job(name) { env in
            let changes = env.source(FileSource(path: input, decoder: DebeziumLineDecoder(Interaction.self)), name: "interactions")
            if let deadLetters { changes.sideOutput(DeadLetter<String>.self).writeDeadLetters(to: deadLetters) }
            activity(changes.afterImages(), key: \.userId, time: \.tsMs, amount: \.amount,
                     watermarkDelay: .seconds(2), idleness: .seconds(30), allowedLateness: .seconds(10)) { events in
                events.writeJSONLines(to: late) { LateEvent(user_id: $0.userId, ts_ms: $0.tsMs, id: $0.id) }
            }
            .writeJSONLines(to: output) { r in
                Row(user_id: r.key, window_start: r.windowStart, window_end: r.windowEnd, count: r.count, sum: r.sum, avg: r.avg, max: r.max)
            }
        }
    }

    /// Kafka → Redis: Debezium change events on `o.topic` → the feature view (versioned, TTL'd,
    /// monotonic) and, optionally, inference requests.
    public static func job(_ o: Options, metrics: Metrics = Metrics()) throws -> Job {
        let decoder = try StrictFieldRecordDecoder<Int64>(keyPath: "after.user_id", timePath: "after.ts_ms", valuePaths: ["after.amount"],
                                                          validation: o.validation)
        var source = KafkaSourceConfiguration(topics: [o.topic], groupID: o.groupID, startFrom: o.startFrom)
        source.maxRecordBytes = o.maxRecordBytes
        source.bounded = o.bounded
        source.parallelism = o.sourceParallelism
        source.sessionTimeout = o.sessionTimeout
        source.heartbeatInterval = o.heartbeatInterval
        let view = Self.view(namespace: o.namespace, ttl: o.ttl)
        let sourceConfiguration = source
        return Job("user-activity-features") { env in
            let raw = env.source(KafkaSource(kafka: o.kafka, sourceConfiguration, decoder: decoder, metrics: metrics.source), name: "kafka")
            if let dlq = o.deadLetterTopic {
                raw.sideOutput(DeadLetter<String>.self).writeDeadLetters(toKafka: o.kafka, topic: dlq, deadLetters: metrics.deadLetters)
            }
            var events = raw
            if let transform = o.transform {
                events = raw.tryMap("user-function", transform)
                if let dlq = o.deadLetterTopic {
                    events.sideOutput(DeadLetter<FieldRecord<Int64>>.self)
                        .writeDeadLetters(toKafka: o.kafka, topic: dlq, name: "kafka-dead-letters-user", deadLetters: metrics.deadLetters, payload: eventJSON)
                }
            }
            var late: (@Sendable (DataStream<FieldRecord<Int64>>) -> Void)? = nil
            if let lateTopic = o.lateTopic ?? o.deadLetterTopic {
                let kafka = o.kafka, counts = metrics.deadLetters
                late = { stream in
                    stream.map("late-events") { DeadLetter(record: $0, reason: "event time \($0.time) is later than the allowed lateness", code: .late) }
                        .writeDeadLetters(toKafka: kafka, topic: lateTopic, name: "kafka-late-events", deadLetters: counts, payload: eventJSON)
                }
            }
            let served = servedFeatures(events, watermarkDelay: o.watermarkDelay, idleness: o.idleness,
                                        allowedLateness: o.allowedLateness, late: late)
            served.sink("redis-features") {
                RedisFeatureSink(view: view, configuration: o.redis, metrics: metrics.redis) { r in
                    FeatureUpdate(entity: r.entity, eventTime: r.eventTime, values: r.values)
                }
            }
            if let topic = o.inferenceTopic {
                served.writeInferenceRequests(to: o.kafka, topic: topic, view: view, modelVersion: o.modelVersion, metrics: metrics.inference)
            }
        }
    }

    /// An event as `{"user_id":…,"ts_ms":…,"amount":…}` (late events, user-function dead letters).
    @Sendable static func eventJSON(_ e: FieldRecord<Int64>) -> [UInt8] {
        var w = JSONWriter(capacity: 64)
        w.beginObject(); w.key("user_id"); w.value(e.key); w.key("ts_ms"); w.value(e.time)
        w.key("amount"); if e.v0.isNaN { w.null() } else { w.value(e.v0) }
        w.endObject()
        return w.bytes
    }

    /// The feature definition shared by the online job (Kafka → Redis) and the backfill: the
    /// windows of ``activity(_:key:time:amount:watermarkDelay:idleness:allowedLateness:late:)``
    /// as the rows written to the view (event time = window end − 1), stamped with when they
    /// became servable.
    public static func servedFeatures(_ events: DataStream<FieldRecord<Int64>>, watermarkDelay: Duration, idleness: Duration?,
                                      allowedLateness: Duration, late: (@Sendable (DataStream<FieldRecord<Int64>>) -> Void)? = nil)
    -> DataStream<ServedFeatures> {
        activity(events, key: \.key, time: \.time, amount: \.v0, watermarkDelay: watermarkDelay, idleness: idleness,
                 allowedLateness: allowedLateness, late: late)
            .servedFeatures { r in (String(r.key), r.windowEnd - 1, features(r)) }
    }

    static func features(_ r: WindowResult<Int64, Activity>) -> [FeatureValue?] {
        [.int(r.count), .double(r.sum), .double(r.avg), .double(r.max)]
    }
}

/// The backfill runs the same feature definition as the Kafka → Redis job, with the job's
/// `watermark-delay`, `allowed-lateness` and `ttl` (`cdc-features backfill user-activity …`).
extension UserActivityFeatures: BackfillableJob {
    public var featureView: FeatureView { Self.view(namespace: namespace, ttl: ttl) }
    public func eventDecoder() throws -> StrictFieldRecordDecoder<Int64> {
        try StrictFieldRecordDecoder<Int64>(keyPath: "after.user_id", timePath: "after.ts_ms", valuePaths: ["after.amount"])
    }
    public func eventTime(_ event: FieldRecord<Int64>) -> EventTime { event.time }
    public func features(_ events: DataStream<FieldRecord<Int64>>, idleness: Duration?) -> DataStream<ServedFeatures> {
        Self.servedFeatures(events, watermarkDelay: watermarkDelay, idleness: idleness, allowedLateness: allowedLateness)
    }
}
