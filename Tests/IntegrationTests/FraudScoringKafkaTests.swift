import Foundation
import Testing
import StreamKit
import FeatureJobs
import StreamKitJobs
import StreamKitKafka
import StreamKitWorkload

/// `fraud-scoring` on the real broker: the fraud workload's change events in a Kafka topic (two
/// partitions, keyed by user), the job reading it bounded and producing one inference request per
/// transaction — request id in the `streamkit.request.id` header and the body, with the routed
/// `model_version` and the score — while the DriftMonitor forks a challenger after the drift and
/// the paired test promotes it.
@Suite(.enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up, KAFKA_BROKERS)"))
struct FraudScoringKafkaTests {
    typealias K = KafkaTestSupport

    @Test(.timeLimit(.minutes(5)))
    func inferenceRequestsCarryVersionScoreAndIdAndTheChallengerIsPromoted() async throws {
        let transactions = 120_000
        let topic = K.unique("fraud-cdc"), inference = K.unique("fraud-inference")
        try K.createTopic(topic, partitions: 2)
        try K.createTopic(inference, partitions: 2)
        defer { _ = try? KafkaAdmin(configuration: K.kafka).deleteTopics([topic, inference]) }
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
        var io = JobContext(input: .kafka(topic: topic), output: .file(out), kafka: K.kafka, groupID: K.unique("fraud-g"))
        io.startFrom = .earliest
        io.bounded = true
        let job = try ExampleJobs.make("fraud-scoring", arguments: ["inference-topic": inference, "predictions": "false"], context: io)
        _ = try await job.run()

        let records = try KafkaTopicReader.readAll(topic: inference, configuration: K.kafka, timeout: .seconds(60))
        #expect(records.count == transactions, "one inference request per transaction")
        var versions: [String: Int] = [:]
        var ids = Set<String>()
        for r in records.prefix(20_000) + records.suffix(20_000) {
            let header = try #require(r.headers.first { $0.name == InferenceRequestID.header }?.stringValue)
            let body = try #require(try JSONSerialization.jsonObject(with: Data(r.value!)) as? [String: Any])
            #expect(body["request_id"] as? String == header && header.count == 32)
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
    }
}
