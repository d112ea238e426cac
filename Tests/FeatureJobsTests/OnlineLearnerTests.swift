import Foundation
import Testing
import FeatureJobs
import StreamKit
import StreamKitTesting

/// ``OnlineLearner``: delayed labels join the features as served, silence becomes a negative at
/// the horizon, and a snapshot/restore in the middle changes nothing.
@Suite struct OnlineLearnerTests {
    typealias Learner = OnlineLearner<FTRLLogisticRegression>

    static func make(versions: [String] = ["1"], emitUpdates: Bool = true) -> KeyedProcessOperator<Learner> {
        var c = Learner.Configuration(versions: versions, horizon: .seconds(60))
        c.reportEvery = 100; c.windowCapacity = 500; c.emitUpdates = emitUpdates
        return KeyedProcessOperator(Learner(c) { _ in FTRLLogisticRegression(dimension: 64, parameters: FTRLParameters(alpha: 0.2)) },
                                    key: { _ in "fraud" })
    }

    /// Transactions every second; a positive's label arrives 5–30 s later; y ~ σ(−1 + 2·x1).
    static func events(_ n: Int, seed: UInt64 = 1) -> [(LearningEvent, Int64)] {
        stream(n, seed: seed) { _, uniform, next in
            let x1 = uniform() * 2 - 1
            return (SparseFeatures([(0, 1), (1, x1), (UInt32(2 + next() % 8), 1)]), 1 / (1 + exp(-(-1 + 2 * x1))))
        }
    }

    /// Transaction `i` every second with the features and positive probability `example(i,
    /// uniform, next)` gives (drawing from the stream's generator); a positive's label arrives
    /// 5–30 s later.
    static func stream(_ n: Int, seed: UInt64,
                       _ example: (Int, () -> Double, () -> UInt64) -> (SparseFeatures, Double)) -> [(LearningEvent, Int64)] {
        var rng = SplitMix64(seed: seed)
        func next() -> UInt64 { rng.next() }
        func uniform() -> Double { Double(rng.next() >> 11) * 0x1p-53 }
        var out: [(LearningEvent, Int64)] = []
        var labels: [(Int64, String)] = []
        for i in 0..<n {
            let t = Int64(i) * 1_000
            while let first = labels.first, first.0 <= t { out.append((.label(LabelEvent(labelKey: first.1, label: 1)), first.0)); labels.removeFirst() }
            let (x, p) = example(i, uniform, next)
            out.append((.score(ScoreRequest(labelKey: "tx:\(i)", requestID: "req-\(i)", entity: "u\(i % 7)", features: x)), t))
            if uniform() < p {
                labels.append((t + 5_000 + Int64(rng.next() % 25_000), "tx:\(i)"))
                labels.sort { $0.0 < $1.0 }
            }
        }
        for l in labels { out.append((.label(LabelEvent(labelKey: l.1, label: 1)), l.0)) }
        return out
    }

    static func feed(_ h: OperatorTestHarness<KeyedProcessOperator<Learner>>, _ events: ArraySlice<(LearningEvent, Int64)>) throws {
        for (e, t) in events {
            try h.processElement(e, timestamp: t)
            try h.processWatermark(t - 1)
        }
    }

