import Foundation
import Testing
import StreamKit
import StreamKitTesting
import StreamKitKafka
import StreamKitWorkload

/// `cdc-features run fraud-scoring --metrics-port P` as a real process on a Kafka topic: the
/// learner's windowed AUC and log-loss per version and its decisions are Prometheus series.
@Suite(.serialized, .enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up)"))
struct FraudScoringMetricsTests {
    typealias K = KafkaTestSupport

    @Test(.timeLimit(.minutes(15)))
    func modelMetricsAndDecisionsAreServed() async throws {
        let topic = K.unique("fraud-metrics")
        try K.createTopic(topic, partitions: 2)
        defer { _ = try? KafkaAdmin(configuration: K.kafka).deleteTopics([topic]) }
        var workload = FraudWorkload(FraudWorkload.Configuration(transactions: 80_000, seed: 42))
        var lines: [String] = [], buffer: [UInt8] = []
        while let e = workload.next() {
            buffer.removeAll(keepingCapacity: true)
            FraudWorkload.appendLine(of: e, to: &buffer)
            lines.append(String(decoding: buffer.dropLast(), as: UTF8.self))
        }
        try K.produceWorkload(lines, topic: topic)

        let port = freeLocalPort()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLIBinary.path)
        p.arguments = ["run", "fraud-scoring", "--topic", topic, "--group", topic + "-job", "--from", "earliest",
                       "--out", "/dev/null", "--predictions", "false",
                       "--brokers", Services.kafkaBrokers, "--metrics-port", String(port)]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }

        // Reading Kafka partitions interleaves differently from run to run, so the verdict on the
        // challenger may differ; a fork and a verdict (promote or rollback) are certain.
        let scrape = try await scrapeAndCheckMetrics(port: port, timeout: .seconds(240), process: p) { s in
            s.sum("streamkit_model_decisions_total", ["model": "fraud", "kind": "promote"])
                + s.sum("streamkit_model_decisions_total", ["model": "fraud", "kind": "rollback"]) >= 1
                && !s.series("streamkit_model_auc", ["model": "fraud", "version": "2"]).isEmpty
        }
        #expect(scrape.sum("streamkit_model_decisions_total", ["model": "fraud", "kind": "fork"]) == 1)
        for version in ["1", "2"] {
            let auc = scrape.series("streamkit_model_auc", ["model": "fraud", "version": version])
            #expect(auc.count == 1 && auc.allSatisfy { $0.value > 0.5 && $0.value <= 1 }, "\(auc)")
            #expect(scrape.series("streamkit_model_log_loss", ["model": "fraud", "version": version]).allSatisfy { $0.value > 0 })
            // Calibration per probability bucket: labelled predictions, mean predicted, observed rate.
            let labels = scrape.series("streamkit_model_calibration_labels", ["model": "fraud", "version": version])
            #expect(labels.count == 10 && Set(labels.compactMap { $0.labels["bucket"] }).isSuperset(of: ["0.1", "0.5", "1"]), "\(labels)")
            for name in ["streamkit_model_calibration_predicted", "streamkit_model_calibration_observed"] {
                let values = scrape.series(name, ["model": "fraud", "version": version])
                #expect(!values.isEmpty && values.allSatisfy { (0...1).contains($0.value) }, "\(name): \(values)")
            }
        }
        kill(p.processIdentifier, SIGTERM)
        p.waitForExit(timeout: .seconds(300))
    }
}
