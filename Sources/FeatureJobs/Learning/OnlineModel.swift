public import StreamKit

/// A model that learns one example at a time from a stream (online learning), over
/// ``SparseFeatures`` in a fixed dimension.
///
/// Implementations are value types whose whole state (weights and optimizer accumulators) is
/// ``StateCodable``, so they live in keyed state and are checkpointed and restored exactly once
/// with the rest of a job. ``predict(_:)`` and ``learn(_:label:)`` must not allocate.
public protocol OnlineModel: Sendable, StateCodable {
    /// Number of weights (indices of the features must be below it).
    var dimension: Int { get }
    /// Examples learned so far.
    var updates: Int64 { get }
    /// The prediction for `x`: a probability for classifiers, a value for regressors.
    func predict(_ x: SparseFeatures) -> Double
    /// Learns from `(x, label)` and returns the prediction made *before* the update (what a
    /// prequential evaluation scores).
    @discardableResult mutating func learn(_ x: SparseFeatures, label: Double) -> Double
    /// The same predictions with the per-coordinate learning rates raised: the accumulated
    /// squared gradients are multiplied by `factor` (< 1) and the weights kept exactly. An
    /// adaptive learner's rates decay as `1/√n` for ever; a challenger forked this way adapts to a
    /// changed concept like a young model while starting from everything the champion knew.
    func rejuvenated(_ factor: Double) -> Self
}
