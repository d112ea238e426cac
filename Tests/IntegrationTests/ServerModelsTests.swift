import Foundation
import Testing
import StreamKit
import StreamKitKafka
import StreamKitRedis
import FeatureJobs

/// `/api/v1/models` of a real `cdc-features serve` process over HTTP, on the real Redis registry
/// and a real (per-test) `model-events` topic: reads for the `read` role, promote and rollback
/// for `admin` only, errors naming the field, and each change's model-events record.
@Suite(.serialized, .enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up, KAFKA_BROKERS)"))
struct ServerModelsTests {
    typealias K = KafkaTestSupport

    @Test(.timeLimit(.minutes(15)))
    func listShowPromoteRollbackThroughTheAPI() async throws {
        let topic = K.unique("model-events"), commands = K.unique("model-commands")
        try K.createTopic(topic, partitions: 1)
        try K.createTopic(commands, partitions: 1)
        defer { _ = try? KafkaAdmin(configuration: K.kafka).deleteTopics([topic, commands]) }
        let server = try ServerProcess()
        defer { server.cleanUp() }
        defer { _ = try? RedisConnection(RedisConfiguration(url: Services.redisURL)).deleteKeys(matching: "\(server.modelRegistryPrefix):*") }
        // A model with two versions (2 forked from 1, with live metrics), 1 the champion.
        let registry = try ModelVersionRegistry(redis: RedisConfiguration(url: Services.redisURL), prefix: server.modelRegistryPrefix)
        _ = try registry.register(ModelVersionRecord(model: "fraud", version: "1", parameters: ["alpha": "0.5"], createdMs: 1))
        _ = try registry.register(ModelVersionRecord(model: "fraud", version: "2", parameters: ["alpha": "0.5"], parent: "1",
                                                     trainedFrom: 1_700_000_000_000, createdMs: 2))
        _ = try registry.promote("fraud", version: "1")
        _ = try registry.setAlias("fraud", alias: "challenger", version: "2")
        _ = try registry.updateMetrics("fraud", version: "2", metrics: ["auc": 0.74, "log_loss": 0.15], trainedTo: 1_700_000_600_000)
        try await server.start(arguments: ["--model-events-topic", topic, "--model-commands-topic", commands])

        // Reads: the read role may GET.
        let list = try await server.request("GET", "/api/v1/models", token: ServerProcess.readToken)
        #expect(list.status == 200, "\(list.text)")
        let models = try #require(list.json?["models"] as? [[String: Any]])
        #expect(models.count == 1 && models[0]["name"] as? String == "fraud")
        #expect(models[0]["versions"] as? [String] == ["1", "2"])
        #expect(models[0]["aliases"] as? [String: String] == ["champion": "1", "challenger": "2"])
        let shown = try await server.request("GET", "/api/v1/models/fraud", token: ServerProcess.readToken)
        #expect(shown.status == 200, "\(shown.text)")
        let versions = try #require(shown.json?["versions"] as? [[String: Any]])
        #expect(versions.count == 2)
        #expect(versions[1]["parent"] as? String == "1" && versions[1]["aliases"] as? [String] == ["challenger"])
        #expect((versions[1]["trained_from"] as? NSNumber)?.int64Value == 1_700_000_000_000)
        #expect((versions[1]["trained_to"] as? NSNumber)?.int64Value == 1_700_000_600_000)
        #expect((versions[1]["metrics"] as? [String: Double])?["auc"] == 0.74)
        #expect(versions[0]["parent"] is NSNull, "absent lineage is null, not left out")
        let missing = try await server.request("GET", "/api/v1/models/nope", token: ServerProcess.readToken)
        #expect(missing.status == 404 && (missing.json?["error"] as? [String: Any])?["code"] as? String == "not_found")

        // Mutations: admin only; bad bodies name the field; unknown versions are 404.
        let forbidden = try await server.request("POST", "/api/v1/models/fraud/promote", token: ServerProcess.readToken, body: #"{"version":"2"}"#)
        #expect(forbidden.status == 403, "\(forbidden.text)")
        let noVersion = try await server.request("POST", "/api/v1/models/fraud/promote", body: #"{"reason":"x"}"#)
        #expect(noVersion.status == 400 && ((noVersion.json?["error"] as? [String: Any])?["message"] as? String ?? "").hasPrefix("version"), "\(noVersion.text)")
        let wrongType = try await server.request("POST", "/api/v1/models/fraud/promote", body: #"{"version":2}"#)
        #expect(wrongType.status == 400 && wrongType.text.contains("version"), "\(wrongType.text)")
        #expect(try await server.request("POST", "/api/v1/models/fraud/promote", body: #"{"version":"9"}"#).status == 404)
        #expect(try await server.request("POST", "/api/v1/models/nope/promote", body: #"{"version":"1"}"#).status == 404)
        #expect(try registry.aliases(of: "fraud")["champion"] == "1", "refused requests change nothing")

        let promoted = try await server.request("POST", "/api/v1/models/fraud/promote", body: #"{"version":"2","reason":"canary better"}"#)
        #expect(promoted.status == 200, "\(promoted.text)")
        #expect(promoted.json?["type"] as? String == "promoted" && promoted.json?["previous"] as? String == "1")
        #expect(try registry.aliases(of: "fraud") == ["champion": "2"], "promoting the challenger clears its alias")
        #expect(try registry.championHistory(of: "fraud") == ["1"])

        let rolledBack = try await server.request("POST", "/api/v1/models/fraud/rollback", body: #"{"reason":"worse in production"}"#)
        #expect(rolledBack.status == 200, "\(rolledBack.text)")
        #expect(rolledBack.json?["type"] as? String == "rolled_back" && rolledBack.json?["version"] as? String == "1")
        #expect(try registry.aliases(of: "fraud")["champion"] == "1")
        let again = try await server.request("POST", "/api/v1/models/fraud/rollback")
        #expect(again.status == 409, "no earlier champion left: \(again.text)")

        // The audit trail: exactly the two changes, the records the API returned.
        let records = try KafkaTopicReader.readAll(topic: topic, configuration: K.kafka, timeout: .seconds(180))
        let events = try records.map { try JSONDecoder().decode(ModelEvent.self, from: Data($0.value!)) }
        let returned = try [promoted, rolledBack].map { try JSONDecoder().decode(ModelEvent.self, from: $0.data) }
        #expect(events == returned)
        #expect(events.map(\.reason) == ["canary better", "worse in production"])
        #expect(records.allSatisfy { $0.key.map { String(decoding: $0, as: UTF8.self) } == "fraud" })
        // Each change also went to the commands topic, for running jobs (fraud-scoring --commands-topic).
        let sent = try KafkaTopicReader.readAll(topic: commands, configuration: K.kafka, timeout: .seconds(180))
            .map { try JSONDecoder().decode(ModelCommand.self, from: Data($0.value!)) }
        #expect(sent.map(\.kind) == [.promote, .rollback] && sent.first?.version == "2" && Set(sent.map(\.id)).count == 2)
        #expect(sent.map(\.reason) == ["canary better", "worse in production"])
        #expect(server.terminate() == 0)
    }
}
