import Foundation
import Testing
import StreamKit
import StreamKitTesting
import StreamKitKafka
import StreamKitRedis

/// `cdc-features pipeline --dead-letter-topic D --metrics-port P` as a real process: bad events are
/// dead-lettered with their reason codes and counted per reason in swift-metrics
/// (`streamkit_dead_letters_total{reason}` on /metrics), and the job keeps reading.
@Suite(.serialized, .enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up)"))
struct BadInputMetricsTests {
    @Test(.timeLimit(.minutes(15)), .enabled(if: Promtool.runnable, "promtool not installed (scripts/setup installs prometheus)"))
    func pipelineCountsDeadLettersPerReasonOnTheMetricsEndpoint() async throws {
        let topic = KafkaTestSupport.unique("badinput-cli"), dlq = topic + ".dlq"
        try KafkaTestSupport.createTopic(topic, partitions: 1)
        try KafkaTestSupport.createTopic(dlq, partitions: 1)
        defer { _ = try? KafkaAdmin(configuration: KafkaTestSupport.kafka).deleteTopics([topic, dlq]) }
        let good = BadInput.goodEvents(40)
        var messages = good.map(BadInput.message)
        let wrongType = BadInput.line(BadInput.Event(id: 901, user: 2, ts: BadInput.base + 10, amount: 1)).replacingOccurrences(of: #""amount":1.0"#, with: #""amount":"x""#)
        messages.insert(KafkaMessage(key: "2", value: wrongType), at: 10)
        messages.insert(KafkaMessage(key: "2", value: wrongType.replacingOccurrences(of: #""id":901"#, with: #""id":902"#)), at: 20)
        messages.insert(KafkaMessage(key: "3", value: "{oops"), at: 30)
        let producer = try KafkaProducer(configuration: KafkaTestSupport.kafka)
        for m in messages { try producer.send(topic: topic, message: m) }
        try producer.flush()

        let port = freeLocalPort()
        let namespace = KafkaTestSupport.unique("badinput-cli")
        defer { _ = try? RedisConnection(RedisConfiguration(url: Services.redisURL)).deleteKeys(matching: "\(namespace):*") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLIBinary.path)
        p.arguments = ["pipeline", "--topic", topic, "--group", topic + "-job", "--from", "earliest", "--progress-every", "0",
                       "--brokers", Services.kafkaBrokers, "--redis", Services.redisURL, "--dead-letter-topic", dlq,
                       "--max-future-skew", "1h", "--namespace", namespace, "--metrics-port", String(port)]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }

        let scrape = try await scrapeAndCheckMetrics(port: port, process: p) { s in
            s.sum("streamkit_dead_letters_total", ["reason": "wrong_type"]) == 2 && s.sum("streamkit_dead_letters_total", ["reason": "malformed_json"]) == 1
                && s.sum("streamkit_source_records_total") == Double(good.count)
        }
        #expect(scrape.sum("streamkit_dead_letters_total") == 3, "\(scrape.series("streamkit_dead_letters_total"))")
        #expect(scrape.sum("streamkit_source_records_total") == Double(good.count), "every good event was read")
        // The dead letters were counted when handed to the producer; wait for their delivery before stopping.
        var dead: [KafkaRecord] = []
        try await waitUntil(timeout: .seconds(120), every: .milliseconds(200)) {
            dead = try KafkaTopicReader.readAll(topic: dlq, configuration: KafkaTestSupport.kafka)
            return dead.count >= 3
        }
        kill(p.processIdentifier, SIGTERM)
        p.waitForExit(timeout: .seconds(300))
        #expect(p.terminationStatus == 0)

        #expect(dead.map { $0.header(KafkaDeadLetterHeader.reason)?.stringValue ?? "" } == ["wrong_type", "wrong_type", "malformed_json"])
        #expect(dead.map { $0.header(KafkaDeadLetterHeader.sourceOffset)?.stringValue ?? "" } == ["10", "20", "30"])
        #expect(dead.last?.valueString == "{oops")
    }
}
