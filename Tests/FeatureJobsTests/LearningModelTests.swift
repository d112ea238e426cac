import Foundation
import Testing
import FeatureJobs
import StreamKit

/// FTRL-Proximal logistic regression and AdaGrad linear regression: against hand-computed steps,
/// an independent dictionary implementation of the paper's Algorithm 1, known generating
/// functions, and checkpoint encoding.
@Suite struct LearningModelTests {
    /// Algorithm 1 of McMahan et al. (2013), written as plainly as the paper: dictionaries, the
    /// weights of the example computed first, then the per-coordinate updates.
    struct ReferenceFTRL {
        var alpha: Double, beta: Double, l1: Double, l2: Double
        var z: [Int: Double] = [:], n: [Int: Double] = [:]
        func w(_ i: Int) -> Double {
            let zi = z[i, default: 0], ni = n[i, default: 0]
            if abs(zi) <= l1 { return 0 }
            let sign: Double = zi < 0 ? -1 : 1
            return -1 / ((beta + ni.squareRoot()) / alpha + l2) * (zi - sign * l1)
        }
        func p(_ x: [(Int, Double)]) -> Double {
            let m = x.reduce(0.0) { $0 + w($1.0) * $1.1 }
            return 1 / (1 + exp(-max(min(m, 35), -35)))
        }
        mutating func learn(_ x: [(Int, Double)], _ y: Double) -> Double {
            let prob = p(x)
            let ws = x.map { w($0.0) }
            for ((i, xi), wi) in zip(x, ws) {
                let g = (prob - y) * xi
                let s = ((n[i, default: 0] + g * g).squareRoot() - n[i, default: 0].squareRoot()) / alpha
                z[i, default: 0] += g - s * wi
                n[i, default: 0] += g * g
            }
            return prob
        }
    }

    @Test func ftrlFirstStepMatchesHandComputation() {
        // α = 0.5, β = 1, λ1 = 0.1, λ2 = 0.2; x = {0: 1, 5: 2}, y = 1.
        // All z, n are 0, so w = 0 and p = σ(0) = 0.5.  g0 = (0.5 − 1)·1 = −0.5, g5 = −1.
        // σ_i·w_i = 0 (w = 0), so z0 = −0.5, n0 = 0.25, z5 = −1, n5 = 1.
        // w0 = −(z0 + λ1) / ((β + √n0)/α + λ2) = 0.4 / ((1 + 0.5)/0.5 + 0.2) = 0.4 / 3.2 = 0.125
        // w5 = −(z5 + λ1) / ((β + √n5)/α + λ2) = 0.9 / ((1 + 1)/0.5 + 0.2) = 0.9 / 4.2
        var m = FTRLLogisticRegression(dimension: 16, parameters: FTRLParameters(alpha: 0.5, beta: 1, l1: 0.1, l2: 0.2))
        let x = SparseFeatures([(0, 1), (5, 2)])
        #expect(m.learn(x, label: 1) == 0.5)
        #expect(abs(m.weight(0) - 0.125) < 1e-15)
        #expect(abs(m.weight(5) - 0.9 / 4.2) < 1e-15)
        #expect(m.weight(1) == 0)
        // Second step, same example, y = 0: p = σ(0.125 + 2·0.9/4.2).
        let p2 = 1 / (1 + exp(-(0.125 + 2 * 0.9 / 4.2)))
        #expect(abs(m.predict(x) - p2) < 1e-15)
        // g0 = p2, σ0 = (√(0.25 + p2²) − 0.5)/0.5, z0 = −0.5 + p2 − σ0·0.125, n0 = 0.25 + p2².
        _ = m.learn(x, label: 0)
        let g0 = p2, s0 = ((0.25 + g0 * g0).squareRoot() - 0.5) / 0.5
        let z0 = -0.5 + g0 - s0 * 0.125, n0 = 0.25 + g0 * g0
        let w0 = abs(z0) <= 0.1 ? 0 : -(z0 - (z0 < 0 ? -0.1 : 0.1)) / ((1 + n0.squareRoot()) / 0.5 + 0.2)
        #expect(abs(m.weight(0) - w0) < 1e-15)
        #expect(m.updates == 2)
    }

