import Foundation
import Testing
import StreamKit
import StreamKitJobs
import FeatureJobs
import StreamKitKafka
import StreamKitRedis
import StreamKitQuery

/// The whole path on real services: Debezium events on Kafka → the user-activity feature job
/// (hopping windows) → features in Redis (values, TTL, version, latest pointer) and inference
/// requests on a topic — checked against an offline recomputation of the same events
/// (offline = online).
@Suite(.serialized) struct PipelineEndToEndTests {
    @Test func kafkaToWindowsToRedisAndInferenceRequests() async throws {
        try #require(KafkaTestSupport.reachable)
        let events = 15_000
        let topic = KafkaTestSupport.unique("e2e-interactions"), inference = topic + ".inference"
        try KafkaTestSupport.createTopic(topic)
        try KafkaTestSupport.createTopic(inference)
        let lines = KafkaTestSupport.workloadLines(events)
        try KafkaTestSupport.produceWorkload(lines, topic: topic)
        let redis = try RedisConfiguration(url: Services.redisURL)
        let namespace = KafkaTestSupport.unique("e2e")
        try ModelRegistry.register("e2e-model-\(namespace)", version: "v42", redis: redis)

        var o = UserActivityFeatures.Options(kafka: KafkaTestSupport.kafka, topic: topic, groupID: topic + "-job",
                                             redis: RedisFeatureSinkConfiguration(redis: redis))
        o.bounded = true
        o.sourceParallelism = 2
        o.sessionTimeout = .seconds(2); o.heartbeatInterval = .milliseconds(500)
        o.namespace = namespace
        o.inferenceTopic = inference
        o.modelVersion = try ModelRegistry.currentVersion(of: "e2e-model-\(namespace)", redis: redis, fallback: "none")
        let metrics = UserActivityFeatures.Metrics()
        let result = try await UserActivityFeatures.job(o, metrics: metrics).run(parallelism: 2)
        #expect(result.metrics.sourceRecords.current == UInt64(events))

        // Offline: the same windows over the same events, from a file.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(namespace).path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try (lines.joined(separator: "\n") + "\n").write(toFile: "\(dir)/e.jsonl", atomically: true, encoding: .utf8)
        let rows = CollectedOutput<WindowRow>()
        try await WindowQuery(input: .file("\(dir)/e.jsonl"), keyPath: "after.user_id", timePath: "after.ts_ms",
                              window: .sliding(size: .minutes(5), slide: .minutes(1)),
                              aggregates: "count,sum:after.amount,avg:after.amount,max:after.amount")
            .job(output: .collect(rows)).run(parallelism: 1)
        var latest: [String: WindowRow] = [:]
        for r in rows.values {
            let k = "\(r.key)"
            if let cur = latest[k], cur.windowEnd >= r.windowEnd { continue }
            latest[k] = r
        }
        #expect(metrics.redis.written.current + metrics.redis.skippedStale.current + metrics.redis.coalesced.current == UInt64(rows.count))

        // Online: every user's features in Redis equal the newest window of the offline run.
        let view = UserActivityFeatures.view(namespace: namespace)
        let users = latest.keys.sorted()
        let client = FeatureClient(configuration: redis)
        let online = try await client.getMany(view: view, entities: users)
        var mismatches = 0
        for (user, vector) in zip(users, online) {
            guard let v = vector, let want = latest[user] else { mismatches += 1; continue }
            func value(_ name: String) -> Double? { v.features.first { $0.name == name }?.value.doubleValue }
            let ok = v.version == 1 && v.eventTime == want.windowEnd - 1
                && value("count") == want.values[0] && value("sum").map { abs($0 - want.values[1]!) < 1e-6 } == true
                && value("avg").map { abs($0 - want.values[2]!) < 1e-6 } == true && value("max") == want.values[3]
            if !ok { mismatches += 1 }
        }
        #expect(users.count > 10_000)
        #expect(mismatches == 0, "\(mismatches) of \(users.count) users differ from the offline recomputation")

        // TTL and latest pointer.
        let connection = try RedisConnection(redis)
        let ttl = try connection.command(["TTL", view.versionKey(entity: users[0])]).integer!
        #expect(ttl > 3600 && ttl <= 7200, "the view's TTL is 2 h (less the minutes a loaded machine took since the write)")
        #expect(try connection.command(["GET", view.latestKey(entity: users[0])]).string == "1")

        // Inference requests: one per fired (user, window), keyed by user, with the model version.
        // The sink flushed before the job ended, so the broker acknowledged every request; a read
        // that starts right after may still end at an older end offset of a partition (a clean-clone
        // run read 69,680 of 69,765), so it is repeated until all are there, then checked exactly.
        #expect(metrics.inference.delivered.current == UInt64(rows.count) && metrics.inference.failed.current == 0)
        var requests: [KafkaRecord] = []
        try await waitUntil(timeout: .seconds(180), every: .milliseconds(500)) {
            requests = try KafkaTopicReader.readAll(topic: inference, configuration: KafkaTestSupport.kafka, timeout: .seconds(180))
            return requests.count >= rows.count
        }
        #expect(requests.count == rows.count)
        let sample = try #require(requests.first)
        let json = try JSONSerialization.jsonObject(with: Data(sample.value!)) as! [String: Any]
        #expect(json["model_version"] as? String == "v42")
        #expect(json["feature_version"] as? Int == 1)
        #expect(String(decoding: sample.key!, as: UTF8.self) == json["entity"] as? String)
        #expect((json["features"] as? [String: Any])?.keys.sorted() == ["avg", "count", "max", "sum"])
        try connection.deleteKeys(matching: "\(namespace):*")
    }
}
