public import StreamKit
public import Glibc

/// Count, mean and sum of squared deviations of a numeric sample, updated one value at a time
/// (Welford) and mergeable (Chan et al.), so it can be a window accumulator.
///
/// For values `x₁ … x_n`: `mean = Σx/n`, `m2 = Σ(x − mean)²`, sample variance `s² = m2/(n − 1)`.
/// Merge of (n_a, mean_a, m2_a) and (n_b, mean_b, m2_b) with `δ = mean_b − mean_a`, `n = n_a + n_b`:
/// `mean = mean_a + δ·n_b/n`, `m2 = m2_a + m2_b + δ²·n_a·n_b/n`. NaN values are skipped.
public struct RunningMoments: Sendable, Hashable, StateCodable {
    public private(set) var count: Int64 = 0
    public private(set) var mean: Double = 0
    /// Sum of squared deviations from the mean.
    public private(set) var m2: Double = 0

    public init() {}
    public init<S: Sequence>(_ values: S) where S.Element == Double { for v in values { add(v) } }

    public mutating func add(_ x: Double) {
        if x.isNaN { return }
        count += 1
        let delta = x - mean
        mean += delta / Double(count)
        m2 += delta * (x - mean)
    }

    public mutating func merge(_ o: RunningMoments) {
        if o.count == 0 { return }
        if count == 0 { self = o; return }
        let n = count + o.count
        let delta = o.mean - mean
        mean += delta * Double(o.count) / Double(n)
        m2 += o.m2 + delta * delta * Double(count) * Double(o.count) / Double(n)
        count = n
    }

    /// Sample variance `m2 / (n − 1)` (NaN for fewer than 2 values).
    public var sampleVariance: Double { count < 2 ? .nan : m2 / Double(count - 1) }
    /// Population variance `m2 / n` (NaN when empty).
    public var populationVariance: Double { count == 0 ? .nan : m2 / Double(count) }

    public func encode(to w: inout ByteWriter) { w.writeVarInt(count); w.writeDouble(mean); w.writeDouble(m2) }
    public init(from r: inout ByteReader) throws { count = try r.readVarInt(); mean = try r.readDouble(); m2 = try r.readDouble() }
}
