import Foundation
import Testing
import StreamKit
import StreamKitTesting
import StreamKitKafka

/// `cdc-features pipeline --metrics-port P` as a real process: /metrics answers while it runs,
/// passes `promtool check metrics`, and carries consumer lag and records-processed series.
@Suite(.serialized, .enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up)"))
struct MetricsEndpointTests {
    @Test(.timeLimit(.minutes(15)), .enabled(if: Promtool.runnable, "promtool not installed (scripts/setup installs prometheus)"))
    func pipelineServesPrometheusMetrics() async throws {
        let topic = KafkaTestSupport.unique("metrics")
        let group = topic + "-job"
        let events = 3000
        try KafkaTestSupport.createTopic(topic, partitions: 4)
        defer { _ = try? KafkaAdmin(configuration: KafkaTestSupport.kafka).deleteTopics([topic]) }
        try KafkaTestSupport.produceWorkload(KafkaTestSupport.workloadLines(events), topic: topic)

        let port = freeLocalPort()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("\(topic).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLIBinary.path)
        p.arguments = ["pipeline", "--topic", topic, "--group", group, "--from", "earliest", "--progress-every", "0",
                       "--brokers", Services.kafkaBrokers, "--redis", Services.redisURL,
                       "--metrics-port", String(port), "--log-level", "debug", "--log-format", "json"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = try FileHandle(forWritingTo: log)
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }

        let scrape = try await scrapeAndCheckMetrics(port: port, process: p) { s in
            s.sum("streamkit_kafka_consumer_messages_total", ["group": group]) >= Double(events)
                && s.series("streamkit_kafka_consumer_lag_records", ["topic": topic]).count == 4
        }
        // Consumer lag: one series per partition, all read to the end.
        let lags = scrape.series("streamkit_kafka_consumer_lag_records", ["topic": topic])
        #expect(Set(lags.compactMap { $0.labels["partition"] }) == ["0", "1", "2", "3"], "\(lags)")
        #expect(lags.allSatisfy { $0.value >= 0 && $0.value <= Double(events) }, "\(lags)")
        // Records processed per operator: the source emitted every event; every operator saw some.
        let job = "user-activity-features"
        #expect(scrape.sum("streamkit_source_records_total") == Double(events), "\(scrape.series("streamkit_source_records_total"))")
        let recordsIn = scrape.series("streamkit_operator_records_in_total")
        #expect(!recordsIn.isEmpty)
        #expect(recordsIn.allSatisfy { $0.labels["job"] != nil && $0.labels["operator"] != nil && $0.labels["subtask"] != nil })
        #expect(scrape.sum("streamkit_operator_records_in_total") >= Double(events))
        #expect(recordsIn.contains { $0.labels["job"] == job })
        // The first hopping window closes only once event time passed it: these series exist from the start.
        #expect(!scrape.series("streamkit_redis_feature_writes_total").isEmpty)
        #expect(!scrape.series("streamkit_end_to_end_latency_seconds_count").isEmpty)
        #expect(!scrape.series("streamkit_watermark_lag_seconds").isEmpty)

        kill(p.processIdentifier, SIGTERM)
        p.waitForExit(timeout: .seconds(300))
        let stderr = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        #expect(p.terminationStatus == 0, "pipeline exited \(p.terminationStatus):\n\(stderr.suffix(3000))")
        // --log-format json: every log line is one JSON object with the documented fields.
        let lines = stderr.split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(!lines.isEmpty, "no JSON log lines:\n\(stderr.prefix(2000))")
        for line in lines.prefix(50) {
            let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            #expect(Set(o.keys).isSuperset(of: ["timestamp", "level", "label", "message", "metadata"]), "\(line)")
        }
        #expect(lines.contains { $0.contains("\"job started\"") }, "\(stderr.prefix(2000))")
    }
}
