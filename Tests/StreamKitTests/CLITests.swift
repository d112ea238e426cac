import Foundation
import Testing
import StreamKit
import StreamKitWorkload
import StreamKitTesting

/// The command line as users and scripts run it: a real `cdc-features` process.
@Suite(.serialized) struct CLITests {
    static var binary: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for config in ["debug", "release"] {
            let p = root.appendingPathComponent(".build/\(config)/cdc-features").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return root.appendingPathComponent(".build/debug/cdc-features").path
    }

    @discardableResult
    static func run(_ args: [String], terminateAfter: Double? = nil) throws -> (status: Int32, stderr: String) {
        let r = try ChildProcess.run(binary, args, terminateAfter: terminateAfter.map { .milliseconds(Int64($0 * 1000)) },
                                     timeout: .seconds(600))
        return (r.status, r.stderr)
    }

    static func sortedLines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init).sorted()
    }

    @Test func sigtermTakesAFinalCheckpointAndRestoreCompletesTheOutput() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build the package first (swift build --build-tests)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("streamkit-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = "\(dir)/events.jsonl"
        _ = try WorkloadGenerator.writeFile(path: input, events: 200_000)
        let common = ["window", "--input", input, "--key", "after.user_id", "--time", "after.ts_ms", "--window", "hop:5m:1m",
                      "--agg", "count,sum:after.amount,max:after.amount", "--parallelism", "2"]

        let reference = "\(dir)/reference.ndjson"
        let r0 = try Self.run(common + ["--out", reference])
        #expect(r0.status == 0, "\(r0.stderr)")

        let out = "\(dir)/out.ndjson", chk = "\(dir)/chk"
        let r1 = try Self.run(common + ["--out", out, "--checkpoint-dir", chk, "--checkpoint-interval", "100ms"], terminateAfter: 0.6)
        // A debug build needs seconds for this input, so the signal lands mid-run.
        let stopped = r1.stderr.contains("stopped on signal")
        #expect(stopped, "the job was still running at SIGTERM: \(r1.stderr)")
        if stopped {
            #expect(r1.stderr.contains("final checkpoint"), "\(r1.stderr)")
            let r2 = try Self.run(common + ["--out", out, "--checkpoint-dir", chk, "--restore"])
            #expect(r2.status == 0, "\(r2.stderr)")
            #expect(r2.stderr.contains("resumed from checkpoint"), "\(r2.stderr)")
            let resumedRecords = r2.stderr.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            #expect(resumedRecords < 200_000, "the restored run reads only what the first run had not checkpointed")
        }
        #expect(try Self.sortedLines(out) == Self.sortedLines(reference))
    }

    @Test func generateIsByteExact() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("streamkit-gen-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try Self.run(["generate", "--events", "3", "--out", "\(dir)/e.jsonl"])
        #expect(r.status == 0)
        let first = try String(contentsOfFile: "\(dir)/e.jsonl", encoding: .utf8).split(separator: "\n").first.map(String.init)
        #expect(first == #"{"before":null,"after":{"id":1,"user_id":75414,"item_id":42292,"interaction_type":"view","amount":290.31,"ts_ms":1700000000030},"source":{"version":"2.5.0.Final","connector":"postgresql","name":"app","ts_ms":1700000000030,"db":"app","schema":"public","table":"user_interactions","txId":1001,"lsn":100000064},"op":"c","ts_ms":1700000000040}"#)
    }

    @Test func durationsNeedAUnit() throws {
        let base = ["window", "--input", "x", "--key", "k", "--time", "t", "--window", "hop:5m:1m", "--agg", "count", "--out", "/dev/null"]
        let bare = try Self.run(base + ["--watermark-delay", "10"])
        #expect(bare.status != 0)
        #expect(bare.stderr.contains("--watermark-delay"), "\(bare.stderr)")
        let window = try Self.run(["window", "--input", "x", "--key", "k", "--time", "t", "--window", "hop:300:60", "--agg", "count", "--out", "/dev/null"])
        #expect(window.status != 0)
        #expect(window.stderr.contains("bad duration '300': give a unit"), "\(window.stderr)")
    }

    /// `run fraud-scoring --route` is repeatable (every value is checked, not only the last) and
    /// bad rules and shares fail naming the flag.
    @Test func fraudScoringRoutesAreRepeatableAndValidated() throws {
        let base = ["run", "fraud-scoring", "--input", "/nonexistent.jsonl", "--out", "/dev/null"]
        let first = try Self.run(base + ["--route", "speed>=1:2", "--route", "new_merchant>=1:challenger"])
        #expect(first.status != 0)
        #expect(first.stderr.contains("--route 'speed>=1:2': unknown feature 'speed'"), "\(first.stderr)")
        let second = try Self.run(base + ["--route", "new_merchant>=1:challenger", "--route=amount<=0:2"])
        #expect(second.status != 0)
        #expect(second.stderr.contains("--route 'amount<=0:2': amount must be positive"), "\(second.stderr)")
        let share = try Self.run(base + ["--canary-share", "1.5"])
        #expect(share.status != 0)
        #expect(share.stderr.contains("--canary-share must be in [0, 1]"), "\(share.stderr)")
    }

    /// `run fraud-scoring --labels-topic` reads Kafka next to `--topic`: with a file input, or naming
    /// the `--topic` itself, it fails naming the flag before anything is read.
    @Test func fraudScoringLabelsTopicIsValidated() throws {
        let file = try Self.run(["run", "fraud-scoring", "--input", "/nonexistent.jsonl", "--out", "/dev/null", "--labels-topic", "chargebacks"])
        #expect(file.status != 0)
        #expect(file.stderr.contains("--labels-topic reads Kafka next to --topic"), "\(file.stderr)")
        let same = try Self.run(["run", "fraud-scoring", "--topic", "cdc.public.transactions", "--out", "/dev/null",
                                 "--labels-topic", "cdc.public.transactions"])
        #expect(same.status != 0)
        #expect(same.stderr.contains("--labels-topic 'cdc.public.transactions' is the --topic itself"), "\(same.stderr)")
    }

    @Test func badArgumentsFailWithAClearMessage() throws {
        let r = try Self.run(["window", "--input", "x", "--key", "k", "--time", "t", "--window", "hop:5m", "--agg", "count", "--out", "/dev/null"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("bad window 'hop:5m'"), "\(r.stderr)")
    }
}
