import Foundation
import Testing
import StreamKit
import FeatureJobs
import StreamKitJobs
import StreamKitKafka
import StreamKitRedis
import StreamKitWorkload

/// `fraud-scoring` on the real broker: the fraud workload's change events in a Kafka topic (two
/// partitions, keyed by user), the job reading it bounded and producing one inference request per
/// transaction — request id in the `streamkit.request.id` header and the body, with the routed
/// `model_version` and the score — while the DriftMonitor forks a challenger after the drift and
/// the paired test promotes it; versions, aliases and live metrics land in the Redis model
/// registry and every registry change on a `model-events` topic.
@Suite(.enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up, KAFKA_BROKERS)"))
struct FraudScoringKafkaTests {
    typealias K = KafkaTestSupport

    @Test(.timeLimit(.minutes(15)))
    func inferenceRequestsCarryVersionScoreAndIdAndTheChallengerIsPromoted() async throws {
        let transactions = 120_000
        let topic = K.unique("fraud-cdc"), inference = K.unique("fraud-inference"), events = K.unique("model-events")
        let prefix = K.unique("models")
        try K.createTopic(topic, partitions: 2)
        try K.createTopic(inference, partitions: 2)
        try K.createTopic(events, partitions: 1)
        defer { _ = try? KafkaAdmin(configuration: K.kafka).deleteTopics([topic, inference, events]) }
        let redis = try RedisConfiguration(url: Services.redisURL)
        defer { _ = try? RedisConnection(redis).deleteKeys(matching: "\(prefix):*") }
        let configuration = FraudWorkload.Configuration(transactions: transactions, seed: 42)
        var workload = FraudWorkload(configuration)
        var lines: [String] = [], buffer: [UInt8] = []
        while let e = workload.next() {
            buffer.removeAll(keepingCapacity: true)
            FraudWorkload.appendLine(of: e, to: &buffer)
            lines.append(String(decoding: buffer.dropLast(), as: UTF8.self))
        }
        try K.produceWorkload(lines, topic: topic)

        let out = NSTemporaryDirectory() + K.unique("fraud-out") + ".ndjson"
        defer { try? FileManager.default.removeItem(atPath: out) }
        var io = JobContext(input: .kafka(topic: topic), output: .file(out), kafka: K.kafka, redis: redis, groupID: K.unique("fraud-g"))
        io.startFrom = .earliest
        io.bounded = true
        let job = try ExampleJobs.make("fraud-scoring", arguments: ["inference-topic": inference, "predictions": "false",
                                                                          "registry": prefix, "model-events-topic": events], context: io)
        _ = try await job.run()

        let records = try KafkaTopicReader.readAll(topic: inference, configuration: K.kafka, timeout: .seconds(180))
        #expect(records.count == transactions, "one inference request per transaction")
        var versions: [String: Int] = [:]
        var ids = Set<String>()
        for r in records.prefix(20_000) + records.suffix(20_000) {
            let header = try #require(r.headers.first { $0.name == InferenceRequestID.header }?.stringValue)
            let body = try #require(try JSONSerialization.jsonObject(with: Data(r.value!)) as? [String: Any])
            #expect(body["request_id"] as? String == header && header.count == 32)
            let features = try #require(body["features"] as? [String: Double], "the served feature vector is logged")
            #expect(features["0"] == 1 && features.count >= 7)
            let score = try #require(body["score"] as? Double)
            #expect(score > 0 && score < 1)
            versions[body["model_version"] as! String, default: 0] += 1
            ids.insert(header)
        }
        #expect(ids.count == 40_000, "request ids are unique per transaction")
        #expect(versions["1", default: 0] > 0 && versions["2", default: 0] > 0, "served by the champion, then by the promoted challenger: \(versions)")

        let decisions = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
            .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["type"] as? String == "decision" }
        #expect(decisions.map { $0["kind"] as! String } == ["fork", "promote"], "\(decisions)")
        if let fork = decisions.first { #expect((fork["event_time"] as! NSNumber).int64Value >= workload.driftTimeMs) }

        // The registry: version 2 forked from 1 and promoted, both with live metrics; the audit trail in order.
        let registry = try ModelVersionRegistry(redis: redis, prefix: prefix)
        #expect(try registry.aliases(of: "fraud") == ["champion": "2"])
        #expect(try registry.championHistory(of: "fraud") == ["1"])
        let v2 = try #require(try registry.version("fraud", "2"))
        #expect(v2.parent == "1" && v2.trainedFrom != nil && (v2.metrics["auc"] ?? 0) > 0.6 && v2.parameters["alpha"] == "0.5")
        #expect((try registry.version("fraud", "1")?.metrics["count"] ?? 0) > 0)
        let audit = try KafkaTopicReader.readAll(topic: events, configuration: K.kafka, timeout: .seconds(180))
            .map { try JSONDecoder().decode(ModelEvent.self, from: Data($0.value!)) }
        #expect(audit.map { "\($0.type) \($0.version)" } == ["registered 1", "promoted 1", "registered 2", "alias_set 2", "promoted 2"])
        #expect(audit.last?.reason?.contains("paired n=") == true, "the promotion carries its numbers")
    }
}
