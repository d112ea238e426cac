import Foundation
import Testing
@_spi(Testing) import StreamKit
import FeatureJobs
import StreamKitJobs
import StreamKitWorkload

/// The `fraud-scoring` example job on the fraud workload, end to end through files: before the
/// drift the champion ranks well, the drift drops its AUC, the DriftMonitor's report forks a
/// challenger, the paired test promotes it within a bounded event-time span and the AUC
/// recovers; a failure and in-process restore from a checkpoint in the middle give exactly the
/// output of a clean run.
@Suite struct FraudScoringJobTests {
    static let transactions = 120_000

    struct Output {
        var predictions: [(time: Int64, score: Double, fraud: Bool, version: String)] = []
        var decisions: [[String: Any]] = []
        var lines: [String] = []
    }

    static func run(_ input: String, _ out: String, arguments: [String: String] = [:], options: Job.RunOptions = Job.RunOptions()) async throws -> JobResult {
        let job = try ExampleJobs.make("fraud-scoring", arguments: arguments, context: JobContext(input: .file(input), output: .file(out)))
        return try await RestartingJob(job, options: options).result()
    }

    static func read(_ out: String, frauds: Set<Int64>) throws -> Output {
        var o = Output()
        o.lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map(String.init)
        for line in o.lines {
            let j = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            switch j["type"] as! String {
            case "prediction":
                let tx = Int64((j["label_key"] as! String).dropFirst(3))!
                o.predictions.append(((j["event_time"] as! NSNumber).int64Value, (j["score"] as! NSNumber).doubleValue, frauds.contains(tx), j["model_version"] as! String))
            case "decision": o.decisions.append(j)
            default: break
            }
        }
        return o
    }

    static func auc(_ p: ArraySlice<(time: Int64, score: Double, fraud: Bool, version: String)>) -> Double {
        ROCAUC.exact(scores: p.map(\.score), labels: p.map(\.fraud))
    }

