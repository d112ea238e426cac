import ArgumentParser
import Foundation
import FeatureJobs
import StreamKit
import StreamKitJobs
import StreamKitWorkload

/// `cdc-features bench model`: online FTRL logistic regression on the fraud workload, evaluated
/// prequentially (each transaction scored before its label is known; the model learns when the
/// chargeback arrives or, without one, when the label horizon closes as a negative).
struct BenchModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Online FTRL logistic regression on the fraud workload (generate --workload fraud): events/s, prequential AUC and log-loss; --compare-river runs River on the same stream.")
    @Option(help: "Transactions.") var events: Int = 200_000
    @Option(help: "PRNG seed of the workload.") var seed: UInt64 = 42
    @Option(help: "Label horizon: no chargeback within it makes a transaction a negative.") var horizon: Duration = .hours(3)
    @Option(name: .customLong("learn-at"), help: "horizon: learn each transaction when its horizon closes (unbiased label mix); label: positives as soon as the chargeback arrives.") var learnAt: String = "horizon"
    @Option(help: "log2 of the hashed feature space.") var bits: Int = 18
    @Flag(name: .customLong("merchant-ids"), help: "Add the hashed merchant id as a feature.") var merchantIDs = false
    @Option(help: "FTRL alpha.") var alpha: Double = 0.5
    @Option(help: "FTRL beta.") var beta: Double = 1
    @Option(help: "FTRL L1.") var l1: Double = 0.5
    @Option(help: "FTRL L2.") var l2: Double = 1
    @Option(help: "Timed repetitions of the Swift loop (the fastest is reported).") var repeats: Int = 3
    @Flag(name: .customLong("compare-river"), help: "Also run River (.deps/venv-river) on the same operations.") var compareRiver = false
    @Option(name: .customLong("river-python"), help: "Python with River installed.") var riverPython: String = ".deps/venv-river/bin/python"
    @Option(name: .customLong("river-script"), help: "River side of the comparison.") var riverScript: String = "benchmarks/river_model.py"
    @Flag(help: "Print one JSON object.") var json = false

    /// One operation of the prequential loop.
    struct Operation { var learn: Bool; var example: Int32; var label: Bool }

    func run() throws {
        guard learnAt == "horizon" || learnAt == "label" else { throw ValidationError("--learn-at must be horizon or label") }
        let stream = try FraudModelStream(transactions: events, seed: seed, horizonMs: horizon.milliseconds, bits: bits, learnAtHorizon: learnAt == "horizon", merchantIDs: merchantIDs)
        let parameters = FTRLParameters(alpha: alpha, beta: beta, l1: l1, l2: l2)
        var best = Double.infinity
        var scores = [Double](repeating: .nan, count: stream.examples.count)
        var window = PrequentialWindow(capacity: 10_000)
        for _ in 0..<max(1, repeats) {
            var model = FTRLLogisticRegression(dimension: 1 << bits, parameters: parameters)
            window = PrequentialWindow(capacity: 10_000)
            let start = MonotonicClock.nanos()
            stream.run(&model, scores: &scores, window: &window)
            best = min(best, Double(MonotonicClock.nanos() - start) / 1e9)
        }
        let labels = stream.labels
        let (auc, ll) = Self.evaluate(scores, labels)
        let w = min(stream.firstAfterWarmUp, stream.firstAfterDrift)
        let (aucWarm, llWarm) = Self.evaluate(Array(scores[w...]), Array(labels[w...]))
        let (aucPre, _) = Self.evaluate(Array(scores[w..<stream.firstAfterDrift]), Array(labels[w..<stream.firstAfterDrift]))
        let (aucPost, _) = Self.evaluate(Array(scores[stream.firstAfterDrift...]), Array(labels[stream.firstAfterDrift...]))
        var fields: [(String, String)] = [
            ("events", "\(stream.examples.count)"),
            ("labelled_positive", "\(labels.filter { $0 }.count)"),
            ("seconds", String(format: "%.4f", best)),
            ("events_per_s", String(format: "%.0f", Double(stream.examples.count) / best)),
            ("auc", String(format: "%.4f", auc)),
            ("logloss", String(format: "%.4f", ll)),
            ("auc_after_warmup", String(format: "%.4f", aucWarm)),
            ("logloss_after_warmup", String(format: "%.4f", llWarm)),
            ("auc_before_drift", String(format: "%.4f", aucPre)),
            ("auc_after_drift", String(format: "%.4f", aucPost)),
            ("bayes_auc", String(format: "%.4f", ROCAUC.exact(scores: stream.trueProbabilities, labels: labels))),
            ("window_auc", String(format: "%.4f", window.auc())),
            ("window_logloss", String(format: "%.4f", window.logLoss)),
        ]
        if compareRiver {
            let river = try runRiver(stream, parameters: parameters)
            let (rAUC, rLL) = Self.evaluate(river.scores, labels)
            fields += [
                ("river_seconds", String(format: "%.3f", river.seconds)),
                ("river_events_per_s", String(format: "%.0f", Double(stream.examples.count) / river.seconds)),
                ("river_auc", String(format: "%.4f", rAUC)),
                ("river_logloss", String(format: "%.4f", rLL)),
                ("river_auc_after_warmup", String(format: "%.4f", Self.evaluate(Array(river.scores[w...]), Array(labels[w...])).auc)),
                ("speedup", String(format: "%.1f", river.seconds / best)),
                ("auc_difference", String(format: "%.4f", auc - rAUC)),
            ]
        }
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.map(String.init) ?? "null"
        fields.append(("load_average_1m", load))
        printFields(fields, json: json)
    }

    /// Exact AUC and mean log-loss of the scores against the labels.
    static func evaluate(_ scores: [Double], _ labels: [Bool]) -> (auc: Double, logLoss: Double) {
        let ll = zip(scores, labels).reduce(0.0) { $0 + logLoss(probability: $1.0, label: $1.1) } / Double(max(scores.count, 1))
        return (ROCAUC.exact(scores: scores, labels: labels), ll)
    }

    func runRiver(_ stream: FraudModelStream, parameters p: FTRLParameters) throws -> (seconds: Double, scores: [Double]) {
        guard FileManager.default.isExecutableFile(atPath: riverPython) else {
            throw ValidationError("\(riverPython) not found: run scripts/setup (it installs River into .deps/venv-river)")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bench-model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let opsPath = dir.appendingPathComponent("ops.txt").path, scoresPath = dir.appendingPathComponent("scores.txt").path
        try stream.writeOperations(to: opsPath)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: riverPython)
        process.arguments = [riverScript, opsPath, scoresPath, "\(p.alpha)", "\(p.beta)", "\(p.l1)", "\(p.l2)"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any], let seconds = object["seconds"] as? Double else {
            throw ValidationError("River run failed (exit \(process.terminationStatus)): \(String(decoding: data, as: UTF8.self))")
        }
        let scores = try String(contentsOfFile: scoresPath, encoding: .utf8).split(separator: "\n").map { Double($0) ?? .nan }
        guard scores.count == stream.examples.count else { throw ValidationError("River returned \(scores.count) scores for \(stream.examples.count) predictions") }
        return (seconds, scores)
    }
}

