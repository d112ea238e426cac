public import Glibc

/// Binary cross-entropy of one prediction, with the probability clipped to `[1e-15, 1 − 1e-15]`
/// (scikit-learn's convention) so a confident mistake costs ≈ 34.5, not infinity.
@inlinable
public func logLoss(probability p: Double, label: Bool) -> Double {
    let q = Swift.min(Swift.max(p, 1e-15), 1 - 1e-15)
    return label ? -log(q) : -log(1 - q)
}