    @Test(.timeLimit(.minutes(15)))
    func driftForksAChallengerThatIsPromotedAndRestoreChangesNothing() async throws {
        let dir = TempDir("fraud-scoring")
        defer { dir.cleanup() }
        let input = dir.file("fraud.jsonl")
        let configuration = FraudWorkload.Configuration(transactions: Self.transactions, seed: 42)
        try FraudWorkload.writeFile(path: input, configuration: configuration)
        var frauds = Set<Int64>()
        var workload = FraudWorkload(configuration)
        while let e = workload.next() { if case let .chargeback(c) = e { frauds.insert(c.transactionId) } }
        let drift = workload.driftTimeMs, hour: Int64 = 3_600_000

        let clean = dir.file("clean.ndjson")
        _ = try await Self.run(input, clean)
        let o = try Self.read(clean, frauds: frauds)
        #expect(o.predictions.count == Self.transactions, "one served prediction per transaction")
        // Each evaluation carries its window's calibration: the buckets hold the window's labelled
        // predictions, and predicted and observed rates are probabilities.
        var evaluations = 0
        for line in o.lines where line.contains("\"type\":\"evaluation\"") {
            let j = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let buckets = try #require(j["calibration"] as? [[String: Any]])
            let counts = buckets.map { ($0["count"] as! NSNumber).intValue }
            #expect(counts.reduce(0, +) == (j["count"] as! NSNumber).intValue, "\(line)")
            #expect(buckets.allSatisfy { b in ["mean_predicted", "observed_rate"].allSatisfy { (0...1).contains((b[$0] as! NSNumber).doubleValue) } })
            evaluations += 1
        }
        #expect(evaluations > 10)

        // The decisions: one fork after the drift (within two DriftMonitor windows), then a promotion.
        let kinds = o.decisions.map { $0["kind"] as! String }
        #expect(kinds == ["fork", "promote"], "decisions: \(o.decisions)")
        guard kinds == ["fork", "promote"] else { return }
        let forkTime = (o.decisions[0]["event_time"] as! NSNumber).int64Value
        let promoteTime = (o.decisions[1]["event_time"] as! NSNumber).int64Value
        #expect(forkTime >= drift && forkTime < drift + 2 * hour, "fork \(forkTime - drift) ms after the drift")
        // Labels take up to the 3 h horizon; 2 000 paired labels take ≈ 17 min more.
        #expect(promoteTime > forkTime && promoteTime < forkTime + 5 * hour, "promoted \(promoteTime - forkTime) ms after the fork")
        #expect((o.decisions[1]["challenger_logloss"] as! NSNumber).doubleValue < (o.decisions[1]["champion_logloss"] as! NSNumber).doubleValue)
        #expect((o.decisions[1]["examples"] as! NSNumber).int64Value >= 2_000)
        #expect(o.decisions[1]["reason"] as! String != "")

        // AUC: high before the drift, lower after it, recovering after the promotion.
        let ps = o.predictions.sorted { $0.time < $1.time }[...]
        let before = Self.auc(ps.filter { $0.time >= drift - 4 * hour && $0.time < drift }[...])
        let after = Self.auc(ps.filter { $0.time >= drift && $0.time < promoteTime }[...])
        let recovered = Self.auc(ps.filter { $0.time >= promoteTime + hour }[...])
        #expect(before > 0.8, "AUC before the drift \(before)")
        #expect(after < before - 0.15, "AUC after the drift \(after) (before \(before))")
        #expect(recovered > after + 0.08, "AUC after the promotion \(recovered) (after the drift \(after))")
        // From the promotion's event time on, the challenger serves everyone (requests are
        // applied in event-time order, after the horizon closes of the same time).
        let afterPromotion = ps.filter { $0.time >= promoteTime }
        #expect(!afterPromotion.isEmpty && afterPromotion.allSatisfy { $0.version == "2" })
        // Between fork and promotion it served the canary share (0.2) of users.
        let canary = ps.filter { $0.time >= forkTime + 60_000 && $0.time < promoteTime }
        let share = Double(canary.filter { $0.version == "2" }.count) / Double(max(canary.count, 1))
        #expect(abs(share - 0.2) < 0.05, "canary share \(share)")

        // A failure in the middle and a restore from the last checkpoint change nothing.
        let crashed = dir.file("crashed.ndjson")
        var options = Job.RunOptions()
        options.checkpoints = CheckpointConfiguration(directory: dir.file("checkpoints"), interval: nil, everyRecords: 20_000)
        var faults = FaultInjection(failAfterRecords: 70_000, afterACheckpoint: true)
        faults.failingAttempts = 1
        options.faults = faults
        options.restartStrategy = .fixedDelay(attempts: 2, delay: .zero)
        let result = try await Self.run(input, crashed, options: options)
        #expect(result.restarts == 1 && result.restoredCheckpoint != nil)
        // Weights, metrics, decisions and predictions (every score, bit for bit) equal the clean
        // run's, line for line: the learner applies its inputs in event-time order.
        let crashedLines = try String(contentsOfFile: crashed, encoding: .utf8).split(separator: "\n")
        let cleanLines = try String(contentsOfFile: clean, encoding: .utf8).split(separator: "\n")
        let onlyClean = Set(cleanLines).subtracting(crashedLines), onlyCrashed = Set(crashedLines).subtracting(cleanLines)
        #expect(crashedLines == cleanLines,
                "weights, metrics, decisions and predictions equal the clean run's, line for line (\(cleanLines.count) vs \(crashedLines.count) lines; \(onlyClean.count) only in the clean run, e.g. \(onlyClean.first ?? ""); \(onlyCrashed.count) only after the restore, e.g. \(onlyCrashed.first ?? ""))")
    }

    /// Runs whose inputs reach the learner interleaved differently give the same output, every
    /// score bit for bit: one subtask reading 4 096-record batches against one reading 97-record
    /// batches (the union of requests, labels and drift triggers is cut at other places), and
    /// against three subtasks (user features split over them, so the three inputs arrive
    /// through different channels in a different order, and the DriftMonitor sees the amounts
    /// in another order too).
    @Test(.timeLimit(.minutes(15)))
    func scoresAreIdenticalWhateverTheInterleaving() async throws {
        let dir = TempDir("fraud-interleave")
        defer { dir.cleanup() }
        let input = dir.file("fraud.jsonl")
        try FraudWorkload.writeFile(path: input, configuration: FraudWorkload.Configuration(transactions: 40_000, seed: 7))
        let arguments = ["min-examples": "300", "report-every": "500"]
        func run(parallelism: Int, batchSize: Int) async throws -> [Substring] {
            let out = dir.file("out-\(parallelism)-\(batchSize).ndjson")
            var options = Job.RunOptions()
            options.parallelism = parallelism; options.batchSize = batchSize
            _ = try await Self.run(input, out, arguments: arguments, options: options)
            return try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        }
        func differences(_ a: [Substring], _ b: [Substring]) -> String {
            let onlyA = Set(a).subtracting(b), onlyB = Set(b).subtracting(a)
            return "\(a.count) vs \(b.count) lines; \(onlyA.count) only in the first run, e.g. \(onlyA.first ?? ""); \(onlyB.count) only in the second, e.g. \(onlyB.first ?? "")"
        }
        let a = try await run(parallelism: 1, batchSize: 4_096)
        #expect(a.filter { $0.contains("\"type\":\"prediction\"") }.count == 40_000)
        #expect(a.contains { $0.contains("\"type\":\"decision\"") }, "the runs include a retraining decision")
        let b = try await run(parallelism: 1, batchSize: 97)
        let sameSmallBatches = a == b
        #expect(sameSmallBatches, "97-record batches: \(differences(a, b))")
        let c = try await run(parallelism: 3, batchSize: 97)
        let sameParallel = a == c
        #expect(sameParallel, "three subtasks: \(differences(a, c))")
    }
}