    @Test func ftrlMatchesThePapersAlgorithmStepByStep() {
        var rng = SplitMix64(seed: 11)
        let params = FTRLParameters(alpha: 0.2, beta: 1, l1: 0.3, l2: 0.5)
        var model = FTRLLogisticRegression(dimension: 64, parameters: params)
        var reference = ReferenceFTRL(alpha: 0.2, beta: 1, l1: 0.3, l2: 0.5)
        for _ in 0..<500 {
            var pairs: [(Int, Double)] = [(0, 1)]
            var used: Set<Int> = [0]
            for _ in 0..<4 {
                let i = 1 + Int(rng.next() % 63)
                if used.insert(i).inserted { pairs.append((i, Double(Int(rng.next() % 2001) - 1000) / 500)) }
            }
            let y: Double = rng.next() % 3 == 0 ? 1 : 0
            let got = model.learn(SparseFeatures(pairs.map { (UInt32($0.0), $0.1) }), label: y)
            let want = reference.learn(pairs, y)
            #expect(abs(got - want) < 1e-12)
        }
        for i in 0..<64 { #expect(abs(model.weight(i) - reference.w(i)) < 1e-12) }
        // L1 keeps some coordinates at exactly zero.
        #expect((0..<64).contains { model.weight($0) == 0 && reference.z[$0] != nil })
    }

    /// Examples of a known logistic function: y ~ Bernoulli(σ(−1 + 2·x1 − 1.5·x2 + 0.5·x3)), plus
    /// a hashed categorical feature with its own effects.
    static func logisticExamples(_ count: Int, seed: UInt64) -> [(SparseFeatures, Double, Double)] {
        var rng = SplitMix64(seed: seed)
        let hasher = FeatureHasher(bits: 12, numericSlots: 4)
        let field = FeatureHasher.fieldID("colour")
        let effect: [Double] = [-1, 0, 1]
        func uniform() -> Double { Double(rng.next() >> 11) * 0x1p-53 }
        var out: [(SparseFeatures, Double, Double)] = []
        for _ in 0..<count {
            let x1 = uniform() * 2 - 1, x2 = uniform() * 2 - 1, x3 = uniform() * 2 - 1
            let c = Int(rng.next() % 3)
            let p = 1 / (1 + exp(-(-1 + 2 * x1 - 1.5 * x2 + 0.5 * x3 + effect[c])))
            var x = SparseFeatures(capacity: 5)
            x.append(0, 1); x.append(1, x1); x.append(2, x2); x.append(3, x3)
            x.append(hasher.index(field: field, value: UInt64(c)), 1)
            out.append((x, uniform() < p ? 1 : 0, p))
        }
        return out
    }

    @Test func ftrlLearnsAKnownLogisticFunction() {
        var model = FTRLLogisticRegression(dimension: 1 << 12, parameters: FTRLParameters(alpha: 0.1, beta: 1, l1: 0, l2: 0))
        for (x, y, _) in Self.logisticExamples(60_000, seed: 1) { model.learn(x, label: y) }
        // Coefficients (the categorical effects and the bias are confounded: compare the numerics).
        #expect(abs(model.weight(1) - 2) < 0.2)
        #expect(abs(model.weight(2) + 1.5) < 0.2)
        #expect(abs(model.weight(3) - 0.5) < 0.2)
        // On fresh data the learned scores rank almost as well as the true probabilities.
        let test = Self.logisticExamples(20_000, seed: 2)
        let labels = test.map { $0.1 == 1 }
        let learned = ROCAUC.exact(scores: test.map { model.predict($0.0) }, labels: labels)
        let bayes = ROCAUC.exact(scores: test.map(\.2), labels: labels)
        #expect(bayes - learned < 0.005, "learned AUC \(learned) vs true-probability AUC \(bayes)")
        let ll = zip(test, labels).map { logLoss(probability: model.predict($0.0.0), label: $0.1) }.reduce(0, +) / Double(test.count)
        let llBayes = zip(test, labels).map { logLoss(probability: $0.0.2, label: $0.1) }.reduce(0, +) / Double(test.count)
        #expect(ll - llBayes < 0.01, "log-loss \(ll) vs \(llBayes)")
    }

    @Test func ftrlStateRoundTripsThroughCheckpointEncoding() throws {
        var model = FTRLLogisticRegression(dimension: 1 << 12, parameters: FTRLParameters(alpha: 0.1, l1: 0.5))
        let data = Self.logisticExamples(3_000, seed: 3)
        for (x, y, _) in data[..<2_000] { model.learn(x, label: y) }
        let bytes = model.encodedStateBytes()
        var restored = try FTRLLogisticRegression(stateBytes: bytes)
        #expect(restored == model)
        #expect(bytes.count < 8 * 2 * 64, "only touched coordinates are written (\(bytes.count) bytes)")
        for (x, y, _) in data[2_000...] { #expect(restored.learn(x, label: y) == model.learn(x, label: y)) }
        #expect(restored == model)
        #expect(throws: StreamKitError.self) { try FTRLLogisticRegression(stateBytes: Array(bytes.dropLast(3))) }
    }

    @Test func adaGradLearnsAKnownLinearFunction() throws {
        var rng = SplitMix64(seed: 5)
        func uniform() -> Double { Double(rng.next() >> 11) * 0x1p-53 }
        var model = AdaGradLinearRegression(dimension: 8, learningRate: 0.5)
        // y = 3 + 2·x1 − 4·x2 + noise, with x2 on a 100× larger scale than x1.
        var lastErrors: [Double] = []
        for t in 0..<40_000 {
            let x1 = uniform() * 2 - 1, x2 = (uniform() * 2 - 1) * 100
            let y = 3 + 2 * x1 - 0.04 * x2 + (uniform() - 0.5) * 0.1
            let x = SparseFeatures([(0, 1), (1, x1), (2, x2)])
            let yhat = model.learn(x, label: y)
            if t >= 39_000 { lastErrors.append(abs(yhat - y)) }
        }
        #expect(abs(model.weight(0) - 3) < 0.05)
        #expect(abs(model.weight(1) - 2) < 0.05)
        #expect(abs(model.weight(2) + 0.04) < 0.001)
        #expect(lastErrors.reduce(0, +) / Double(lastErrors.count) < 0.1)
        let restored = try AdaGradLinearRegression(stateBytes: model.encodedStateBytes())
        #expect(restored == model)
    }

    @Test func hasherIsStableAndSpreadsValues() {
        let h = FeatureHasher(bits: 10, numericSlots: 5)
        let f = FeatureHasher.fieldID("merchant")
        #expect(f == FeatureHasher.fieldID("merchant") && f != FeatureHasher.fieldID("mcc"))
        var seen = Set<UInt32>()
        for v in 0..<200 {
            let i = h.index(field: f, value: UInt64(v))
            #expect(i >= 5 && i < 1024)
            seen.insert(i)
        }
        #expect(seen.count > 170, "200 values into 1019 slots collide rarely (\(seen.count) distinct)")
        #expect(h.index(field: f, value: "abc") == h.index(field: f, value: String("xabc".dropFirst())))
        #expect(h.index(field: f, value: 7) != h.index(field: FeatureHasher.fieldID("user"), value: 7))
    }
}

extension LearningModelTests {
    @Test func rejuvenationKeepsPredictionsAndRaisesLearningRates() {
        var model = FTRLLogisticRegression(dimension: 1 << 12, parameters: FTRLParameters(alpha: 0.1, l1: 0.2, l2: 0.5))
        let data = Self.logisticExamples(5_000, seed: 8)
        for (x, y, _) in data { model.learn(x, label: y) }
        let young = model.rejuvenated(0.01)
        for (x, _, _) in data.prefix(500) { #expect(abs(young.predict(x) - model.predict(x)) < 1e-12) }
        for i in 0..<8 { #expect(abs(young.weight(i) - model.weight(i)) < 1e-12) }
        // The same new example moves the rejuvenated model's weights further.
        var old = model, fresh = young
        let x = data[0].0
        old.learn(x, label: 1); fresh.learn(x, label: 1)
        #expect(abs(fresh.weight(1) - young.weight(1)) > 3 * abs(old.weight(1) - model.weight(1)))
        var ada = AdaGradLinearRegression(dimension: 8)
        ada.learn(SparseFeatures([(0, 1), (1, 2)]), label: 3)
        let r = ada.rejuvenated(0.25)
        #expect(r.predict(SparseFeatures([(0, 1), (1, 2)])) == ada.predict(SparseFeatures([(0, 1), (1, 2)])))
    }
}
