public import StreamKit
public import Glibc

/// The median, 90th and 99th percentile of a window, from a ``DDSketch``.
@frozen
public struct QuantileSummary: Sendable, Hashable {
    /// The number of values summarised.
    public var count: Int64
    /// The median (NaN when empty).
    public var p50: Double
    /// The 90th percentile (NaN when empty).
    public var p90: Double
    /// The 99th percentile (NaN when empty).
    public var p99: Double
    @inlinable public init(count: Int64, p50: Double, p90: Double, p99: Double) {
        self.count = count; self.p50 = p50; self.p90 = p90; self.p99 = p99
    }
    /// The summary of a sketch.
    @inlinable public init(_ sketch: DDSketch) {
        self.init(count: Int64(sketch.count), p50: sketch.quantile(0.5), p90: sketch.quantile(0.9), p99: sketch.quantile(0.99))
    }
}

/// p50, p90 and p99 of a numeric field within relative error `α` (default 1 %), with a mergeable
/// ``DDSketch``. Each quantile `q` is within `α` of the element of rank `⌊q·(n−1)⌋` of the sorted
/// window — numpy's `np.quantile(x, q, method="lower")`.
///
/// ```swift
/// .aggregate(.quantiles(\.latencyMillis))
/// ```
public struct QuantilesAggregate<Input>: AggregateFunction {
    /// The sketch this summarises (same accumulator, add and merge).
    @usableFromInline let sketch: QuantileSketchAggregate<Input>
    /// The relative accuracy `α`.
    @inlinable public var relativeAccuracy: Double { sketch.relativeAccuracy }
    /// The bucket limit per sign (see ``DDSketch/maxBuckets``).
    @inlinable public var maxBuckets: Int { sketch.maxBuckets }
    @inlinable public init(relativeAccuracy: Double = DDSketch.defaultRelativeAccuracy, maxBuckets: Int = DDSketch.defaultMaxBuckets,
                           _ field: @escaping @Sendable (Input) -> Double) {
        sketch = QuantileSketchAggregate(relativeAccuracy: relativeAccuracy, maxBuckets: maxBuckets, field)
    }
    @inlinable public func makeAccumulator() -> DDSketch { sketch.makeAccumulator() }
    @inlinable public func add(_ value: Input, to a: inout DDSketch) { sketch.add(value, to: &a) }
    @inlinable public func merge(_ other: DDSketch, into a: inout DDSketch) { sketch.merge(other, into: &a) }
    @inlinable public func result(_ a: DDSketch) -> QuantileSummary { QuantileSummary(a) }
}

/// The whole ``DDSketch`` of a numeric field, for arbitrary quantiles downstream or for merging
/// windows further (e.g. hourly sketches into a daily one).
public struct QuantileSketchAggregate<Input>: AggregateFunction {
    @usableFromInline let field: @Sendable (Input) -> Double
    /// The relative accuracy `α`.
    public let relativeAccuracy: Double
    /// The bucket limit per sign (see ``DDSketch/maxBuckets``).
    public let maxBuckets: Int
    @inlinable public init(relativeAccuracy: Double = DDSketch.defaultRelativeAccuracy, maxBuckets: Int = DDSketch.defaultMaxBuckets,
                           _ field: @escaping @Sendable (Input) -> Double) {
        precondition(relativeAccuracy > 0 && relativeAccuracy < 1, "relativeAccuracy must be in (0, 1)")
        self.relativeAccuracy = relativeAccuracy; self.maxBuckets = maxBuckets; self.field = field
    }
    @inlinable public func makeAccumulator() -> DDSketch { DDSketch(relativeAccuracy: relativeAccuracy, maxBuckets: maxBuckets) }
    @inlinable public func add(_ value: Input, to a: inout DDSketch) { a.add(field(value)) }
    @inlinable public func merge(_ other: DDSketch, into a: inout DDSketch) { a.merge(other) }
    @inlinable public func result(_ a: DDSketch) -> DDSketch { a }
}
