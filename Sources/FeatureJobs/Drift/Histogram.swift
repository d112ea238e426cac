public import StreamKit
public import Glibc

/// Counts of a numeric feature over fixed bins: the mergeable distribution that drift statistics
/// (PSI, binned KS, Jensen–Shannon) compare.
///
/// **Bins.** `cutPoints` `c₀ < c₁ < … < c_{B−2}` split the real line into `B = cutPoints.count + 1`
/// bins, the outer two open-ended so that values outside the reference's range still land somewhere:
///
///     bin 0     = (−∞, c₀)
///     bin i     = [c_{i−1}, c_i)      for 1 ≤ i ≤ B − 2
///     bin B − 1 = [c_{B−2}, +∞)
///
/// A value equal to a cut point goes to the bin on its right. NaN is counted in ``missing`` and
/// left out of ``total`` and every proportion. With no cut points there is a single bin.
///
/// Cut points usually come from a baseline's quantiles (``quantileCutPoints(of:bins:)``, deciles
/// by default), so that every bin holds about the same share of the reference — the usual set-up
/// for PSI — or are given explicitly.
///
/// Two histograms can be merged only if they have identical cut points; a window operator can
/// therefore use ``HistogramAggregate`` as its accumulator.
///
/// ```swift
/// let cuts = Histogram.quantileCutPoints(of: baselineValues, bins: 10)   // deciles
/// var h = Histogram(cutPoints: cuts)
/// for x in currentValues { h.add(x) }
/// let psi = DriftStatistics.populationStabilityIndex(reference: Histogram(cutPoints: cuts, values: baselineValues), current: h)
/// ```
public struct Histogram: Sendable, Hashable, StateCodable {
    /// Interior bin boundaries, strictly increasing and finite.
    public let cutPoints: [Double]
    /// Count per bin (`cutPoints.count + 1` entries).
    public private(set) var counts: [Int64]
    /// Number of NaN values seen (not part of any bin).
    public private(set) var missing: Int64 = 0

    /// An empty histogram over the given cut points.
    /// - Precondition: `cutPoints` are finite and strictly increasing.
    public init(cutPoints: [Double]) {
        precondition(cutPoints.allSatisfy(\.isFinite), "histogram cut points must be finite")
        precondition(zip(cutPoints, cutPoints.dropFirst()).allSatisfy { $0 < $1 }, "histogram cut points must be strictly increasing")
        self.cutPoints = cutPoints
        self.counts = Array(repeating: 0, count: cutPoints.count + 1)
    }

    /// A histogram over `cutPoints` holding `values`.
    public init<S: Sequence>(cutPoints: [Double], values: S) where S.Element == Double {
        self.init(cutPoints: cutPoints)
        for v in values { add(v) }
    }

    /// A histogram with explicit counts (e.g. restored from a report).
    /// - Precondition: `counts.count == cutPoints.count + 1`, counts non-negative.
    public init(cutPoints: [Double], counts: [Int64], missing: Int64 = 0) {
        self.init(cutPoints: cutPoints)
        precondition(counts.count == cutPoints.count + 1, "need one count per bin (cutPoints.count + 1)")
        precondition(counts.allSatisfy { $0 >= 0 } && missing >= 0, "counts must be non-negative")
        self.counts = counts
        self.missing = missing
    }

    /// Number of bins (`cutPoints.count + 1`).
    @inlinable public var binCount: Int { counts.count }

    /// Number of non-NaN values counted.
    public var total: Int64 { counts.reduce(0, &+) }

