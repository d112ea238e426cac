import Foundation
import Testing
import StreamKit
import FeatureJobs
import StreamKitJobs
import StreamKitKafka
import StreamKitRedis
import StreamKitWorkload
@testable import cdc_features

/// An operator's `cdc-features models promote` reaching a running `fraud-scoring` on the real
/// broker and Redis: the job runs unbounded over a Kafka topic with `--commands-topic`; once the
/// drift has forked a challenger (which serves nobody: canary share 0, and it is never promoted by
/// the paired test), the CLI promotes it. The job's learner applies the command once — a
/// `command_applied` record on `model-events`, a `promote` decision with reason `operator…` and
/// the command id — and from then on the challenger serves every inference request.
@Suite(.enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up, KAFKA_BROKERS)"))
struct FraudScoringCommandsTests {
    typealias K = KafkaTestSupport

    /// Waits (polling) until `condition` holds, or fails after `timeout`.
    static func waitUntil(_ what: String, timeout: Duration = .seconds(240), _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try !condition() {
            guard ContinuousClock.now < deadline else { throw StreamKitError(.connector, "timed out waiting until \(what)") }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    @Test(.timeLimit(.minutes(15)))
    func promoteFromTheCLIReachesTheRunningJobOnce() async throws {
        let transactions = 120_000
        let topic = K.unique("fraud-cdc"), inference = K.unique("fraud-inference")
        let events = K.unique("model-events"), commands = K.unique("model-commands"), prefix = K.unique("models")
        try K.createTopic(topic, partitions: 2)
        try K.createTopic(inference, partitions: 2)
        try K.createTopic(events, partitions: 1)
        try K.createTopic(commands, partitions: 1)
        defer { _ = try? KafkaAdmin(configuration: K.kafka).deleteTopics([topic, inference, events, commands]) }
        let redis = try RedisConfiguration(url: Services.redisURL)
        defer { _ = try? RedisConnection(redis).deleteKeys(matching: "\(prefix):*") }

        // The workload in two parts: up to 3 h after the drift (the fork comes within 2 h of it), and the rest.
        var workload = FraudWorkload(FraudWorkload.Configuration(transactions: transactions, seed: 42))
        let cut = workload.driftTimeMs + 3 * 3_600_000
        var first: [String] = [], second: [String] = [], buffer: [UInt8] = []
        while let e = workload.next() {
            buffer.removeAll(keepingCapacity: true)
            FraudWorkload.appendLine(of: e, to: &buffer)
            let line = String(decoding: buffer.dropLast(), as: UTF8.self)
            if e.tsMs < cut { first.append(line) } else { second.append(line) }
        }

        let out = NSTemporaryDirectory() + K.unique("fraud-commands-out") + ".ndjson"
        let checkpoints = NSTemporaryDirectory() + K.unique("fraud-commands-checkpoints")
        defer { try? FileManager.default.removeItem(atPath: out); try? FileManager.default.removeItem(atPath: checkpoints) }
        var io = JobContext(input: .kafka(topic: topic), output: .file(out), kafka: K.kafka, redis: redis, groupID: K.unique("fraud-g"))
        io.startFrom = .earliest
        let job = try ExampleJobs.make("fraud-scoring", arguments: [
            "inference-topic": inference, "predictions": "false", "registry": prefix, "model-events-topic": events,
            "commands-topic": commands, "canary-share": "0", "min-examples": "100000000",
        ], context: io)
        var options = Job.RunOptions()
        options.checkpoints = CheckpointConfiguration(directory: checkpoints, interval: .seconds(5))
        let running = try job.start(options)
        var stopped = false
        defer { if !stopped { running.cancel() } }
        try K.produceWorkload(first, topic: topic)

        // The drift forks version 2; the job's registry sink makes it the challenger.
        let registry = try ModelVersionRegistry(redis: redis, prefix: prefix)
        try await Self.waitUntil("the fork reaches the registry") { try registry.aliases(of: "fraud")["challenger"] == "2" }
        #expect(try registry.aliases(of: "fraud")["champion"] == "1")

        // The operator promotes it with the CLI: the registry changes at once, and a command goes out.
        var promote = try CDCFeatures.parseAsRoot(["models", "promote", "fraud", "2", "--reason", "canary looks good",
                                                   "--prefix", prefix, "--events-topic", events, "--commands-topic", commands,
                                                   "--redis", Services.redisURL, "--brokers", Services.kafkaBrokers])
        try promote.run()
        let sent = try KafkaTopicReader.readAll(topic: commands, configuration: K.kafka, timeout: .seconds(60))
        #expect(sent.count == 1)
        let command = try JSONDecoder().decode(ModelCommand.self, from: Data(try #require(sent.first?.value)))
        #expect(command.model == "fraud" && command.kind == .promote && command.version == "2" && command.id.count == 36)
        #expect(sent.first?.key == Array("fraud".utf8))

        // The running job applies it: its registry sink records the application.
        func audit() throws -> [ModelEvent] {
            try KafkaTopicReader.readAll(topic: events, configuration: K.kafka, timeout: .seconds(60))
                .map { try JSONDecoder().decode(ModelEvent.self, from: Data($0.value!)) }
        }
        try await Self.waitUntil("the job applies the command") { try audit().contains { $0.type == "command_applied" } }
        try K.produceWorkload(second, topic: topic)
        // Requests are scored once the watermark passes them: all but the last seconds' (the input stays open).
        try await Self.waitUntil("the second part is scored") {
            try KafkaTopicReader.readAll(topic: inference, configuration: K.kafka, timeout: .seconds(120)).count >= transactions - 200
        }
        running.requestStop(checkpoint: true)      // the final checkpoint flushes the output file
        _ = try await running.result()
        stopped = true

        let served = try KafkaTopicReader.readAll(topic: inference, configuration: K.kafka, timeout: .seconds(180)).map {
            let body = try JSONSerialization.jsonObject(with: Data($0.value!)) as! [String: Any]
            return ((body["event_time"] as! NSNumber).int64Value, body["model_version"] as! String)
        }
        let before = served.filter { $0.0 < workload.driftTimeMs }, after = served.filter { $0.0 >= cut }
        #expect(!before.isEmpty && before.allSatisfy { $0.1 == "1" }, "the champion serves everyone before the drift")
        #expect(after.count > 30_000 && after.allSatisfy { $0.1 == "2" },
                "the promoted version serves every request after the command: \(Dictionary(grouping: after, by: \.1).mapValues(\.count))")

        // The audit trail: the CLI's promotion, then the job's application of the command, once.
        let trail = try audit()
        #expect(trail.filter { $0.type == "promoted" && $0.version == "2" }.count == 1, "\(trail.map(\.type))")
        let applied = trail.filter { $0.type == "command_applied" }
        #expect(applied.count == 1 && applied.first?.version == "2" && applied.first?.previous == "1")
        #expect(applied.first?.reason?.contains("operator: canary looks good") == true && applied.first?.reason?.contains(command.id) == true)
        #expect(try registry.aliases(of: "fraud") == ["champion": "2"] && registry.championHistory(of: "fraud") == ["1"])

        // The job's own output: the fork, then the operator's promotion with the command id.
        let decisions = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
            .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["type"] as? String == "decision" }
        #expect(decisions.map { $0["kind"] as! String } == ["fork", "promote"], "\(decisions)")
        #expect(decisions.last?["command"] as? String == command.id && decisions.last?["reason"] as? String == "operator: canary looks good")
    }
}
