import Foundation
import Testing
import StreamKit
import StreamKitTesting

/// `cdc-features run fraud-scoring` killed with SIGKILL after a confirmed checkpoint and run again
/// with `--restore`: the output (every prediction, evaluation and decision — so the weights and
/// metrics behind them) equals a run that was never killed, byte for byte.
@Suite(.serialized) struct FraudScoringKillTests {
    @Test(.timeLimit(.minutes(15)))
    func killNineAndRestoreEqualACleanRun() throws {
        #expect(FileManager.default.isExecutableFile(atPath: CLITests.binary), "build the package first (swift build --build-tests)")
        let dir = TempDir("fraud-kill")
        defer { dir.cleanup() }
        let input = dir.file("fraud.jsonl")
        let g = try CLITests.run(["generate", "--workload", "fraud", "--events", "60000", "--out", input])
        #expect(g.status == 0, "\(g.stderr)")
        let common = ["run", "fraud-scoring", "--input", input, "--min-examples", "500"]
        let reference = dir.file("reference.ndjson")
        let r0 = try CLITests.run(common + ["--out", reference])
        #expect(r0.status == 0, "\(r0.stderr)")

        let out = dir.file("out.ndjson"), chk = dir.file("chk")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.binary)
        p.arguments = common + ["--out", out, "--checkpoint-dir", chk, "--checkpoint-interval", "200ms"]
        p.standardError = FileHandle.nullDevice; p.standardOutput = FileHandle.nullDevice
        try p.run()
        // Kill -9 once a checkpoint is confirmed (and before the job ends).
        let deadline = Date().addingTimeInterval(120)
        while p.isRunning && Date() < deadline && !FileManager.default.fileExists(atPath: chk + "/CONFIRMED") { usleep(20_000) }
        let killedMidRun = p.isRunning
        if killedMidRun { kill(p.processIdentifier, SIGKILL) }
        p.waitForExit(timeout: .seconds(300))
        #expect(killedMidRun, "the job was still running when its first checkpoint was confirmed")
        if killedMidRun {
            #expect(p.terminationReason == .uncaughtSignal)
            let r2 = try CLITests.run(common + ["--out", out, "--checkpoint-dir", chk, "--restore"])
            #expect(r2.status == 0, "\(r2.stderr)")
            #expect(r2.stderr.contains("restoring from checkpoint"), "\(r2.stderr)")
        }
        #expect(try String(contentsOfFile: out, encoding: .utf8) == String(contentsOfFile: reference, encoding: .utf8))
    }
}