    @Test func labelsJoinServedFeaturesAndHorizonMakesNegatives() throws {
        let h = try OperatorTestHarness(Self.make())
        let x = SparseFeatures([(0, 1), (3, 0.5)])
        try h.processElement(.score(ScoreRequest(labelKey: "a", requestID: "r-a", entity: "u1", features: x)), timestamp: 1_000)
        try h.processElement(.score(ScoreRequest(labelKey: "b", requestID: "r-b", entity: "u2", features: x)), timestamp: 2_000)
        // A label before its prediction waits for it.
        try h.processElement(.label(LabelEvent(labelKey: "c", label: 1)), timestamp: 2_500)
        try h.processElement(.score(ScoreRequest(labelKey: "c", requestID: "r-c", entity: "u3", features: x)), timestamp: 3_000)
        try h.processElement(.label(LabelEvent(labelKey: "a", label: 1)), timestamp: 10_000)
        #expect(h.outputValues.isEmpty, "nothing is applied before the watermark passes it")
        try h.processWatermark(10_001)
        let predictions = h.outputValues.compactMap(\.prediction)
        #expect(predictions.map(\.requestID) == ["r-a", "r-b", "r-c"])
        #expect(predictions.allSatisfy { $0.score == 0.5 && $0.features == x && $0.modelVersion == "1" })
        var updates = h.outputValues.compactMap(\.update)
        #expect(updates.map(\.labelKey) == ["c", "a"] && updates.allSatisfy { $0.label == 1 && !$0.byHorizon && $0.score == 0.5 })
        // b's horizon (2 000 + 60 000) closes: a negative, scored with the score it was served.
        try h.processWatermark(62_000)     // a record at the watermark is still on time
        #expect(h.outputValues.compactMap(\.update).count == 2)
        try h.processWatermark(62_001)
        updates = h.outputValues.compactMap(\.update)
        #expect(updates.count == 3 && updates[2].labelKey == "b" && updates[2].label == 0 && updates[2].byHorizon && updates[2].score == 0.5)
        // A late label for b finds nothing; a's and c's timers are no-ops.
        try h.processElement(.label(LabelEvent(labelKey: "b", label: 1)), timestamp: 70_000)
        try h.processWatermark(.max)
        #expect(h.outputValues.compactMap(\.update).count == 3)
    }

    @Test func versionsShadowScoreAndRoutingPicksTheServer() throws {
        let h = try OperatorTestHarness(Self.make(versions: ["1", "2"]))
        let x = SparseFeatures([(0, 1)])
        try h.processElement(.score(ScoreRequest(labelKey: "a", requestID: "r", entity: "u", modelVersion: "2", features: x)), timestamp: 1)
        try h.processElement(.label(LabelEvent(labelKey: "a", label: 1)), timestamp: 2)
        try h.processWatermark(3)
        #expect(h.outputValues.compactMap(\.prediction).map(\.modelVersion) == ["2"])
        #expect(h.outputValues.compactMap(\.update).map(\.modelVersion) == ["1", "2"])   // both learn the example
        try h.processElement(.score(ScoreRequest(labelKey: "b", requestID: "r2", entity: "u", modelVersion: "9", features: x)), timestamp: 3)
        #expect(throws: StreamKitError.self) { try h.processWatermark(4) }
    }

    @Test func learnsAndEvaluatesPrequentially() throws {
        let h = try OperatorTestHarness(Self.make(emitUpdates: false))
        try Self.feed(h, Self.events(6_000)[...])
        try h.processWatermark(.max)
        let evals = h.outputValues.compactMap(\.evaluation)
        #expect(evals.count == 60)
        let last = evals.last!
        #expect(last.updates == 6_000 && last.metrics.total == 6_000 && last.metrics.count == 500)
        // σ(−1 + 2·x1) over uniform x1 has an AUC of about 0.75; the learned model approaches it.
        #expect(last.metrics.auc > 0.68, "window AUC \(last.metrics.auc)")
        #expect(evals.first!.metrics.logLoss > last.metrics.logLoss - 0.2)
    }

    @Test func snapshotAndRestoreInTheMiddleChangeNothing() throws {
        let events = Self.events(3_000, seed: 5)
        let straight = try OperatorTestHarness(Self.make())
        try Self.feed(straight, events[...])
        try straight.processWatermark(.max)

        let cut = events.count / 2
        let first = try OperatorTestHarness(Self.make())
        try Self.feed(first, events[..<cut])
        let before = first.takeOutput().map(\.value)
        let bytes = try first.snapshot()
        let restored = try OperatorTestHarness.restore(from: [bytes]) { Self.make() }
        try restored.processWatermark(events[cut - 1].1 - 1)
        try Self.feed(restored, events[cut...])
        try restored.processWatermark(.max)
        let whole = straight.outputValues
        #expect(before + restored.outputValues == whole, "predictions, updates and evaluations equal a run without the restore")
        #expect(whole.compactMap(\.update).count == 3_000)
    }
}

