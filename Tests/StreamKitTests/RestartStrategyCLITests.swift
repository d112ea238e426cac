import Foundation
import Testing

/// `--restart-strategy` of `cdc-features run` and `pipeline` as a user types it.
@Suite struct RestartStrategyCLITests {
    @Test func aBadStrategyIsRejectedNamingTheKey() throws {
        let r = try CLITests.run(["run", "user-activity", "--input", "/nonexistent.jsonl", "--out", "/tmp/never.ndjson",
                                  "--late", "/tmp/never-late.ndjson", "--restart-strategy", "fixed-delay:attempts=2,delay=10"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("delay") && r.stderr.contains("'10' is not a duration"), "\(r.stderr)")
        let p = try CLITests.run(["pipeline", "--topic", "never", "--restart-strategy", "sometimes"])
        #expect(p.status != 0)
        #expect(p.stderr.contains("unknown restart strategy 'sometimes'"), "\(p.stderr)")
    }

    @Test func anExhaustedStrategyExitsNonZeroWithTheCause() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("streamkit-restart-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The input is missing: every attempt fails when its source opens.
        let r = try CLITests.run(["run", "user-activity", "--input", "\(dir)/missing.jsonl", "--out", "\(dir)/out.ndjson",
                                  "--late", "\(dir)/late.ndjson", "--restart-strategy", "fixed-delay:attempts=2,delay=10ms"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("exhausted after 2 restarts"), "\(r.stderr)")
        #expect(r.stderr.contains("missing.jsonl"), "the cause names the file: \(r.stderr)")
    }
}
