import Foundation
import Testing
import StreamKit
import StreamKitBackfill
import StreamKitJobs
import StreamKitKafka
import StreamKitRedis

/// Online = offline for `user-features`, on the real Tansu broker and Redis: the job (Kafka →
/// per-user rolling windows of 5 minutes and 1 hour → Redis views `user`, `user_1h` + inference
/// requests of the 5-minute view) runs over interactions with out-of-order and too-late events;
/// then the backfill runs the same definition of each view over the same events from a file:
/// the `user` view at every logged `served_at` equals the served vectors bit for bit, and both
/// views at a probe time after the end equal Redis.
@Suite(.enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up, KAFKA_BROKERS)"))
struct BackfillUserFeaturesConsistencyTests {
    typealias K = KafkaTestSupport
    static let m: Int64 = 28_333_334 * 60_000

    /// 4,000 interactions of 100 users over 16 minutes (one every 0.24 s), out of order by up to
    /// ±1.5 s, views, clicks and purchases of 30 items; every 211th event is followed by one 6
    /// minutes behind (too late for every 5-minute window: dropped there, as there is no allowed
    /// lateness; still counted in the open hourly windows).
    static func events() -> [String] {
        var rng = SplitMix64(seed: 1618)
        var lines: [String] = []
        var id = 0
        func add(_ ts: Int64) {
            id += 1
            let type = ["view", "view", "click", "purchase"][Int(rng.next() % 4)]
            let cents = Int64(rng.next() % 50_001)
            let amount = "\(cents / 100).\(cents % 100 < 10 ? "0" : "")\(cents % 100)"
            lines.append(#"{"before":null,"after":{"id":\#(id),"user_id":\#(1 + rng.next() % 100),"item_id":\#(1 + rng.next() % 30),"interaction_type":"\#(type)","amount":\#(amount),"ts_ms":\#(ts)},"source":{"version":"2.5.0.Final","connector":"postgresql","name":"app","ts_ms":\#(ts),"db":"app","schema":"public","table":"user_interactions"},"op":"c","ts_ms":\#(ts)}"#)
        }
        for i in 0..<4_000 {
            let ts = m + 5_000 + Int64(i) * 240 + Int64(rng.next() % 3_001) - 1_500
            add(ts)
            if i % 211 == 210 { add(ts - 6 * 60_000) }
        }
        return lines
    }

    @Test(.timeLimit(.minutes(10)))
    func backfilledUserVectorsEqualTheServedOnes() async throws {
        let lines = Self.events()
        let topic = K.unique("backfill-user-features"), inference = K.unique("backfill-user-features-inference")
        try K.createTopic(topic, partitions: 1)
        try K.createTopic(inference, partitions: 1)
        defer { _ = try? KafkaAdmin(configuration: K.kafka).deleteTopics([topic, inference]) }
        try K.produceWorkload(lines, topic: topic)
        let path = NSTemporaryDirectory() + K.unique("backfill-user-features") + ".ndjson"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }

        // Online: Kafka → job → Redis (both views) + inference requests (the 5-minute view).
        let namespace = K.unique("backfill-uf-ns")
        let redis = try RedisConfiguration(url: Services.redisURL)
        defer { _ = try? RedisConnection(redis).deleteKeys(matching: "\(namespace):*") }
        var io = JobContext(input: .kafka(topic: topic), output: .redis, kafka: K.kafka, redis: redis, groupID: K.unique("backfill-uf-g"))
        io.startFrom = .earliest; io.bounded = true
        let online = try await UserFeaturesJob(["namespace": namespace, "inference-topic": inference]).job(io).run(parallelism: 2)
        #expect(online.metrics.sourceRecords.current == Int64(lines.count))
        #expect(online.metrics.lateRecords > 0, "some events were dropped as too late")
        let log = try ServedRequestLog(try KafkaTopicReader.readAll(topic: inference, configuration: K.kafka, timeout: .seconds(180)))
        #expect(log.requests.count > 1_000)

        // After the end of every window (the end of the input fires the last hourly windows, up to
        // an hour after the last event): Redis holds the newest window of each view.
        let probe = Self.m + 90 * 60_000
        let users = (1...100).map(String.init)
        for horizon in UserFeaturesJob.Horizon.allCases {
            // Offline: the view's definition over the file (one split, like the topic's one partition).
            let job = try UserFeaturesJob(["namespace": namespace, "view": horizon.rawValue])
            #expect(job.featureView.name == horizon.rawValue)
            var labels = horizon == .fiveMinutes ? log.labels : []
            for u in users { labels.append(LabelEvent(entity: u, time: probe, label: "\"probe\"")) }
            let result = try await Backfill(job: job, labels: .events(labels)).run(input: .file(path), parallelism: 1)
            #expect(result.rows.count == labels.count)
            if horizon == .fiveMinutes {
                let (equal, compared) = log.compare(result.rows, view: job.featureView)
                #expect(compared == log.labels.count && equal == compared, "\(equal) of \(compared) vectors equal")
            }
            // At the probe time the backfill serves what Redis holds.
            let stored = try await FeatureClient(configuration: redis, now: { probe }).getMany(view: job.featureView, entities: users)
            for (u, vector) in zip(users, stored) {
                let row = try #require(result.rows.first { $0.label.entity == u && $0.label.time == probe })
                let v = try #require(vector, "user \(u) has \(horizon.rawValue) features in Redis")
                #expect(v.isFresh == true)
                #expect(row.featureEventTime == v.eventTime, "user \(u), \(horizon.rawValue)")
                #expect(row.features == v.features.map { Optional($0.value) }, "user \(u), \(horizon.rawValue)")
            }
        }
    }
}
