public import StreamKit
public import Glibc

// Feature aggregates with leading-dot syntax, next to StreamKit's `.count()`, `.sum`, `.mean`,
// `.min`, `.max`:
// `.aggregate(.count(), .countIf { $0.isClick }, .variance(\.amount), .distinctCount(\.item), .quantiles(\.amount)) { … }`
// Outside `aggregate(...)`, name the type: `let f: VarianceAggregate<Event> = .variance(\.amount)`.

extension Aggregation {
    /// Number of inputs satisfying `predicate`.
    @inlinable public static func countIf(_ predicate: @escaping @Sendable (Input) -> Bool) -> Aggregation<Input, CountIfAggregate<Input>> {
        .init(CountIfAggregate(predicate))
    }
    /// Variance of a field (default: sample variance, divided by `n − 1`). Welford/Chan, numerically stable.
    @inlinable public static func variance(_ estimator: VarianceEstimator, _ field: @escaping @Sendable (Input) -> Double)
    -> Aggregation<Input, VarianceAggregate<Input>> { .init(VarianceAggregate(estimator, field)) }
    /// Sample variance of a field (divided by `n − 1`).
    @inlinable public static func variance(_ field: @escaping @Sendable (Input) -> Double)
    -> Aggregation<Input, VarianceAggregate<Input>> { .init(VarianceAggregate(.sample, field)) }
    /// Standard deviation of a field (default: sample, divided by `n − 1`).
    @inlinable public static func stddev(_ estimator: VarianceEstimator, _ field: @escaping @Sendable (Input) -> Double)
    -> Aggregation<Input, StandardDeviationAggregate<Input>> { .init(StandardDeviationAggregate(estimator, field)) }
    /// Sample standard deviation of a field (divided by `n − 1`).
    @inlinable public static func stddev(_ field: @escaping @Sendable (Input) -> Double)
    -> Aggregation<Input, StandardDeviationAggregate<Input>> { .init(StandardDeviationAggregate(.sample, field)) }
    /// The value of `field` in the input with the latest event time `time`; at equal times the greater value.
    @inlinable public static func lastValue<V: Sendable & StateCodable & Comparable>(at time: @escaping @Sendable (Input) -> EventTime,
                                                                                    _ field: @escaping @Sendable (Input) -> V)
    -> Aggregation<Input, LastValueAggregate<Input, V>> { .init(LastValueAggregate(time: time, field: field)) }
    /// The value of `field` in the input with the latest event time `time`; at equal times the value whose
    /// state encoding is lexicographically greater.
    @inlinable public static func lastValue<V: Sendable & StateCodable>(at time: @escaping @Sendable (Input) -> EventTime,
                                                                       _ field: @escaping @Sendable (Input) -> V)
    -> Aggregation<Input, LastValueAggregate<Input, V>> { .init(LastValueAggregate(time: time, encodedTieBreak: field)) }
    /// Inputs per second of a window of size `window`; with `predicate`, only those satisfying it.
    @inlinable public static func ratePerSecond(window: Duration, where predicate: (@Sendable (Input) -> Bool)? = nil)
    -> Aggregation<Input, RatePerSecondAggregate<Input>> { .init(RatePerSecondAggregate(window: window, where: predicate)) }
    /// Approximate distinct count of `item` with a HyperLogLog of `2^precision` registers (exact while small).
    @inlinable public static func distinctCount<Item: StreamKey>(precision: Int = HyperLogLog.defaultPrecision,
                                                                 _ item: @escaping @Sendable (Input) -> Item)
    -> Aggregation<Input, DistinctCountAggregate<Input, Item>> { .init(DistinctCountAggregate(precision: precision, item)) }
    /// p50/p90/p99 of `field` within relative error `relativeAccuracy` (DDSketch).
    @inlinable public static func quantiles(relativeAccuracy: Double = DDSketch.defaultRelativeAccuracy,
                                            _ field: @escaping @Sendable (Input) -> Double)
    -> Aggregation<Input, QuantilesAggregate<Input>> { .init(QuantilesAggregate(relativeAccuracy: relativeAccuracy, field)) }
    /// The DDSketch of `field`, for arbitrary quantiles or further merging.
    @inlinable public static func quantileSketch(relativeAccuracy: Double = DDSketch.defaultRelativeAccuracy,
                                                 _ field: @escaping @Sendable (Input) -> Double)
    -> Aggregation<Input, QuantileSketchAggregate<Input>> { .init(QuantileSketchAggregate(relativeAccuracy: relativeAccuracy, field)) }
}
