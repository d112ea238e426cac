public import StreamKit
public import FeatureJobs
public import StreamKitJSON
public import StreamKitDebezium
public import StreamKitKafka
public import StreamKitRedis
public import StreamKitBackfill

/// `session-features`: per-user sessions with a 30-minute gap, updated on every interaction —
/// session length, events in the session, distinct items, time since the previous event — to the
/// Redis view `user_session` (or an NDJSON file), and optionally inference requests
/// (`--inference-topic`) carrying the served vector with its `event_time` and `served_at`.
public struct SessionFeaturesJob: ExampleJob {
    public static let name = "session-features"
    public static let summary = "per-user sessions (30-minute gap) updated on every interaction (file or Kafka → file or Redis)"
    public static let parameters = [
        JobParameter("gap", "inactivity that ends a session", default: "30m"),
        JobParameter("dead-letters", "file for malformed events"),
        JobParameter("namespace", "Redis key namespace of the feature view", default: "feature"),
        JobParameter("inference-topic", "produce inference requests to this topic (Redis output)"),
        JobParameter("model", "model whose registered version inference requests carry", default: "fraud-scorer"),
    ]

    /// One NDJSON output row (`since_last_event_ms` is `null` for a session's first event).
    struct Row: Encodable {
        var user_id: Int64, state: String, session_start: EventTime, last_event_time: EventTime
        var session_length_ms: Int64, events_in_session: Int64, distinct_items: Int64, since_last_event_ms: Int64?
        enum CodingKeys: CodingKey {
            case user_id, state, session_start, last_event_time, session_length_ms, events_in_session, distinct_items, since_last_event_ms
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(user_id, forKey: .user_id); try c.encode(state, forKey: .state)
            try c.encode(session_start, forKey: .session_start); try c.encode(last_event_time, forKey: .last_event_time)
            try c.encode(session_length_ms, forKey: .session_length_ms); try c.encode(events_in_session, forKey: .events_in_session)
            try c.encode(distinct_items, forKey: .distinct_items)
            try c.encode(since_last_event_ms, forKey: .since_last_event_ms)   // null, not omitted
        }
    }

    let gap: Duration
    let deadLetters: String?
    let namespace: String
    let inferenceTopic: String?
    let model: String

    public init(arguments: JobArguments) throws {
        gap = try arguments.duration("gap", default: .minutes(30))
        deadLetters = arguments.string("dead-letters")
        namespace = arguments.string("namespace", default: "feature")
        inferenceTopic = arguments.string("inference-topic")
        model = arguments.string("model", default: "fraud-scorer")
    }

    public static func view(namespace: String = "feature") -> FeatureView {
        FeatureView(name: "user_session", entityKey: "user_id",
                    features: [.int("session_start"), .int("session_length_ms"), .int("events_in_session"),
                               .int("distinct_items"), .int("since_last_event_ms"), .string("state")],
                    ttl: .hours(2), version: 1, namespace: namespace)
    }

    /// The bounded out-of-orderness of interactions (event time `ts_ms`).
    public static let watermarkDelay: Duration = .seconds(2)

    /// Per-user sessions of interactions (after-images), updated on every event and closed after
    /// `gap` of inactivity: the file output's rows and, through ``servedFeatures(_:gap:idleness:)``,
    /// the view's.
    static func sessions(_ interactions: DataStream<Interaction>, gap: Duration, idleness: Duration?) -> DataStream<SessionFeatures<Int64>> {
        interactions
            .assignTimestamps({ $0.tsMs }, watermark: .boundedOutOfOrderness(watermarkDelay), idleness: idleness)
            .keyBy { $0.userId }
            .process(SessionFeatureFunction<Int64, Interaction, Int64>(gap: gap) { $0.itemId })
    }

    /// The feature definition shared by the online job (→ Redis) and the backfill: Debezium change
    /// records of `user_interactions` → their after-images → sessions → the rows written to the
    /// view (event time = the session's last event time; a closing session is written again with
    /// the same event time and state `closed`), stamped with when they became servable (a closed
    /// session: not before `last + gap`, when its timer fires).
    public static func servedFeatures(_ records: DataStream<DebeziumRecord<Interaction>>, gap: Duration, idleness: Duration?)
    -> DataStream<ServedFeatures> {
        let gapMillis = gap.milliseconds
        // A closed session keeps its last event time but is known only when its timer fires at
        // `last + gap`: before that, a label must see the open session (no look-ahead).
        return sessions(records.afterImages(), gap: gap, idleness: idleness)
            .servedFeatures(servableFrom: { s in s.kind == .closed ? s.lastEventTime &+ gapMillis : s.lastEventTime }) { s in
                (String(s.key), s.lastEventTime, values(s))
            }
    }