extension OnlineLearnerTests {
    @Test func learningAtTheHorizonWaitsForEveryLabel() throws {
        var c = Learner.Configuration(versions: ["1"], horizon: .seconds(60))
        c.learnAt = .horizon; c.emitUpdates = true
        let h = try OperatorTestHarness(KeyedProcessOperator(Learner(c) { _ in FTRLLogisticRegression(dimension: 64) }, key: { _ in "m" }))
        let x = SparseFeatures([(0, 1)])
        try h.processElement(.score(ScoreRequest(labelKey: "a", requestID: "r-a", entity: "u", features: x)), timestamp: 1_000)
        try h.processElement(.score(ScoreRequest(labelKey: "b", requestID: "r-b", entity: "u", features: x)), timestamp: 2_000)
        try h.processElement(.label(LabelEvent(labelKey: "b", label: 1)), timestamp: 5_000)
        try h.processElement(.label(LabelEvent(labelKey: "c", label: 1)), timestamp: 6_000)    // before its prediction
        try h.processElement(.score(ScoreRequest(labelKey: "c", requestID: "r-c", entity: "u", features: x)), timestamp: 7_000)
        try h.processWatermark(61_000)
        #expect(h.outputValues.compactMap(\.update).isEmpty, "nothing is learned before a horizon closes")
        try h.processWatermark(61_001)
        #expect(h.outputValues.compactMap(\.update).map(\.labelKey) == ["a"])
        try h.processWatermark(.max)
        let u = h.outputValues.compactMap(\.update)
        #expect(u.map(\.labelKey) == ["a", "b", "c"])
        #expect(u.map(\.label) == [0, 1, 1] && u.map(\.byHorizon) == [true, false, false])
    }
}

extension OnlineLearnerTests {
    @Test func rulesOnFeatureValuesRouteBeforeTheCanarySplit() throws {
        var c = Learner.Configuration(versions: ["1"], horizon: .seconds(60))
        var policy = Learner.RetrainingPolicy()
        policy.canaryShare = 1          // the challenger would serve everyone…
        c.retraining = policy
        c.rules = [TrafficSplit.Rule(slot: 1, atLeast: 2, version: "champion")]   // …but large slot-1 values stay on the champion
        let h = try OperatorTestHarness(KeyedProcessOperator(Learner(c) { _ in FTRLLogisticRegression(dimension: 64) }, key: { _ in "m" }))
        try h.processElement(.drift(RetrainTrigger(feature: "amount", description: "test")), timestamp: 1)
        try h.processWatermark(2)
        #expect(h.outputValues.compactMap(\.decision).map(\.kind) == [.fork])
        try h.processElement(.score(ScoreRequest(labelKey: "a", requestID: "a", entity: "u1", features: SparseFeatures([(0, 1), (1, 5)]))), timestamp: 2)
        try h.processElement(.score(ScoreRequest(labelKey: "b", requestID: "b", entity: "u1", features: SparseFeatures([(0, 1), (1, 1)]))), timestamp: 3)
        try h.processWatermark(4)
        #expect(h.outputValues.compactMap(\.prediction).map(\.modelVersion) == ["1", "2"])
    }
}

