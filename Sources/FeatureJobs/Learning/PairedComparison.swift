public import StreamKit
import Foundation

/// What a ``PairedComparison`` says about a challenger.
public enum PromotionDecision: String, Sendable, Hashable, Codable {
    /// Not enough evidence yet.
    case wait
    /// The challenger's log-loss beats the champion's by more than the margin, significantly.
    case promote
    /// The challenger is significantly worse than the champion.
    case rollback
}

/// A paired test of a challenger against the champion on the **same** labelled predictions
/// (both versions score every request; see ``OnlineLearner``): for each example,
/// `d = logloss(champion) − logloss(challenger)`, and with `n` examples of mean `d̄` and
/// standard deviation `s` (Welford's running moments), the one-sided z statistic
///
///     z_promote  = (d̄ − margin) / (s / √n)      promote  when n ≥ minExamples and z_promote  > zCritical
///     z_rollback = −d̄ / (s / √n)                 rollback when n ≥ minExamples and z_rollback > zCritical
///
/// Pairing removes the variance the two versions share (most examples are easy for both), so far
/// fewer labels are needed than when comparing two independent windows. With n in the thousands
/// the normal approximation of the t statistic is accurate. Since the statistic is watched as
/// labels arrive, ``Looks/doubling`` spends the level over a few looks instead of testing at
/// every example (see ``decision(minExamples:margin:zCritical:looks:)``).
public struct PairedComparison: Sendable, Hashable, StateCodable {
    /// Paired examples so far.
    public var count: Int64 { n }
    /// Mean of `logloss(champion) − logloss(challenger)`.
    public var meanDifference: Double { mean }
    @usableFromInline var n: Int64 = 0
    @usableFromInline var mean = 0.0
    @usableFromInline var m2 = 0.0

    public init() {}

    /// Adds one labelled example scored by both versions.
    @inlinable
    public mutating func add(championScore: Double, challengerScore: Double, label: Bool) {
        let d = logLoss(probability: championScore, label: label) - logLoss(probability: challengerScore, label: label)
        n += 1
        let delta = d - mean
        mean += delta / Double(n)
        m2 += delta * (d - mean)
    }

    /// Standard error of the mean difference (∞ below two examples).
    public var standardError: Double {
        count < 2 ? .infinity : (m2 / Double(count - 1) / Double(count)).squareRoot()
    }

    /// When the test is looked at, and at which level.
    public enum Looks: Sendable, Hashable {
        /// After every example from `minExamples` on, each look at the full level. Looking again
        /// and again inflates the chance of a wrong decision far above the level.
        case everyExample
        /// At `minExamples · 2^k` examples (k = 0, 1, 2, …), look k at the one-sided level
        /// `α · 2^−(k+1)` per direction, where `α = 1 − Φ(zCritical)`: the levels of all looks sum
        /// to α (Bonferroni alpha spending), so the chance that a challenger no better than the
        /// champion is *ever* promoted (or one no worse ever rolled back) is at most α, however
        /// long the test runs.
        case doubling
    }

    /// The decision with these thresholds (every look at the full level: ``Looks/everyExample``).
    public func decision(minExamples: Int, margin: Double, zCritical: Double = 2.33) -> PromotionDecision {
        decision(minExamples: minExamples, margin: margin, zCritical: zCritical, looks: .everyExample)
    }

    /// The decision with these thresholds when the test is looked at as `looks` says (``Looks``).
    public func decision(minExamples: Int, margin: Double, zCritical: Double, looks: Looks) -> PromotionDecision {
        guard let threshold = threshold(minExamples: minExamples, zCritical: zCritical, looks: looks) else { return .wait }
        return decision(margin: margin, threshold: threshold)
    }

    /// The z threshold of a look at the current count (`zCritical` itself with
    /// ``Looks/everyExample``), nil when the current count is not a look.
    public func threshold(minExamples: Int, zCritical: Double, looks: Looks) -> Double? {
        let minimum = Int64(Swift.max(minExamples, 1))
        guard count >= minimum else { return nil }
        guard looks == .doubling else { return zCritical }
        return Self.look(count, minimum: minimum).map { Self.threshold(look: $0, zCritical: zCritical) }
    }

    /// The verdict of a look at the z threshold `threshold`.
    public func decision(margin: Double, threshold: Double) -> PromotionDecision {
        let se = Swift.max(standardError, 1e-12)
        if (meanDifference - margin) / se > threshold { return .promote }
        if -meanDifference / se > threshold { return .rollback }
        return .wait
    }

    /// Which look `n` examples are (`n = minimum · 2^k`), nil between looks.
    public static func look(_ n: Int64, minimum: Int64) -> Int? {
        guard n >= minimum, n % minimum == 0 else { return nil }
        let multiple = n / minimum
        return multiple & (multiple - 1) == 0 ? multiple.trailingZeroBitCount : nil
    }

    /// The z threshold of look `k`: `Φ⁻¹(1 − α·2^−(k+1))` with `α = 1 − Φ(zCritical)`.
    public static func threshold(look k: Int, zCritical: Double) -> Double {
        let alpha = upperTail(zCritical) * Foundation.pow(2, -Double(k + 1))
        // Φ's upper tail is decreasing: bisect for the z whose tail is `alpha`.
        var lo = 0.0, hi = 40.0
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if upperTail(mid) > alpha { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }

    /// `1 − Φ(z)` of the standard normal distribution.
    public static func upperTail(_ z: Double) -> Double { 0.5 * Foundation.erfc(z / 2.0.squareRoot()) }

    public func encode(to w: inout ByteWriter) { w.writeVarInt(count); w.writeDouble(meanDifference); w.writeDouble(m2) }
    public init(from r: inout ByteReader) throws { n = try r.readVarInt(); mean = try r.readDouble(); m2 = try r.readDouble() }
}