    /// A session's features in the view's order (`since_last_event_ms` 0 for a session's first event).
    static func values(_ s: SessionFeatures<Int64>) -> [FeatureValue?] {
        [.int(s.sessionStart), .int(s.lengthMs), .int(s.eventCount), .int(s.distinctItems),
         .int(s.sinceLastEventMs ?? 0), .string(s.kind == .closed ? "closed" : "open")]
    }

    public func job(_ io: JobContext) throws -> Job {
        let v = Self.view(namespace: namespace)
        let gap = self.gap, deadLetters = self.deadLetters, inferenceTopic = self.inferenceTopic
        if inferenceTopic != nil, case .file = io.output {
            throw StreamKitError(.configuration, "session-features writes inference requests with Redis output only (--redis)")
        }
        let modelVersion = inferenceTopic == nil ? "unversioned"
            : try ModelRegistry.currentVersion(of: model, redis: io.redis, fallback: "unregistered")
        return Job(Self.name) { env in
            let records = interactionChanges(env, io, deadLetters: deadLetters)
            switch io.output {
            case let .file(path):
                Self.sessions(records.afterImages(), gap: gap, idleness: .seconds(10)).writeJSONLines(to: path) { s in
                    Row(user_id: s.key, state: s.kind == .closed ? "closed" : "open", session_start: s.sessionStart,
                        last_event_time: s.lastEventTime, session_length_ms: s.lengthMs, events_in_session: s.eventCount,
                        distinct_items: s.distinctItems, since_last_event_ms: s.sinceLastEventMs)
                }
            case .redis:
                let sink = RedisFeatureSinkConfiguration(redis: io.redis)
                let served = Self.servedFeatures(records, gap: gap, idleness: .seconds(10))
                served.sink("redis-sessions") {
                    RedisFeatureSink(view: v, configuration: sink) { r in
                        FeatureUpdate(entity: r.entity, eventTime: r.eventTime, values: r.values)
                    }
                }
                if let inferenceTopic {
                    served.writeInferenceRequests(to: io.kafka, topic: inferenceTopic, view: v, modelVersion: modelVersion)
                }
            }
        }
    }
}

/// The backfill runs the same feature definition as the job's Redis output, with the job's `gap`
/// (`cdc-features backfill session-features …`): history lines are the Debezium change events of
/// `user_interactions`, as on the topic.
extension SessionFeaturesJob: BackfillableJob {
    public var featureView: FeatureView { Self.view(namespace: namespace) }
    public func eventDecoder() throws -> DebeziumLineDecoder<Interaction> { DebeziumLineDecoder(Interaction.self) }
    /// An interaction's `ts_ms`; a record without an after-image (which the job ignores) counts
    /// as the earliest time, so `--to` keeps it.
    public func eventTime(_ event: DebeziumRecord<Interaction>) -> EventTime { event.envelope?.after?.tsMs ?? .min }
    public func features(_ events: DataStream<DebeziumRecord<Interaction>>, idleness: Duration?) -> DataStream<ServedFeatures> {
        Self.servedFeatures(events, gap: gap, idleness: idleness)
    }
}

/// Typed interactions (after-images) from a file or a Kafka topic of Debezium events.
func interactions(_ env: StreamEnvironment, _ io: JobContext, deadLetters: String?) -> DataStream<Interaction> {
    interactionChanges(env, io, deadLetters: deadLetters).afterImages()
}

/// The Debezium change records of `user_interactions` from a file or a Kafka topic (malformed
/// lines to `deadLetters`).
func interactionChanges(_ env: StreamEnvironment, _ io: JobContext, deadLetters: String?) -> DataStream<DebeziumRecord<Interaction>> {
    let changes: DataStream<DebeziumRecord<Interaction>>
    switch io.input {
    case let .file(path):
        changes = env.source(FileSource(path: path, decoder: DebeziumLineDecoder(Interaction.self)), name: "interactions")
    case let .kafka(topic):
        var c = KafkaSourceConfiguration(topics: [topic], groupID: io.groupID, startFrom: io.startFrom)
        c.bounded = io.bounded
        c.sessionTimeout = .seconds(2); c.heartbeatInterval = .milliseconds(500)
        changes = env.source(KafkaSource(kafka: io.kafka, c, decoder: DebeziumLineDecoder(Interaction.self)), name: "interactions")
    }
    if let dead = deadLetters { changes.sideOutput(DeadLetter<String>.self).writeDeadLetters(to: dead) }
    return changes
}
