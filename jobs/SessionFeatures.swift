public import StreamKit
public import FeatureJobs
public import StreamKitJSON
public import StreamKitDebezium
public import StreamKitKafka
public import StreamKitRedis

/// `session-features`: per-user sessions with a 30-minute gap, updated on every interaction —
/// session length, events in the session, distinct items, time since the previous event — to the
/// Redis view `user_session` (or an NDJSON file).
public enum SessionFeaturesJob {
    public static func view(namespace: String = "feature") -> FeatureView {
        FeatureView(name: "user_session", entityKey: "user_id",
                    features: [.int("session_start"), .int("session_length_ms"), .int("events_in_session"),
                               .int("distinct_items"), .int("since_last_event_ms"), .string("state")],
                    ttl: .hours(2), version: 1, namespace: namespace)
    }

    public static func make(_ io: JobIO, namespace: String = "feature") throws -> Job {
        let v = view(namespace: namespace)
        return Job("session-features") { env in
            let sessions = interactions(env, io)
                .assignTimestamps({ $0.tsMs }, watermark: .boundedOutOfOrderness(.seconds(2)), idleness: .seconds(10))
                .keyBy { $0.userId }
                .process(SessionFeatureFunction<Int64, Interaction, Int64>(gap: .minutes(30)) { $0.itemId })
            switch io.output {
            case let .file(path):
                sessions.writeLines(to: path) { s, out in
                    var w = JSONWriter(capacity: 192)
                    w.beginObject()
                    w.field("user_id", s.key); w.field("state", s.kind == .closed ? "closed" : "open")
                    w.field("session_start", s.sessionStart); w.field("last_event_time", s.lastEventTime)
                    w.field("session_length_ms", s.lengthMs); w.field("events_in_session", s.eventCount)
                    w.field("distinct_items", s.distinctItems)
                    if let since = s.sinceLastEventMs { w.field("since_last_event_ms", since) } else { w.nullField("since_last_event_ms") }
                    w.endObject()
                    out.append(contentsOf: w.bytes)
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
func interactions(_ env: StreamEnvironment, _ io: JobIO) -> DataStream<Interaction> {
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
    if let dead = io.deadLetters { changes.sideOutput(DeadLetter<String>.self).writeDeadLetters(to: dead) }
    return changes.afterImages()
}
