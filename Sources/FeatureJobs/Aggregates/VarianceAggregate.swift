public import StreamKit
public import Glibc

/// Count, mean and sum of squared deviations `M2 = Σ (xᵢ − mean)²` of a sample: the numerically
/// stable, mergeable state behind ``VarianceAggregate`` and ``StandardDeviationAggregate``.
///
/// - Adding `x` is Welford's update: `n += 1; δ = x − mean; mean += δ/n; M2 += δ·(x − mean)`.
/// - Merging is the parallel update of Chan, Golub & LeVeque (1979): with `δ = mean_b − mean_a`,
///   `n = n_a + n_b`, `mean = mean_a + δ·n_b/n`, `M2 = M2_a + M2_b + δ²·n_a·n_b/n`.
///
/// Unlike the textbook `Σx²/n − mean²`, neither step subtracts two large, nearly equal numbers, so
/// data with a large offset (timestamps, `1e9 + x`) keep their precision. The error bound is
/// `O(n·ε·κ)` relative with `κ = sqrt(1 + mean²/variance)` in the worst case, and far smaller in
/// practice: for `1e9 + x` with `x` spread over `[0, 125)` the result agrees with numpy's two-pass
/// value to better than `1e-9` (the tests check this), where the naive formula keeps two digits.
@frozen
public struct Moments: Sendable, Hashable, StateCodable {
    /// The number of values.
    public var count: Int64
    /// Their arithmetic mean (0 when empty).
    public var mean: Double
    /// The sum of squared deviations from the mean.
    public var m2: Double

    /// Empty moments (the identity of ``merge(_:)``).
    @inlinable public init() { count = 0; mean = 0; m2 = 0 }
    /// Moments with the given components.
    @inlinable public init(count: Int64, mean: Double, m2: Double) { self.count = count; self.mean = mean; self.m2 = m2 }

    /// Adds one value (Welford).
    @inlinable @inline(__always)
    public mutating func add(_ x: Double) {
        count &+= 1
        let delta = x - mean
        mean += delta / Double(count)
        m2 += delta * (x - mean)
    }

    /// Merges another set of moments (Chan et al.).
    @inlinable
    public mutating func merge(_ other: Moments) {
        if other.count == 0 { return }
        if count == 0 { self = other; return }
        let na = Double(count), nb = Double(other.count)
        let n = na + nb
        let delta = other.mean - mean
        mean += delta * (nb / n)
        m2 += other.m2 + delta * delta * (na * nb / n)
        count &+= other.count
    }

    /// `M2 / n`; NaN when empty.
    @inlinable public var populationVariance: Double { count > 0 ? Swift.max(m2, 0) / Double(count) : .nan }
    /// `M2 / (n − 1)`; NaN for fewer than two values.
    @inlinable public var sampleVariance: Double { count > 1 ? Swift.max(m2, 0) / Double(count - 1) : .nan }

    /// The variance under `estimator`.
    @inlinable public func variance(_ estimator: VarianceEstimator) -> Double {
        estimator == .sample ? sampleVariance : populationVariance
    }

    /// Layout: varint count, mean, M2 (doubles).
    @inlinable public func encode(to w: inout ByteWriter) { w.writeVarInt(count); w.writeDouble(mean); w.writeDouble(m2) }
    @inlinable public init(from r: inout ByteReader) throws {
        count = try r.readVarInt(); mean = try r.readDouble(); m2 = try r.readDouble()
        guard count >= 0 else { throw StreamKitError(.state, "Moments: negative count \(count)") }
    }
}

/// Which variance: of the sample as an estimate of its population (divide by `n − 1`, numpy's
/// `ddof=1`, pandas' default) or of the values themselves (divide by `n`, numpy's default `ddof=0`).
public enum VarianceEstimator: Sendable, Hashable {
    /// `M2 / (n − 1)`: unbiased; NaN for fewer than two values.
    case sample
    /// `M2 / n`: NaN when empty.
    case population
}

/// The variance of a numeric field, numerically stable and mergeable (see ``Moments``).
///
/// ```swift
/// .aggregate(.variance(\.amount), .variance(.population, \.amount)) { (sample: $0, population: $1) }
/// ```
public struct VarianceAggregate<Input>: AggregateFunction {
    @usableFromInline let field: @Sendable (Input) -> Double
    /// Sample (`n − 1`) or population (`n`) variance.
    public let estimator: VarianceEstimator
    @inlinable public init(_ estimator: VarianceEstimator = .sample, _ field: @escaping @Sendable (Input) -> Double) {
        self.estimator = estimator; self.field = field
    }
    @inlinable public func makeAccumulator() -> Moments { Moments() }
    @inlinable public func add(_ value: Input, to a: inout Moments) { a.add(field(value)) }
    @inlinable public func merge(_ other: Moments, into a: inout Moments) { a.merge(other) }
    /// NaN when there are too few values (none for population, fewer than two for sample).
    @inlinable public func result(_ a: Moments) -> Double { a.variance(estimator) }
}

/// The standard deviation (square root of ``VarianceAggregate``'s result) of a numeric field.
public struct StandardDeviationAggregate<Input>: AggregateFunction {
    /// The variance this is the square root of (same accumulator, add and merge).
    @usableFromInline let variance: VarianceAggregate<Input>
    /// Sample (`n − 1`) or population (`n`) standard deviation.
    @inlinable public var estimator: VarianceEstimator { variance.estimator }
    @inlinable public init(_ estimator: VarianceEstimator = .sample, _ field: @escaping @Sendable (Input) -> Double) {
        variance = VarianceAggregate(estimator, field)
    }
    @inlinable public func makeAccumulator() -> Moments { variance.makeAccumulator() }
    @inlinable public func add(_ value: Input, to a: inout Moments) { variance.add(value, to: &a) }
    @inlinable public func merge(_ other: Moments, into a: inout Moments) { variance.merge(other, into: &a) }
    /// NaN when there are too few values (none for population, fewer than two for sample).
    @inlinable public func result(_ a: Moments) -> Double { variance.result(a).squareRoot() }
}
