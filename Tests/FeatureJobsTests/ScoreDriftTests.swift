import Foundation
import Testing
import FeatureJobs
import StreamKit
import StreamKitTesting

/// The learner's score-drift monitor: the champion's score distribution per event-time window,
/// compared with the window before it by PSI; a significant shift forks a challenger.
@Suite struct ScoreDriftTests {
    typealias Learner = OnlineLearner<FTRLLogisticRegression>

    static func make(psi: Double = 0.25) -> KeyedProcessOperator<Learner> {
        var c = Learner.Configuration(versions: ["1"], horizon: .seconds(60))
        c.reportEvery = 1_000; c.windowCapacity = 500
        var retraining = Learner.RetrainingPolicy()
        retraining.coolDown = .seconds(1); retraining.minExamples = 1_000_000   // fork, never decide
        c.retraining = retraining
        var drift = Learner.ScoreDriftPolicy()
        drift.window = .seconds(600); drift.minCount = 300; drift.psiThreshold = psi; drift.warmUpUpdates = 2_000
        c.scoreDrift = drift
        return KeyedProcessOperator(Learner(c) { _ in FTRLLogisticRegression(dimension: 64, parameters: FTRLParameters(alpha: 0.2)) },
                                    key: { _ in "fraud" })
    }

    /// One transaction per second, y ~ σ(−1 + 3·x1), positives labelled 5–30 s later; x1 ~ U(−1, 1),
    /// and from `shiftAt` on (if given) x1 ~ U(0.6, 1): a covariate shift that moves the scores.
    static func events(_ n: Int, shiftAt: Int? = nil, seed: UInt64 = 3) -> [(LearningEvent, Int64)] {
        OnlineLearnerTests.stream(n, seed: seed) { i, uniform, _ in
            let shifted = shiftAt.map { i >= $0 } ?? false
            let x1 = shifted ? 0.6 + uniform() * 0.4 : uniform() * 2 - 1
            return (SparseFeatures([(0, 1), (1, x1)]), 1 / (1 + exp(-(-1 + 3 * x1))))
        }
    }

    static func run(_ events: [(LearningEvent, Int64)], psi: Double = 0.25) throws -> [ModelDecision] {
        let h = try OperatorTestHarness(make(psi: psi))
        for (e, t) in events {
            try h.processElement(e, timestamp: t)
            try h.processWatermark(t - 1)
        }
        try h.processWatermark(.max)
        return h.outputValues.compactMap(\.decision)
    }

    @Test func psiOfKnownDistributions() {
        #expect(ScoreDriftWindows.psi([100, 100], [100, 100]) == 0)
        // Smoothed proportions: p = (100.5, 100.5)/201, q = (150.5, 50.5)/201.
        let p = 100.5 / 201.0, q1 = 150.5 / 201.0, q2 = 50.5 / 201.0
        let expected = (q1 - p) * log(q1 / p) + (q2 - p) * log(q2 / p)
        #expect(abs(ScoreDriftWindows.psi([100, 100], [150, 50]) - expected) < 1e-15)
        #expect(ScoreDriftWindows.psi([100, 0], [0, 100]) > 5)
    }

    @Test func bucketsAreEqualStepsInLogOdds() {
        let policy = Learner.ScoreDriftPolicy()
        #expect(policy.edges.count == 16)
        #expect(policy.bucket(0) == 0 && policy.bucket(1 / (1 + exp(7.5))) == 0)
        #expect(policy.bucket(0.5) == 8)           // σ(0) = 0.5 is edges[7]: bucket 8 holds [σ(0), σ(1))
        #expect(policy.bucket(0.999_999) == 16)
    }

    @Test func aStableStreamDoesNotFork() throws {
        let forks = try Self.run(Self.events(12_000)).filter { $0.kind == .fork }
        #expect(forks.isEmpty, "\(forks.map(\.reason))")
    }

    @Test func aShiftOfTheScoresForksAChallengerAfterTheNextWindowCloses() throws {
        // The shift starts at 7,200 s, the start of a 600 s window; that window closes at 7,800 s.
        let decisions = try Self.run(Self.events(12_000, shiftAt: 7_200))
        let forks = decisions.filter { $0.kind == .fork }
        #expect(forks.count == 1)
        if let fork = forks.first {
            #expect(fork.eventTime == 7_800_000)
            #expect(fork.reason.hasPrefix("champion score drift: PSI "))
            #expect(fork.reason.contains("of [7200000, 7800000)") && fork.reason.contains("vs [6600000, 7200000)"))
            #expect(fork.challenger == "2")
        }
        // With a threshold above the shift's PSI nothing forks.
        #expect(try Self.run(Self.events(12_000, shiftAt: 7_200), psi: 100).allSatisfy { $0.kind != .fork })
    }

    @Test func windowsSurviveACheckpoint() throws {
        var w = ScoreDriftWindows(buckets: 17)
        for i in 0..<1_000 { _ = w.add(bucket: i % 17, at: Int64(i) * 1_000, window: 600_000, minCount: 10) }
        #expect(w.previous != nil)
        #expect(try ScoreDriftWindows(stateBytes: w.encodedStateBytes()) == w)
        w.reset()
        #expect(w.previous == nil && w.current.allSatisfy { $0 == 0 })
    }
}
