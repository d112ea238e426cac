import Foundation
import Testing
import StreamKit
import StreamKitTesting

/// Restarts and the last failure as Prometheus metrics of a real `cdc-features run` process whose
/// every attempt fails (its input is missing), scraped while it waits before a restart, and its
/// non-zero exit once the strategy is exhausted.
@Suite struct RestartMetricsTests {
    @Test(.timeLimit(.minutes(15)), .enabled(if: Promtool.runnable, "promtool not installed (scripts/setup installs prometheus)"))
    func restartsAndTheLastFailureAreMetrics() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("streamkit-restart-metrics-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = freeLocalPort()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLIBinary.path)
        p.arguments = ["run", "user-activity", "--input", "\(dir)/missing.jsonl", "--out", "\(dir)/out.ndjson", "--late", "\(dir)/late.ndjson",
                       "--restart-strategy", "exponential-delay:initial=2s,max=45s,multiplier=22.5,jitter=0,attempts=2", "--metrics-port", String(port)]
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let started = Date()
        // After the first restart, during the 45 s wait before the second (2 s, then 45 s: the
        // scrape needs a window a loaded machine cannot miss): one restart, two failures.
        let scrape: MetricsScrape
        do {
            scrape = try await scrapeAndCheckMetrics(port: port, timeout: .seconds(180), process: p) { s in
                s.sum("streamkit_job_restarts_total") >= 1 && s.sum("streamkit_job_failures_total") >= 2
            }
        } catch {
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            Issue.record("\(error); the process's standard error:\n\(stderr.suffix(3000))")
            return
        }
        #expect(scrape.sum("streamkit_job_restarts_total", ["job": "user-activity"]) == 1)
        #expect(scrape.series("streamkit_job_failures_total").allSatisfy { $0.labels["code"] != nil })
        let last = try #require(scrape.series("streamkit_job_last_failure_timestamp_seconds", ["job": "user-activity"]).first)
        #expect(last.value >= started.timeIntervalSince1970 - 1 && last.value <= Date().timeIntervalSince1970 + 1)
        // The process exits after the second restart fails; wait on a thread of its own, not the
        // concurrency pool's (the other suites run there).
        // It should exit within the 45 s wait; past five minutes it is killed, which ends the read.
        nonisolated(unsafe) let watched = p
        Thread.detachNewThread { watched.waitForExit(timeout: .seconds(300)) }
        let stderr: String = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                p.waitForExit(timeout: .seconds(300))
                continuation.resume(returning: text)
            }
        }
        #expect(p.terminationStatus != 0)
        #expect(stderr.contains("exhausted after 2 restarts") && stderr.contains("missing.jsonl"), "\(stderr.suffix(2000))")
    }
}
