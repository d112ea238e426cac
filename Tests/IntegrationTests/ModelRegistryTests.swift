import Foundation
import Testing
import StreamKit
import StreamKitKafka
import StreamKitRedis
import FeatureJobs
@testable import cdc_features

/// The model registry on the real Redis, through the `cdc-features models` commands, with every
/// change on a (per-test) `model-events` topic of the real broker.
@Suite(.enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up, KAFKA_BROKERS)"))
struct ModelRegistryTests {
    typealias K = KafkaTestSupport

    static func cli(_ arguments: [String]) throws {
        var command = try CDCFeatures.parseAsRoot(arguments)
        try command.run()
    }

    @Test(.timeLimit(.minutes(15)))
    func registerPromoteRollbackAreStoredAndAudited() throws {
        let prefix = K.unique("models"), topic = K.unique("model-events"), commands = K.unique("model-commands")
        try K.createTopic(topic, partitions: 1)
        try K.createTopic(commands, partitions: 1)
        defer { _ = try? KafkaAdmin(configuration: K.kafka).deleteTopics([topic, commands]) }
        defer { _ = try? RedisConnection(RedisConfiguration(url: Services.redisURL)).deleteKeys(matching: "\(prefix):*") }
        let common = ["--prefix", prefix, "--events-topic", topic, "--commands-topic", commands, "--redis", Services.redisURL, "--brokers", Services.kafkaBrokers]

        try Self.cli(["models", "register", "fraud", "1", "--param", "alpha=0.5", "--param", "l1=0.5"] + common)
        try Self.cli(["models", "register", "fraud", "2", "--parent", "1", "--param", "alpha=0.5"] + common)
        try Self.cli(["models", "promote", "fraud", "1", "--reason", "first"] + common)
        try Self.cli(["models", "promote", "fraud", "2", "--alias", "challenger"] + common)
        try Self.cli(["models", "promote", "fraud", "2", "--reason", "drift: challenger better"] + common)

        let registry = try ModelVersionRegistry(redis: RedisConfiguration(url: Services.redisURL), prefix: prefix)
        #expect(try registry.models() == ["fraud"])
        #expect(try registry.aliases(of: "fraud") == ["champion": "2"], "promoting the challenger clears its alias")
        #expect(try registry.championHistory(of: "fraud") == ["1"])
        let v2 = try #require(try registry.version("fraud", "2"))
        #expect(v2.parent == "1" && v2.parameters == ["alpha": "0.5"])
        _ = try registry.updateMetrics("fraud", version: "2", metrics: ["auc": 0.74, "log_loss": 0.15])
        #expect(try registry.version("fraud", "2")?.metrics["auc"] == 0.74)

        try Self.cli(["models", "rollback", "fraud", "--reason", "worse"] + common)
        #expect(try registry.aliases(of: "fraud")["champion"] == "1")
        #expect(try registry.championHistory(of: "fraud").isEmpty)
        // Errors are clear and change nothing.
        #expect(throws: (any Error).self) { try Self.cli(["models", "rollback", "fraud"] + common) }
        #expect(throws: (any Error).self) { try Self.cli(["models", "promote", "fraud", "9"] + common) }
        #expect(try registry.aliases(of: "fraud")["champion"] == "1")

        // The audit trail: one event per change, in order.
        let records = try KafkaTopicReader.readAll(topic: topic, configuration: K.kafka, timeout: .seconds(180))
        let events = try records.map { try JSONDecoder().decode(ModelEvent.self, from: Data($0.value!)) }
        #expect(events.map(\.type) == ["registered", "registered", "promoted", "alias_set", "promoted", "rolled_back"])
        #expect(events[4].version == "2" && events[4].previous == "1" && events[4].reason == "drift: challenger better")
        #expect(events[5].version == "1" && events[5].previous == "2")
        #expect(events.allSatisfy { $0.model == "fraud" })
        // The commands for running jobs: one per promotion to champion and per rollback, each with its own id.
        let sent = try KafkaTopicReader.readAll(topic: commands, configuration: K.kafka, timeout: .seconds(180))
            .map { try JSONDecoder().decode(ModelCommand.self, from: Data($0.value!)) }
        #expect(sent.map { "\($0.kind.rawValue) \($0.version ?? "-")" } == ["promote 1", "promote 2", "rollback -"])
        #expect(sent.map(\.reason) == ["first", "drift: challenger better", "worse"])
        #expect(Set(sent.map(\.id)).count == 3 && sent.allSatisfy { $0.model == "fraud" })
    }
}