extension OnlineLearnerTests {
    /// The same requests, labels and drift trigger, delivered once merged in event-time order
    /// and once as three streams in random chunks (inputs at equal time in reverse, the
    /// watermark the minimum of the three, records at the watermark): every prediction, score,
    /// update, evaluation and decision is identical — the learner applies inputs in event-time
    /// order, not arrival order.
    @Test func scoresDoNotDependOnHowInputsInterleave() throws {
        func make() -> KeyedProcessOperator<Learner> {
            var c = Learner.Configuration(versions: ["1"], horizon: .seconds(60))
            c.reportEvery = 100; c.windowCapacity = 500; c.emitUpdates = true; c.learnAt = .horizon
            var policy = Learner.RetrainingPolicy()
            policy.minExamples = 200; policy.coolDown = .seconds(1)
            c.retraining = policy
            return KeyedProcessOperator(Learner(c) { _ in FTRLLogisticRegression(dimension: 64, parameters: FTRLParameters(alpha: 0.2)) },
                                        key: { _ in "fraud" })
        }
        // Coarse times: several requests (and labels) share each millisecond value.
        var channels: [[(LearningEvent, Int64)]] = [[], [], []]
        for (e, t) in Self.events(3_000, seed: 11) {
            let coarse = t / 4_000 * 4_000
            if case .score = e { channels[0].append((e, coarse)) } else { channels[1].append((e, coarse)) }
        }
        channels[1].sort { $0.1 < $1.1 }
        for t: Int64 in [800_000, 1_600_000] {
            channels[2].append((.drift(RetrainTrigger(feature: "x1", description: "test drift at \(t)")), t))
        }

        let merged = try OperatorTestHarness(make())
        let inOrder = (channels[0] + channels[1] + channels[2]).enumerated().sorted { ($0.element.1, $0.offset) < ($1.element.1, $1.offset) }.map(\.element)
        try Self.feed(merged, inOrder[...])
        try merged.processWatermark(.max)

        let chunked = try OperatorTestHarness(make())
        var rng = SplitMix64(seed: 3)
        // Inputs at equal time arrive in reverse order within each stream.
        var queues = channels.map { ch in
            Dictionary(grouping: ch, by: \.1).sorted { $0.key < $1.key }.flatMap { $0.value.reversed() }[...]
        }
        var watermarks = [Int64](repeating: Watermark.none, count: 3)
        while queues.contains(where: { !$0.isEmpty }) {
            let c = Int(rng.next() % 3)
            guard !queues[c].isEmpty else { continue }
            let n = 1 + Int(rng.next() % 40)
            let chunk = Array(queues[c].prefix(n))
            queues[c] = queues[c].dropFirst(n)
            try chunked.processElements(chunk.map { ($0.0, $0.1) })
            watermarks[c] = queues[c].isEmpty ? .max : chunk.last!.1     // later records of this stream are at or after it
            try chunked.processWatermark(watermarks.min()!)
        }
        try chunked.processWatermark(.max)

        let a = merged.outputValues, b = chunked.outputValues
        #expect(a.compactMap(\.prediction).count == channels[0].count)
        #expect(a.compactMap(\.decision).contains { $0.kind == .fork }, "the test covers a fork")
        #expect(a.compactMap(\.prediction).map(\.score) == b.compactMap(\.prediction).map(\.score), "scores, bit for bit")
        #expect(a == b, "predictions, updates, evaluations and decisions, in the same order")
    }
}

