import Foundation
import StreamKit

/// Drift statistics comparing a *current* distribution with a *reference* one.
///
/// Every function is pure, takes plain counts or samples, and documents its formula, so a
/// report can be reproduced by hand or with numpy/scipy. The two-sample Kolmogorov–Smirnov test
/// lives in ``KolmogorovSmirnov``.
public enum DriftStatistics {
    /// Floor applied to empty-bin proportions by ``populationStabilityIndex(reference:current:epsilon:)``: 1e-4 (0.01 %).
    public static let defaultPSIEpsilon = 1e-4

    // MARK: - PSI

    /// Population Stability Index of two count vectors over the same bins:
    ///
    ///     PSI = Σᵢ (curᵢ − refᵢ) · ln(curᵢ / refᵢ)
    ///
    /// where `refᵢ = refCountᵢ / Σ refCount` and `curᵢ = curCountᵢ / Σ curCount` are proportions.
    ///
    /// **Empty bins.** A proportion of 0 would make `ln(cur/ref)` ±∞, so one empty bin would make
    /// PSI infinite whatever the rest of the distribution does. Proportions below `epsilon` are
    /// therefore replaced by `epsilon` (default 1e-4, i.e. "less than one in ten thousand") in both
    /// factors, without renormalising. The choice bounds the contribution of a bin that is empty on
    /// one side at `p · ln(p / ε)` (≈ 0.46 for p = 0.1), large enough to signal that mass appeared
    /// or disappeared but finite. Bins empty on both sides contribute 0.
    ///
    /// Every term is ≥ 0 (both factors have the same sign), so PSI ≥ 0, and it is symmetric in
    /// reference and current. Conventional reading (``DriftVerdict/init(psi:thresholds:)``):
    /// < 0.1 no significant change, 0.1–0.25 moderate change, > 0.25 significant change.
    ///
    /// - Returns: NaN if either side has no values (nothing to compare).
    /// - Precondition: both vectors have the same length.
    public static func populationStabilityIndex(reference: [Int64], current: [Int64], epsilon: Double = defaultPSIEpsilon) -> Double {
        precondition(reference.count == current.count, "PSI needs the same bins on both sides")
        let nr = Double(reference.reduce(0, &+)), nc = Double(current.reduce(0, &+))
        guard nr > 0, nc > 0 else { return .nan }
        return populationStabilityIndex(referenceProportions: reference.map { Double($0) / nr },
                                        currentProportions: current.map { Double($0) / nc }, epsilon: epsilon)
    }

    /// PSI of two proportion vectors (each summing to 1); see ``populationStabilityIndex(reference:current:epsilon:)``.
    public static func populationStabilityIndex(referenceProportions ref: [Double], currentProportions cur: [Double],
                                                epsilon: Double = defaultPSIEpsilon) -> Double {
        precondition(ref.count == cur.count, "PSI needs the same bins on both sides")
        var psi = 0.0
        for (r0, c0) in zip(ref, cur) {
            if r0 == 0 && c0 == 0 { continue }
            let r = Swift.max(r0, epsilon), c = Swift.max(c0, epsilon)
            psi += (c - r) * Foundation.log(c / r)
        }
        return psi
    }

    /// PSI of two histograms with the same cut points.
    public static func populationStabilityIndex(reference: Histogram, current: Histogram, epsilon: Double = defaultPSIEpsilon) -> Double {
        precondition(reference.cutPoints == current.cutPoints, "PSI needs histograms with the same cut points")
        return populationStabilityIndex(reference: reference.counts, current: current.counts, epsilon: epsilon)
    }

    /// PSI of two categorical distributions over the union of their categories.
    public static func populationStabilityIndex(reference: CategoryCounts, current: CategoryCounts, epsilon: Double = defaultPSIEpsilon) -> Double {
        let a = CategoryCounts.alignedCounts(reference, current)
        return populationStabilityIndex(reference: a.a, current: a.b, epsilon: epsilon)
    }

    // MARK: - Jensen–Shannon

