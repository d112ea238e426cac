import Foundation
import Testing
import StreamKit
import StreamKitTesting
import StreamKitKafka
import StreamKitPostgres

/// `cdc-features capture postgres --metrics-port P` as a real process: /metrics passes
/// `promtool check metrics` and carries the capture's changes and slot lag.
@Suite(.serialized, .enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up)"))
struct CaptureMetricsEndpointTests {
    @Test(.timeLimit(.minutes(15)), .enabled(if: Promtool.runnable, "promtool not installed (scripts/setup installs prometheus)"))
    func capturePostgresServesPrometheusMetrics() async throws {
        let n = PostgresCaptureTests.Names()
        defer { PostgresCaptureTests.cleanUp(n) }
        _ = try PostgresCaptureTests.sql("CREATE TABLE \(n.table)(id int PRIMARY KEY, v int)")
        let port = freeLocalPort()
        let p = try startCaptureProcess(n, extraArguments: ["--metrics-port", String(port), "--log-level", "debug"])
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        try await waitFor(.seconds(300)) { try PostgresCaptureTests.slotIsConsistent(n) }
        let rows = 500
        _ = try PostgresCaptureTests.sql("INSERT INTO \(n.table) SELECT g, g FROM generate_series(1, \(rows)) g")

        let scrape = try await scrapeAndCheckMetrics(port: port, process: p) { s in
            s.sum("streamkit_capture_changes_total", ["source": n.prefix]) >= Double(rows)
                && !s.series("streamkit_capture_slot_lag_bytes", ["source": n.prefix]).isEmpty
                // The commit → ack histogram is reported with the next confirm, after the counters.
                && (!s.series("streamkit_capture_lag_seconds_count").isEmpty || !s.series("streamkit_capture_lag_seconds").isEmpty)
        }
        #expect(scrape.sum("streamkit_capture_changes_total", ["source": n.prefix]) == Double(rows))
        #expect(scrape.sum("streamkit_capture_delivery_errors_total", ["source": n.prefix]) == 0)
        let slotLag = scrape.series("streamkit_capture_slot_lag_bytes", ["source": n.prefix])
        #expect(slotLag.allSatisfy { $0.value >= 0 }, "\(slotLag)")
        #expect(!scrape.series("streamkit_capture_lag_seconds_count").isEmpty || !scrape.series("streamkit_capture_lag_seconds").isEmpty,
                "commit → ack latency series missing")

        kill(p.processIdentifier, SIGTERM)
        p.waitForExit(timeout: .seconds(300))
        #expect(p.terminationStatus == 0)
    }
}