extension OnlineLearnerTests {
    /// An operator's commands (``ModelCommand``): a promote of the challenger makes it the champion
    /// at once, a rollback brings the previous champion back, each emitted as a decision whose
    /// reason starts with `operator` and which carries the command id; a command delivered again —
    /// the command topic replayed after a restore from a snapshot that already holds it — changes
    /// nothing, while a restore from a snapshot taken before it applies it (once).
    @Test func operatorCommandsApplyOnceAlsoWhenReplayedAfterARestore() throws {
        func make() -> KeyedProcessOperator<Learner> {
            var c = Learner.Configuration(versions: ["1"], horizon: .seconds(60))
            var policy = Learner.RetrainingPolicy()
            policy.canaryShare = 0; policy.minExamples = 1_000_000    // the challenger serves nobody and is never promoted by the test
            c.retraining = policy
            return KeyedProcessOperator(Learner(c) { _ in FTRLLogisticRegression(dimension: 64) }, key: { _ in "fraud" })
        }
        func request(_ i: Int) -> LearningEvent {
            .score(ScoreRequest(labelKey: "tx:\(i)", requestID: "r\(i)", entity: "u\(i % 10)", features: SparseFeatures([(0, 1), (1, Double(i % 3))])))
        }
        func served(_ h: OperatorTestHarness<KeyedProcessOperator<Learner>>, _ range: Range<Int>) throws -> Set<String> {
            for i in range { try h.processElement(request(i), timestamp: Int64(i) * 1_000) }
            try h.processWatermark(Int64(range.upperBound) * 1_000)
            return Set(h.takeOutput().compactMap(\.value.prediction).map(\.modelVersion))
        }
        let promote = ModelCommand(id: "cmd-promote", model: "fraud", kind: .promote, version: "2", reason: "canary looks good", issuedMs: 1)
        let rollback = ModelCommand(id: "cmd-rollback", model: "fraud", kind: .rollback, issuedMs: 2)

        let h = try OperatorTestHarness(make())
        try h.processElement(.drift(RetrainTrigger(feature: "amount", description: "test drift")), timestamp: 500)
        #expect(try served(h, 1..<20) == ["1"], "the champion serves everyone (canary share 0)")
        let beforePromote = try h.snapshot()
        try h.processElement(.command(promote))
        let d = try #require(h.takeOutput().compactMap(\.value.decision).first)
        #expect(d.kind == .promote && d.champion == "1" && d.challenger == "2" && d.command == "cmd-promote")
        #expect(d.reason == "operator: canary looks good" && d.eventTime == 20_000, "applied at the learner's watermark: \(d)")
        #expect(try served(h, 20..<40) == ["2"], "the promoted version serves everyone from the command on")
        let afterPromote = try h.snapshot()

        // Restored from the snapshot after the command and the command delivered again: nothing.
        let replayed = try OperatorTestHarness.restore(from: [afterPromote]) { make() }
        try replayed.processWatermark(40_000)
        try replayed.processElement(.command(promote))
        #expect(replayed.takeOutput().isEmpty, "an applied command is not applied again")
        #expect(try served(replayed, 40..<50) == ["2"])
        // Restored from before the command: the replayed command is applied, once.
        let earlier = try OperatorTestHarness.restore(from: [beforePromote]) { make() }
        try earlier.processWatermark(20_000)
        try earlier.processElement(.command(promote))
        try earlier.processElement(.command(promote))
        #expect(earlier.takeOutput().compactMap(\.value.decision).map(\.command) == ["cmd-promote"])
        #expect(try served(earlier, 20..<40) == ["2"])

        // Rollback: the previous champion (kept, frozen) serves again; again only once.
        try replayed.processElement(.command(rollback))
        let r = try #require(replayed.takeOutput().compactMap(\.value.decision).first)
        #expect(r.kind == .revert && r.champion == "2" && r.challenger == "1" && r.command == "cmd-rollback" && r.reason == "operator")
        #expect(try served(replayed, 50..<60) == ["1"])
        let afterRollback = try replayed.snapshot()
        let again = try OperatorTestHarness.restore(from: [afterRollback]) { make() }
        try again.processWatermark(60_000)
        try again.processElement(.command(rollback))
        try again.processElement(.command(promote))
        #expect(again.takeOutput().isEmpty, "both commands were applied before the snapshot")
        // Commands the learner cannot apply change nothing: an unknown version, no earlier champion left.
        try again.processElement(.command(ModelCommand(id: "cmd-9", model: "fraud", kind: .promote, version: "9", issuedMs: 3)))
        try again.processElement(.command(ModelCommand(id: "cmd-rollback-2", model: "fraud", kind: .rollback, issuedMs: 4)))
        #expect(again.takeOutput().isEmpty)
        #expect(try served(again, 60..<70) == ["1"])
    }
}
