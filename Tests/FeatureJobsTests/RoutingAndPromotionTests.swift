import Foundation
import Testing
import FeatureJobs
import StreamKit

/// ``TrafficSplit`` (sticky shares, rules) and ``PairedComparison`` (promotion statistics).
@Suite struct RoutingAndPromotionTests {
    @Test func splitIsStickyAndHonoursShares() {
        let split = TrafficSplit(shares: [("7", 0.9), ("8", 0.1)])
        var canary = Set<String>()
        for i in 0..<20_000 {
            let e = "user-\(i)"
            let v = split.version(entity: e)
            #expect(v == split.version(entity: e))
            if v == "8" { canary.insert(e) }
        }
        #expect(abs(Double(canary.count) / 20_000 - 0.1) < 0.01, "canary share \(canary.count)")
        // Growing the canary keeps everyone who was in it (the canary's range only widens).
        let wider = TrafficSplit(shares: [("7", 0.8), ("8", 0.2)])
        #expect(canary.allSatisfy { wider.version(entity: $0) == "8" })
        let widerCount = (0..<20_000).filter { wider.version(entity: "user-\($0)") == "8" }.count
        #expect(abs(Double(widerCount) / 20_000 - 0.2) < 0.01)
    }

    @Test func rulesOnFeatureValuesComeFirst() {
        var split = TrafficSplit(shares: [("7", 0), ("8", 1)])
        split.rules = [TrafficSplit.Rule(slot: 1, atLeast: 2, version: "7")]
        #expect(split.version(entity: "a", features: SparseFeatures([(0, 1), (1, 2.5)])) == "7")
        #expect(split.version(entity: "a", features: SparseFeatures([(0, 1), (1, 1.5)])) == "8")
        #expect(split.version(entity: "a") == "8")
    }

    @Test func pairedComparisonMatchesDirectStatistics() throws {
        var rng = SplitMix64(seed: 2)
        func uniform() -> Double { Double(rng.next() >> 11) * 0x1p-53 }
        var c = PairedComparison()
        var ds: [Double] = []
        for _ in 0..<3_000 {
            let p = uniform() * 0.98 + 0.01
            let label = uniform() < p
            let champion = min(max(p + (uniform() - 0.5) * 0.3, 0.01), 0.99)    // a noisier model
            c.add(championScore: champion, challengerScore: p, label: label)
            ds.append(logLoss(probability: champion, label: label) - logLoss(probability: p, label: label))
        }
        let mean = ds.reduce(0, +) / Double(ds.count)
        let variance = ds.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(ds.count - 1)
        #expect(abs(c.meanDifference - mean) < 1e-12)
        #expect(abs(c.standardError - (variance / Double(ds.count)).squareRoot()) < 1e-12)
        #expect(mean > 0)
        #expect(c.decision(minExamples: 1_000, margin: 0) == .promote)
        #expect(c.decision(minExamples: 5_000, margin: 0) == .wait)
        #expect(c.decision(minExamples: 1_000, margin: mean * 2) == .wait)
        // The other way round the challenger is the noisy one: roll back.
        var worse = PairedComparison()
        var rng2 = SplitMix64(seed: 2)
        for _ in 0..<3_000 {
            let p = Double(rng2.next() >> 11) * 0x1p-53 * 0.98 + 0.01
            let label = Double(rng2.next() >> 11) * 0x1p-53 < p
            let noisy = min(max(p + (Double(rng2.next() >> 11) * 0x1p-53 - 0.5) * 0.3, 0.01), 0.99)
            worse.add(championScore: p, challengerScore: noisy, label: label)
        }
        #expect(worse.decision(minExamples: 1_000, margin: 0) == .rollback)
        #expect(try PairedComparison(stateBytes: c.encodedStateBytes()) == c)
    }

    @Test func doublingLooksSpendTheLevel() {
        #expect(PairedComparison.look(999, minimum: 1_000) == nil)
        #expect(PairedComparison.look(1_000, minimum: 1_000) == 0)
        #expect(PairedComparison.look(2_000, minimum: 1_000) == 1)
        #expect(PairedComparison.look(3_000, minimum: 1_000) == nil)
        #expect(PairedComparison.look(8_000, minimum: 1_000) == 3)
        let alpha = PairedComparison.upperTail(2.33)
        #expect(abs(alpha - 0.009903) < 1e-6)
        var spent = 0.0
        for k in 0..<20 {
            let z = PairedComparison.threshold(look: k, zCritical: 2.33)
            let level = PairedComparison.upperTail(z)
            #expect(abs(level - alpha / Double(1 << (k + 1))) <= 1e-9 * level)
            spent += level
        }
        #expect(spent < alpha)
        #expect(abs(PairedComparison.threshold(look: 0, zCritical: 2.33) - 2.5786) < 1e-3)
    }

    /// Two equally good versions (exchangeable noisy copies of the true probability): how often is
    /// the challenger ever promoted over 32,000 paired labels? Looking at every label promotes a
    /// no-better challenger far more often than the 1 % level; the doubling looks stay below it.
    @Test func doublingLooksKeepWrongPromotionsBelowTheLevel() {
        let sequences = 150, labels = 32_000, minExamples = 500
        var rng = SplitMix64(seed: 11)
        func uniform() -> Double { Double(rng.next() >> 11) * 0x1p-53 }
        var everyExample = 0, doubling = 0
        for _ in 0..<sequences {
            var c = PairedComparison()
            var promotedEvery = false, promotedDoubling = false
            for _ in 0..<labels {
                let p = 0.05 + uniform() * 0.9
                let label = uniform() < p
                let a = min(max(p + (uniform() - 0.5) * 0.2, 0.01), 0.99)
                let b = min(max(p + (uniform() - 0.5) * 0.2, 0.01), 0.99)
                c.add(championScore: a, challengerScore: b, label: label)
                if !promotedEvery, c.count >= Int64(minExamples),
                   c.decision(minExamples: minExamples, margin: 0, zCritical: 2.33, looks: .everyExample) == .promote { promotedEvery = true }
                if !promotedDoubling,
                   c.decision(minExamples: minExamples, margin: 0, zCritical: 2.33, looks: .doubling) == .promote { promotedDoubling = true }
            }
            if promotedEvery { everyExample += 1 }
            if promotedDoubling { doubling += 1 }
        }
        // α = 0.99 %: about 1.5 of 150 expected; allow sampling noise, and require the contrast.
        #expect(doubling <= 5, "doubling looks promoted \(doubling) of \(sequences)")
        #expect(everyExample >= 3 * max(doubling, 3), "every-label looks promoted \(everyExample) of \(sequences)")
    }
}
