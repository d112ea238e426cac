import Foundation
import Testing
import StreamKit
import StreamKitJobs
import StreamKitKafka
import StreamKitRedis
import StreamKitQuery

/// Runs the user-activity pipeline (Kafka → 5 min / 1 min windows → Redis) on real services over a
/// hand-made stream of Debezium events with bad records in the middle, and collects what the
/// bad-input tests check: the dead-letter and late topics, the per-reason counts and each user's
/// features in Redis next to the values expected from the good events alone.
enum BadInput {
    /// One good change event of `user_interactions`.
    struct Event: Sendable {
        var id: Int64
        var user: Int64
        var ts: Int64
        var amount: Double
    }

    /// A minute-aligned event time an hour in the past (within any future-skew limit).
    static let base: Int64 = (WallClock.millis() - 3_600_000) / 60_000 * 60_000

    /// The Debezium envelope of `e` (`extra` is spliced into `after`).
    static func line(_ e: Event, op: String = "c", extra: String = "") -> String {
        #"{"before":null,"after":{"id":\#(e.id),"user_id":\#(e.user),"item_id":7,"interaction_type":"purchase","amount":\#(e.amount),"ts_ms":\#(e.ts)\#(extra)},"source":{"version":"2.5.0","connector":"postgresql","name":"app","db":"app","schema":"public","table":"user_interactions","lsn":\#(1000 + e.id),"ts_ms":\#(e.ts)},"op":"\#(op)","ts_ms":\#(e.ts)}"#
    }

    /// `count` good events for users 1…5, 100 ms apart from `base`, ids from `firstID`.
    static func goodEvents(_ count: Int, firstID: Int64 = 1, start: Int64 = base) -> [Event] {
        var out: [Event] = []
        for i in 0..<count {
            let user = Int64(i % 5) + 1
            let ts = start + Int64(i) * 100
            let amount = Double((i * 37) % 100) + 0.25
            out.append(Event(id: firstID + Int64(i), user: user, ts: ts, amount: amount))
        }
        return out
    }

    static func message(_ e: Event) -> KafkaMessage { KafkaMessage(key: String(e.user), value: line(e)) }

    /// The features the job must write for each user: its newest window ([floor(t_max) to the
    /// minute, + 5 min)) over the good events only.
    struct Features: Equatable, CustomStringConvertible {
        var count: Int64, sum: Double, avg: Double, max: Double
        var description: String { "count \(count) sum \(sum) avg \(avg) max \(max)" }
        func matches(_ o: Features) -> Bool {
            count == o.count && abs(sum - o.sum) < 1e-9 && abs(avg - o.avg) < 1e-9 && max == o.max
        }
    }

    static func expected(_ good: [Event]) -> [Int64: Features] {
        var out: [Int64: Features] = [:]
        for (user, events) in Dictionary(grouping: good, by: \.user) {
            let newest = events.map(\.ts).max()!
            let start = newest / 60_000 * 60_000
            let inWindow = events.filter { $0.ts >= start }.map(\.amount)
            let sum = inWindow.reduce(0, +)
            out[user] = Features(count: Int64(inWindow.count), sum: sum, avg: sum / Double(inWindow.count), max: inWindow.max()!)
        }
        return out
    }

    struct Outcome {
        var deadLetters: [KafkaRecord]
        var late: [KafkaRecord]
        var counts: DeadLetterMetrics
        var sourceMetrics: KafkaSourceMetrics
        var result: JobResult
        var features: [Int64: Features]
        var topic: String

        func dead(_ reason: String) -> [KafkaRecord] { deadLetters.filter { $0.header(KafkaDeadLetterHeader.reason)?.stringValue == reason } }
    }

