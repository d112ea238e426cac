import Foundation
import Testing
import StreamKit
import StreamKitBackfill
import StreamKitJobs
import StreamKitKafka
import StreamKitRedis

/// Online = offline for `session-features`, on the real Tansu broker and Redis: the job (Kafka →
/// per-user sessions updated on every interaction and closed after a 3-minute gap → Redis +
/// inference requests) runs over interactions with out-of-order events, a pause that closes every
/// session, and events behind the watermark (joining an open session: served after their event
/// time; fitting none: dropped); then the backfill runs the same feature definition over the same
/// events from a file, with labels at every logged `served_at`: every vector equals the served
/// one, and at a probe time after the end every user equals Redis (state `closed`).
@Suite(.enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up, KAFKA_BROKERS)"))
struct BackfillSessionConsistencyTests {
    typealias K = KafkaTestSupport
    static let m: Int64 = 28_333_334 * 60_000

    /// 5,000 interactions of 120 users over ~40 minutes (one every 0.4 s), out of order by up to
    /// ±1.5 s, with no events from minute 15 to 20 (every session closes); every 97th event is
    /// followed by one of another user 4 s behind (behind the 2 s watermark delay).
    static func events() -> [String] {
        var rng = SplitMix64(seed: 1617)
        var lines: [String] = []
        var id = 0
        func add(_ user: Int64, _ ts: Int64) {
            id += 1
            let item = 1 + rng.next() % 25
            lines.append(#"{"before":null,"after":{"id":\#(id),"user_id":\#(user),"item_id":\#(item),"interaction_type":"view","amount":1.5,"ts_ms":\#(ts)},"source":{"version":"2.5.0.Final","connector":"postgresql","name":"app","ts_ms":\#(ts),"db":"app","schema":"public","table":"user_interactions"},"op":"c","ts_ms":\#(ts)}"#)
        }
        for i in 0..<5_000 {
            var ts = m + 5_000 + Int64(i) * 400 + Int64(rng.next() % 3_001) - 1_500
            if ts >= m + 15 * 60_000 { ts += 5 * 60_000 }
            add(Int64(1 + rng.next() % 120), ts)
            if i % 97 == 96 { add(Int64(1 + rng.next() % 120), ts - 4_000) }
        }
        return lines
    }

    @Test(.timeLimit(.minutes(10)))
    func backfilledSessionVectorsEqualTheServedOnes() async throws {
        let lines = Self.events()
        let topic = K.unique("backfill-sessions"), inference = K.unique("backfill-sessions-inference")
        try K.createTopic(topic, partitions: 1)
        try K.createTopic(inference, partitions: 1)
        defer { _ = try? KafkaAdmin(configuration: K.kafka).deleteTopics([topic, inference]) }
        try K.produceWorkload(lines, topic: topic)
        let path = NSTemporaryDirectory() + K.unique("backfill-sessions") + ".ndjson"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }

        // Online: Kafka → job → Redis + inference requests.
        let namespace = K.unique("backfill-sessions-ns")
        let redis = try RedisConfiguration(url: Services.redisURL)
        defer { _ = try? RedisConnection(redis).deleteKeys(matching: "\(namespace):*") }
        var io = JobContext(input: .kafka(topic: topic), output: .redis, kafka: K.kafka, redis: redis, groupID: K.unique("backfill-sessions-g"))
        io.startFrom = .earliest; io.bounded = true
        let online = try await SessionFeaturesJob(["namespace": namespace, "gap": "3m", "inference-topic": inference]).job(io).run(parallelism: 2)
        #expect(online.metrics.sourceRecords.current == Int64(lines.count))
        let log = try ServedRequestLog(try KafkaTopicReader.readAll(topic: inference, configuration: K.kafka, timeout: .seconds(180)))
        #expect(log.requests.count > lines.count)   // an update per accepted event and one per closed session
        #expect(log.requests.contains { $0.servedAt > $0.eventTime }, "closed sessions and late events were served after their event time")
        #expect(log.requests.contains { $0.features.contains(#""state":"closed""#) && $0.servedAt < Self.m + 20 * 60_000 },
                "sessions closed in the pause")

        // Offline: the same definition over the file (one split, like the topic's one partition).
        let job = try SessionFeaturesJob(["namespace": namespace, "gap": "3m"])
        var labels = log.labels
        let probe = Self.m + 60 * 60_000
        let users = Set(log.requests.map(\.entity)).sorted()
        for u in users { labels.append(LabelEvent(entity: u, time: probe, label: "\"probe\"")) }
        let result = try await Backfill(job: job, labels: .events(labels)).run(input: .file(path), parallelism: 1)
        #expect(result.rows.count == labels.count)
        let (equal, compared) = log.compare(result.rows, view: job.featureView)
        #expect(compared == log.labels.count && equal == compared, "\(equal) of \(compared) vectors equal")

        // At the probe time the backfill serves what Redis holds: every session closed.
        let stored = try await FeatureClient(configuration: redis, now: { probe }).getMany(view: job.featureView, entities: users)
        for (u, vector) in zip(users, stored) {
            let row = try #require(result.rows.first { $0.label.entity == u && $0.label.time == probe })
            let v = try #require(vector, "user \(u) has features in Redis")
            #expect(row.featureEventTime == v.eventTime, "user \(u)")
            #expect(row.features == v.features.map { Optional($0.value) }, "user \(u)")
            #expect(row.features?.last == .some(.string("closed")), "user \(u)")
        }
    }
}
