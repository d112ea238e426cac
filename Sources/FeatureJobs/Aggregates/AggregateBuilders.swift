public import StreamKit
public import Glibc

// Builders for jobs, next to StreamKit's `count()`, `sum`, `mean`, `min`, `max`:
// `.aggregate(count(), countIf { $0.isClick }, variance { $0.amount }, distinctCount { $0.item }, quantiles { $0.amount })`

/// Number of inputs satisfying `predicate`.
@inlinable public func countIf<T>(_ predicate: @escaping @Sendable (T) -> Bool) -> CountIfAggregate<T> { CountIfAggregate(predicate) }

/// Variance of a field (default: sample variance, divided by `n − 1`). Welford/Chan, numerically stable.
@inlinable public func variance<T>(_ estimator: VarianceEstimator = .sample, _ field: @escaping @Sendable (T) -> Double) -> VarianceAggregate<T> {
    VarianceAggregate(estimator, field)
}
/// Standard deviation of a field (default: sample, divided by `n − 1`).
@inlinable public func stddev<T>(_ estimator: VarianceEstimator = .sample, _ field: @escaping @Sendable (T) -> Double) -> StandardDeviationAggregate<T> {
    StandardDeviationAggregate(estimator, field)
}

/// The value of `field` in the input with the latest event time `time`; at equal times the greater value.
@inlinable public func lastValue<T, V: Sendable & StateCodable & Comparable>(at time: @escaping @Sendable (T) -> EventTime,
                                                                             _ field: @escaping @Sendable (T) -> V) -> LastValueAggregate<T, V> {
    LastValueAggregate(time: time, field: field)
}
/// The value of `field` in the input with the latest event time `time`; at equal times the value whose
/// state encoding is lexicographically greater.
@inlinable public func lastValue<T, V: Sendable & StateCodable>(at time: @escaping @Sendable (T) -> EventTime,
                                                                _ field: @escaping @Sendable (T) -> V) -> LastValueAggregate<T, V> {
    LastValueAggregate(time: time, encodedTieBreak: field)
}

/// Inputs per second of a window of size `window`; with `predicate`, only those satisfying it.
@inlinable public func ratePerSecond<T>(window: Duration, where predicate: (@Sendable (T) -> Bool)? = nil) -> RatePerSecondAggregate<T> {
    RatePerSecondAggregate(window: window, where: predicate)
}

/// Approximate distinct count of `item` with a HyperLogLog of `2^precision` registers (exact while small).
@inlinable public func distinctCount<T, Item: StreamKey>(precision: Int = HyperLogLog.defaultPrecision,
                                                         _ item: @escaping @Sendable (T) -> Item) -> DistinctCountAggregate<T, Item> {
    DistinctCountAggregate(precision: precision, item)
}

/// p50/p90/p99 of `field` within relative error `relativeAccuracy` (DDSketch).
@inlinable public func quantiles<T>(relativeAccuracy: Double = DDSketch.defaultRelativeAccuracy,
                                    _ field: @escaping @Sendable (T) -> Double) -> QuantilesAggregate<T> {
    QuantilesAggregate(relativeAccuracy: relativeAccuracy, field)
}

/// The DDSketch of `field`, for arbitrary quantiles or further merging.
@inlinable public func quantileSketch<T>(relativeAccuracy: Double = DDSketch.defaultRelativeAccuracy,
                                         _ field: @escaping @Sendable (T) -> Double) -> QuantileSketchAggregate<T> {
    QuantileSketchAggregate(relativeAccuracy: relativeAccuracy, field)
}