    /// Produces `messages` in order to a fresh one-partition topic, runs the pipeline bounded
    /// (dead letters and late events to fresh topics), reads back everything and cleans up.
    static func run(_ messages: [KafkaMessage], users: [Int64], producer producerProperties: [String: String] = [:],
                    configure: (inout UserActivityFeatures.Options) -> Void = { _ in }) async throws -> Outcome {
        try #require(KafkaTestSupport.reachable, "no Kafka broker at \(Services.kafkaBrokers)")
        let topic = KafkaTestSupport.unique("badinput"), dlq = topic + ".dlq", late = topic + ".late"
        try KafkaTestSupport.createTopic(topic, partitions: 1)
        try KafkaTestSupport.createTopic(dlq, partitions: 1)
        try KafkaTestSupport.createTopic(late, partitions: 1)
        defer { _ = try? KafkaAdmin(configuration: KafkaTestSupport.kafka).deleteTopics([topic, dlq, late]) }
        var producerKafka = KafkaTestSupport.kafka
        producerKafka.properties.merge(producerProperties) { _, new in new }
        let producer = try KafkaProducer(configuration: producerKafka)
        for m in messages { try producer.send(topic: topic, message: m) }
        try producer.flush()

        let redis = try RedisConfiguration(url: Services.redisURL)
        var o = UserActivityFeatures.Options(kafka: KafkaTestSupport.kafka, topic: topic, groupID: topic + "-job",
                                             redis: RedisFeatureSinkConfiguration(redis: redis))
        o.bounded = true
        o.sessionTimeout = .seconds(2); o.heartbeatInterval = .milliseconds(500)
        o.namespace = KafkaTestSupport.unique("badinput")
        o.deadLetterTopic = dlq
        o.lateTopic = late
        configure(&o)
        defer { _ = try? RedisConnection(redis).deleteKeys(matching: "\(o.namespace):*") }
        let metrics = UserActivityFeatures.Metrics()
        let result = try await UserActivityFeatures.job(o, metrics: metrics).run(parallelism: 2)

        let view = UserActivityFeatures.view(namespace: o.namespace)
        let vectors = try await FeatureClient(configuration: redis).getMany(view: view, entities: users.map { String($0) })
        var features: [Int64: Features] = [:]
        for (user, v) in zip(users, vectors) {
            guard let v else { continue }
            func value(_ name: String) -> Double { v.features.first { $0.name == name }?.value.doubleValue ?? .nan }
            features[user] = Features(count: Int64(value("count")), sum: value("sum"), avg: value("avg"), max: value("max"))
        }
        return Outcome(deadLetters: try KafkaTopicReader.readAll(topic: dlq, configuration: KafkaTestSupport.kafka),
                       late: try KafkaTopicReader.readAll(topic: late, configuration: KafkaTestSupport.kafka),
                       counts: metrics.deadLetters, sourceMetrics: metrics.source, result: result, features: features, topic: topic)
    }

    /// The checks every bad-input test makes: exactly one dead letter, of `reason`, with the
    /// original payload and its source position; counted once; every user's features exact.
    static func expectOneDeadLetter(_ outcome: Outcome, reason: StreamKitError.Code, payload: String, offset: Int64,
                                    good: [Event], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(outcome.deadLetters.count == 1, "dead letters: \(outcome.deadLetters.map { $0.header(KafkaDeadLetterHeader.reason)?.stringValue ?? "?" })",
                sourceLocation: sourceLocation)
        if let d = outcome.deadLetters.first {
            #expect(d.header(KafkaDeadLetterHeader.reason)?.stringValue == reason.rawValue, sourceLocation: sourceLocation)
            #expect(d.valueString == payload, "the dead letter carries the original value", sourceLocation: sourceLocation)
            #expect(d.header(KafkaDeadLetterHeader.sourceTopic)?.stringValue == outcome.topic, sourceLocation: sourceLocation)
            #expect(d.header(KafkaDeadLetterHeader.sourcePartition)?.stringValue == "0", sourceLocation: sourceLocation)
            #expect(d.header(KafkaDeadLetterHeader.sourceOffset)?.stringValue == String(offset), sourceLocation: sourceLocation)
            #expect(d.header(KafkaDeadLetterHeader.error)?.stringValue?.isEmpty == false, sourceLocation: sourceLocation)
        }
        #expect(outcome.counts.count(reason) == 1, "counted once under reason \(reason)", sourceLocation: sourceLocation)
        #expect(outcome.counts.total == 1, "\(outcome.counts.byReason)", sourceLocation: sourceLocation)
        #expect(outcome.late.isEmpty, sourceLocation: sourceLocation)
        expectFeatures(outcome, good: good, sourceLocation: sourceLocation)
    }

    static func expectFeatures(_ outcome: Outcome, good: [Event], sourceLocation: SourceLocation = #_sourceLocation) {
        let want = expected(good)
        #expect(Set(outcome.features.keys) == Set(want.keys), "users with features", sourceLocation: sourceLocation)
        for (user, w) in want.sorted(by: { $0.key < $1.key }) {
            let got = outcome.features[user]
            #expect(got.map { $0.matches(w) } == true, "user \(user): got \(got.map { "\($0)" } ?? "nothing"), want \(w)",
                    sourceLocation: sourceLocation)
        }
    }
}