    /// Jensen–Shannon divergence in bits (log base 2), in [0, 1]:
    ///
    ///     JS(p, q) = ½ KL(p ‖ m) + ½ KL(q ‖ m),   m = ½ (p + q),   KL(a ‖ b) = Σ aᵢ log₂(aᵢ / bᵢ)
    ///
    /// with `0 · log 0 = 0`, so empty bins need no epsilon (m is positive wherever p or q is).
    /// The inputs are normalised to sum to 1 first (counts are fine), as scipy does. The square
    /// root is the Jensen–Shannon *distance* (``jensenShannonDistance(_:_:)``), a metric, which is
    /// what `scipy.spatial.distance.jensenshannon(p, q, base=2)` returns.
    ///
    /// - Returns: NaN if either side sums to 0.
    public static func jensenShannonDivergence(_ p: [Double], _ q: [Double]) -> Double {
        precondition(p.count == q.count, "Jensen–Shannon needs the same bins on both sides")
        let sp = p.reduce(0, +), sq = q.reduce(0, +)
        guard sp > 0, sq > 0 else { return .nan }
        var js = 0.0
        for (a0, b0) in zip(p, q) {
            let a = a0 / sp, b = b0 / sq, m = (a + b) / 2
            if a > 0 { js += 0.5 * a * Foundation.log2(a / m) }
            if b > 0 { js += 0.5 * b * Foundation.log2(b / m) }
        }
        return Swift.min(Swift.max(js, 0), 1)   // rounding can step just outside [0, 1]
    }

    /// Jensen–Shannon distance `√JS(p, q)` (base 2), in [0, 1].
    public static func jensenShannonDistance(_ p: [Double], _ q: [Double]) -> Double {
        jensenShannonDivergence(p, q).squareRoot()
    }

    /// Jensen–Shannon divergence of two histograms with the same cut points.
    public static func jensenShannonDivergence(reference: Histogram, current: Histogram) -> Double {
        precondition(reference.cutPoints == current.cutPoints, "Jensen–Shannon needs histograms with the same cut points")
        return jensenShannonDivergence(reference.counts.map(Double.init), current.counts.map(Double.init))
    }

    /// Jensen–Shannon divergence of two categorical distributions over the union of their categories.
    public static func jensenShannonDivergence(reference: CategoryCounts, current: CategoryCounts) -> Double {
        let a = CategoryCounts.alignedCounts(reference, current)
        return jensenShannonDivergence(a.a.map(Double.init), a.b.map(Double.init))
    }

    // MARK: - Mean and variance shift

    /// Two-sample z-test for a shift of the mean, Welch-style (each sample keeps its own variance):
    ///
    ///     z = (x̄_cur − x̄_ref) / √(s²_cur / n_cur + s²_ref / n_ref),   p = erfc(|z| / √2)
    ///
    /// with sample variances `s² = Σ(x − x̄)² / (n − 1)`; `p` is the two-sided normal p-value
    /// `2 · (1 − Φ(|z|))`, computed with `erfc` so that it stays accurate far in the tail. The
    /// normal reference is the large-sample limit of Welch's t-test; windows of monitored features
    /// have hundreds of values or more, where the two agree.
    ///
    /// Edge cases: fewer than 2 values on either side → z and p are NaN. Both variances 0 → z is 0
    /// (p = 1) if the means are equal, ±∞ (p = 0) otherwise.
    public static func meanShift(reference: RunningMoments, current: RunningMoments) -> MeanShift {
        let vr = reference.sampleVariance, vc = current.sampleVariance
        let ratio = vc / vr
        guard reference.count >= 2, current.count >= 2 else {
            return MeanShift(meanDifference: current.mean - reference.mean, z: .nan, pValue: .nan, varianceRatio: ratio)
        }
        let diff = current.mean - reference.mean
        let se = (vc / Double(current.count) + vr / Double(reference.count)).squareRoot()
        let z: Double
        if se == 0 { z = diff == 0 ? 0 : (diff > 0 ? .infinity : -.infinity) } else { z = diff / se }
        return MeanShift(meanDifference: diff, z: z, pValue: twoSidedNormalPValue(z), varianceRatio: ratio)
    }

    /// Two-sided p-value of a standard normal statistic: `P(|Z| ≥ |z|) = erfc(|z| / √2)`.
    public static func twoSidedNormalPValue(_ z: Double) -> Double {
        z.isNaN ? .nan : Foundation.erfc(Swift.abs(z) / 2.0.squareRoot())
    }
}

/// Result of ``DriftStatistics/meanShift(reference:current:)``.
public struct MeanShift: Sendable, Hashable, Codable {
    /// `x̄_cur − x̄_ref`.
    public var meanDifference: Double
    /// Welch z statistic.
    public var z: Double
    /// Two-sided normal p-value of `z`.
    public var pValue: Double
    /// F-ratio of the variances `s²_cur / s²_ref` (1 = same spread; NaN with fewer than 2 values
    /// on a side; ∞ if the reference variance is 0 and the current one is not).
    public var varianceRatio: Double
    public init(meanDifference: Double, z: Double, pValue: Double, varianceRatio: Double) {
        self.meanDifference = meanDifference; self.z = z; self.pValue = pValue; self.varianceRatio = varianceRatio
    }
}
