public import StreamKit

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
/// the normal approximation of the t statistic is accurate.
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

    /// The decision with these thresholds.
    public func decision(minExamples: Int, margin: Double, zCritical: Double = 2.33) -> PromotionDecision {
        guard count >= Int64(minExamples) else { return .wait }
        let se = Swift.max(standardError, 1e-12)
        if (meanDifference - margin) / se > zCritical { return .promote }
        if -meanDifference / se > zCritical { return .rollback }
        return .wait
    }

    public func encode(to w: inout ByteWriter) { w.writeVarInt(count); w.writeDouble(meanDifference); w.writeDouble(m2) }
    public init(from r: inout ByteReader) throws { n = try r.readVarInt(); mean = try r.readDouble(); m2 = try r.readDouble() }
}
