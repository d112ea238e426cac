import Foundation
import Testing
import FeatureJobs
import StreamKit

/// The sliding prequential window against exact recomputation over the same last-n predictions.
@Suite struct PrequentialEvaluationTests {
    /// P(positive scores above negative) + ½·P(tie), by enumerating every pair.
    static func pairwiseAUC(_ s: [Double], _ l: [Bool]) -> Double {
        var wins = 0.0, pairs = 0.0
        for i in s.indices where l[i] {
            for j in s.indices where !l[j] {
                pairs += 1
                if s[i] > s[j] { wins += 1 } else if s[i] == s[j] { wins += 0.5 }
            }
        }
        return wins / pairs
    }

    @Test func exactAUCEqualsPairCountingWithTies() {
        var rng = SplitMix64(seed: 3)
        for _ in 0..<20 {
            let n = 50 + Int(rng.next() % 100)
            let s = (0..<n).map { _ in Double(rng.next() % 20) / 20 }   // many ties
            let l = (0..<n).map { _ in rng.next() % 3 == 0 }
            #expect(abs(ROCAUC.exact(scores: s, labels: l) - Self.pairwiseAUC(s, l)) < 1e-12)
        }
        #expect(ROCAUC.exact(scores: [0.1, 0.9], labels: [false, true]) == 1)
        #expect(ROCAUC.exact(scores: [0.1, 0.9], labels: [true, false]) == 0)
        #expect(ROCAUC.exact(scores: [0.3, 0.4], labels: [true, true]).isNaN)
    }

    @Test func slidingWindowMatchesExactRecomputation() {
        var rng = SplitMix64(seed: 9)
        var window = PrequentialWindow(capacity: 100, bucketCount: 5)
        var all: [(Double, Bool)] = []
        for t in 1...1_000 {
            let s = Double(rng.next() % 1_000_001) / 1_000_000
            let label = Double(rng.next() % 1_000) / 1_000 < s   // calibrated by construction
            window.add(score: s, label: label)
            all.append((s, label))
            guard t % 37 == 0 || t == 1_000 else { continue }
            let last = Array(all.suffix(100))
            let s0 = last.map(\.0), l0 = last.map(\.1)
            #expect(window.count == last.count && window.total == Int64(t))
            let ll = last.map { logLoss(probability: $0.0, label: $0.1) }.reduce(0, +) / Double(last.count)
            #expect(abs(window.logLoss - ll) < 1e-9)
            if l0.contains(true) && l0.contains(false) {
                #expect(abs(window.auc() - Self.pairwiseAUC(s0, l0)) < 1e-12)
            }
            #expect(window.positives == l0.filter { $0 }.count)
            let contents = window.contents
            #expect(contents.scores == s0 && contents.labels == l0)
            for (b, bucket) in window.calibration.enumerated() {
                let inBucket = last.filter { min(Int($0.0 * 5), 4) == b }
                #expect(bucket.count == inBucket.count)
                if !inBucket.isEmpty {
                    #expect(abs(bucket.meanPredicted! - inBucket.map(\.0).reduce(0, +) / Double(inBucket.count)) < 1e-9)
                    #expect(bucket.observedRate == Double(inBucket.filter(\.1).count) / Double(inBucket.count))
                }
            }
        }
    }

    @Test func windowRoundTripsThroughCheckpointEncoding() throws {
        var rng = SplitMix64(seed: 4)
        var window = PrequentialWindow(capacity: 64)
        for _ in 0..<150 { window.add(score: Double(rng.next() % 1_000) / 1_000, label: rng.next() % 4 == 0) }
        var restored = try PrequentialWindow(stateBytes: window.encodedStateBytes())
        #expect(restored.metrics() == window.metrics())
        for _ in 0..<100 {
            let s = Double(rng.next() % 1_000) / 1_000, l = rng.next() % 4 == 0
            window.add(score: s, label: l); restored.add(score: s, label: l)
        }
        #expect(restored.metrics() == window.metrics())
        #expect(restored.contents.scores == window.contents.scores)
    }
}