    /// The bin of `value` (see the type's documentation); nil for NaN.
    @inlinable
    public func bin(of value: Double) -> Int? {
        if value.isNaN { return nil }
        // First cut point strictly greater than value = number of cut points ≤ value.
        var lo = 0, hi = cutPoints.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if cutPoints[mid] <= value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Counts one value (NaN goes to ``missing``).
    public mutating func add(_ value: Double) {
        if let b = bin(of: value) { counts[b] &+= 1 } else { missing &+= 1 }
    }

    /// Adds `other`'s counts to this histogram.
    /// - Precondition: both have the same cut points.
    public mutating func merge(_ other: Histogram) {
        precondition(other.cutPoints == cutPoints, "cannot merge histograms with different cut points")
        for i in counts.indices { counts[i] &+= other.counts[i] }
        missing &+= other.missing
    }

    /// Share of the non-NaN values in each bin (`count_i / total`); all zeros when empty.
    public var proportions: [Double] {
        let n = Double(total)
        return n == 0 ? counts.map { _ in 0 } : counts.map { Double($0) / n }
    }

    /// Cut points at the quantiles `i / bins` (i = 1 … bins − 1) of `values` — deciles for `bins: 10`.
    ///
    /// Quantiles use linear interpolation between order statistics (Hyndman–Fan type 7, numpy's
    /// default `method="linear"`): with the sorted values `x₀ … x_{n−1}`, the quantile `q` is
    /// `x_⌊h⌋ + (h − ⌊h⌋)(x_{⌊h⌋+1} − x_⌊h⌋)` where `h = (n − 1)q`. NaN values are ignored.
    /// Duplicate cut points (heavy ties, e.g. a feature that is mostly 0) are collapsed, so the
    /// result can have fewer than `bins − 1` points; an empty or constant input yields at most one.
    public static func quantileCutPoints(of values: [Double], bins: Int = 10) -> [Double] {
        precondition(bins >= 1, "bins must be at least 1")
        let sorted = values.filter { !$0.isNaN && $0.isFinite }.sorted()
        guard !sorted.isEmpty, bins > 1 else { return [] }
        var cuts: [Double] = []
        for i in 1..<bins {
            let q = quantile(sorted: sorted, Double(i) / Double(bins))
            if cuts.last.map({ q > $0 }) ?? true { cuts.append(q) }
        }
        return cuts
    }

    /// The `q`-quantile (0 ≤ q ≤ 1) of already sorted values, numpy's `linear` method; NaN when empty.
    public static func quantile(sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let h = Double(sorted.count - 1) * Swift.min(Swift.max(q, 0), 1)
        let lo = Int(h.rounded(.down))
        let hi = Swift.min(lo + 1, sorted.count - 1)
        return sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo])
    }

    /// Layout: cut point count (varint), the cut points (8-byte doubles), the counts (varints), missing (varint).
    public func encode(to w: inout ByteWriter) {
        w.writeVarUInt(UInt64(cutPoints.count))
        for c in cutPoints { w.writeDouble(c) }
        for c in counts { w.writeVarInt(c) }
        w.writeVarInt(missing)
    }

    public init(from r: inout ByteReader) throws {
        let n = try r.readCount()
        var cuts: [Double] = []
        cuts.reserveCapacity(Swift.min(n, r.remaining / 8))
        for _ in 0..<n { cuts.append(try r.readDouble()) }
        guard cuts.allSatisfy(\.isFinite), zip(cuts, cuts.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw StreamKitError(.state, "histogram cut points in state are not finite and strictly increasing")
        }
        var counts: [Int64] = []
        counts.reserveCapacity(n + 1)
        for _ in 0...n { counts.append(try r.readVarInt()) }
        self.cutPoints = cuts
        self.counts = counts
        self.missing = try r.readVarInt()
    }
}

/// Window accumulator building a ``Histogram`` of a numeric field over fixed cut points.
///
/// ```swift
/// stream.keyBy(\.feature).window(.tumbling(size: .hours(1)))
///     .aggregate(HistogramAggregate(cutPoints: cuts) { $0.value })
/// ```
public struct HistogramAggregate<Input>: AggregateFunction {
    public let cutPoints: [Double]
    @usableFromInline let field: @Sendable (Input) -> Double
    public init(cutPoints: [Double], _ field: @escaping @Sendable (Input) -> Double) {
        self.cutPoints = cutPoints; self.field = field
    }
    public func makeAccumulator() -> Histogram { Histogram(cutPoints: cutPoints) }
    @inlinable public func add(_ value: Input, to a: inout Histogram) { a.add(field(value)) }
    public func merge(_ other: Histogram, into a: inout Histogram) { a.merge(other) }
    public func result(_ a: Histogram) -> Histogram { a }
}