/// The fraud workload turned into the prequential operation sequence both learners run: the
/// features of every transaction (computed point in time by ``UserTransactionHistory`` and
/// encoded by ``FraudFeatureEncoder``), and, in event-time order, "score transaction i" and
/// "learn transaction i with label y" — when its horizon closes, with a positive label if its
/// chargeback came within it (or, with `learnAtHorizon` false, positives as soon as the
/// chargeback arrives and negatives when the horizon closes).
struct FraudModelStream {
    var examples: [SparseFeatures] = []
    var operations: [BenchModel.Operation] = []
    /// The final label of each transaction.
    var labels: [Bool] = []
    /// Index of the first transaction at or after the drift.
    var firstAfterDrift = 0
    /// Index of the first transaction a full horizon after the start (before it, the model has
    /// learned nothing yet when labels are learned at the horizon).
    var firstAfterWarmUp = 0
    /// The generator's true fraud probability of each transaction (the best any model can score).
    var trueProbabilities: [Double] = []

    init(transactions: Int, seed: UInt64, horizonMs: Int64, bits: Int, learnAtHorizon: Bool, merchantIDs: Bool) throws {
        let encoder = FraudFeatureEncoder(bits: bits, merchantIDs: merchantIDs)
        var workload = FraudWorkload(FraudWorkload.Configuration(transactions: transactions, seed: seed))
        var histories: [Int64: UserTransactionHistory] = [:]
        var index: [Int64: Int32] = [:]             // transaction id → example, while its label is open
        var deadlines: [(Int64, Int64)] = []         // (deadline, transaction id), in time order
        var nextDeadline = 0
        examples.reserveCapacity(transactions); labels.reserveCapacity(transactions)
        firstAfterDrift = transactions
        func closeHorizons(upTo t: Int64) {
            while nextDeadline < deadlines.count && deadlines[nextDeadline].0 <= t {
                if let e = index.removeValue(forKey: deadlines[nextDeadline].1) { operations.append(.init(learn: true, example: e, label: labels[Int(e)])) }
                nextDeadline += 1
            }
        }
        while let event = workload.next() {
            closeHorizons(upTo: event.tsMs)
            switch event {
            case let .transaction(t):
                let f = histories[t.userId, default: UserTransactionHistory()].observe(ts: t.tsMs, cents: t.amountCents, merchant: t.merchantId)
                var x = SparseFeatures(capacity: 8)
                encoder.encode(f, mcc: t.mcc, merchant: t.merchantId, tsMs: t.tsMs, into: &x)
                let e = Int32(examples.count)
                if t.tsMs >= workload.driftTimeMs && firstAfterDrift == transactions { firstAfterDrift = Int(e) }
                if t.tsMs < FraudWorkload.baseTimestampMs + horizonMs { firstAfterWarmUp = Int(e) + 1 }
                examples.append(x); labels.append(false); trueProbabilities.append(t.truth.probability)
                index[t.id] = e
                deadlines.append((t.tsMs + horizonMs, t.id))
                operations.append(.init(learn: false, example: e, label: false))
            case let .chargeback(c):
                if learnAtHorizon {
                    if let e = index[c.transactionId] { labels[Int(e)] = true }       // learned when the horizon closes
                } else if let e = index.removeValue(forKey: c.transactionId) {
                    labels[Int(e)] = true
                    operations.append(.init(learn: true, example: e, label: true))
                }
            }
        }
        closeHorizons(upTo: .max)
    }

    /// The prequential loop: scores are taken before the example is learned; each learned label is
    /// evaluated against the score the transaction was given.
    func run<M: OnlineModel>(_ model: inout M, scores: inout [Double], window: inout PrequentialWindow) {
        for op in operations {
            let e = Int(op.example)
            if op.learn {
                model.learn(examples[e], label: op.label ? 1 : 0)
                window.add(score: scores[e], label: op.label)
            } else {
                scores[e] = model.predict(examples[e])
            }
        }
    }

    /// The operations as text for the River script.
    func writeOperations(to path: String) throws {
        var out = ""
        out.reserveCapacity(operations.count * 120)
        for op in operations {
            let x = examples[Int(op.example)]
            out += op.learn ? "l \(op.example) \(op.label ? 1 : 0)" : "p \(op.example)"
            for k in 0..<x.count { out += " \(x.indices[k]):\(x.values[k])" }
            out += "\n"
        }
        try out.write(toFile: path, atomically: false, encoding: .utf8)
    }
}
