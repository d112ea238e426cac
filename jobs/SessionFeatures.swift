public import StreamKit
public import FeatureJobs
public import StreamKitJSON
public import StreamKitDebezium
public import StreamKitKafka
public import StreamKitRedis

/// `session-features`: per-user sessions with a 30-minute gap, updated on every interaction —
/// session length, events in the session, distinct items, time since the previous event — to the
/// Redis view `user_session` (or an NDJSON file).
public struct SessionFeaturesJob: ExampleJob {
    public static let name = "session-features"
    public static let summary = "per-user sessions (30-minute gap) updated on every interaction (file or Kafka → file or Redis)"
    public static let parameters = [
        JobParameter("gap", "inactivity that ends a session", default: "30m"),
        JobParameter("dead-letters", "file for malformed events"),
        JobParameter("namespace", "Redis key namespace of the feature view", default: "feature"),
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

    public init(arguments: JobArguments) throws {
        gap = try arguments.duration("gap", default: .minutes(30))
        deadLetters = arguments.string("dead-letters")
        namespace = arguments.string("namespace", default: "feature")
    }

    public static func view(namespace: String = "feature") -> FeatureView {
        FeatureView(name: "user_session", entityKey: "user_id",
                    features: [.int("session_start"), .int("session_length_ms"), .int("events_in_session"),
                               .int("distinct_items"), .int("since_last_event_ms"), .string("state")],
                    ttl: .hours(2), version: 1, namespace: namespace)
    }

    public func job(_ io: JobContext) throws -> Job {
        let v = Self.view(namespace: namespace)
        let gap = self.gap, deadLetters = self.deadLetters
        return Job(Self.name) { env in
            let sessions = interactions(env, io, deadLetters: deadLetters)
                .assignTimestamps({ $0.tsMs }, watermark: .boundedOutOfOrderness(.seconds(2)), idleness: .seconds(10))
                .keyBy { $0.userId }
                .process(SessionFeatureFunction<Int64, Interaction, Int64>(gap: gap) { $0.itemId })
            switch io.output {
            case let .file(path):
                sessions.writeJSONLines(to: path) { s in
                    Row(user_id: s.key, state: s.kind == .closed ? "closed" : "open", session_start: s.sessionStart,
                        last_event_time: s.lastEventTime, session_length_ms: s.lengthMs, events_in_session: s.eventCount,
                        distinct_items: s.distinctItems, since_last_event_ms: s.sinceLastEventMs)
                }
            case .redis:
                let sink = RedisFeatureSinkConfiguration(redis: io.redis)
                sessions.sink("redis-sessions") {
                    RedisFeatureSink(view: v, configuration: sink) { s in
                        FeatureUpdate(entity: String(s.key), eventTime: s.lastEventTime,
                                      values: [.int(s.sessionStart), .int(s.lengthMs), .int(s.eventCount), .int(s.distinctItems),
                                               .int(s.sinceLastEventMs ?? 0), .string(s.kind == .closed ? "closed" : "open")])
                    }
                }
            }
        }
    }
}

/// Typed interactions (after-images) from a file or a Kafka topic of Debezium events.
func interactions(_ env: StreamEnvironment, _ io: JobContext, deadLetters: String?) -> DataStream<Interaction> {
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
    return changes.afterImages()
}
