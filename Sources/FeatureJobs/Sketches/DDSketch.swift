public import Foundation
public import StreamKit
public import Glibc

/// A mergeable quantile sketch with a relative-error guarantee: DDSketch (Masson, Rim & Lee,
/// "DDSketch: A fast and fully-mergeable quantile sketch with relative-error guarantees", VLDB 2019).
///
/// **Mapping.** With `γ = (1 + α) / (1 − α)`, a positive value `x` goes to bucket `i = ⌈log_γ x⌉`,
/// which covers `(γ^(i−1), γ^i]`; the bucket's value is `2·γ^i / (γ + 1)`, whose relative distance to
/// every value of the bucket is at most `(γ − 1)/(γ + 1) = α`. Negative values use a second set of
/// buckets keyed by `|x|`; values with `|x|` below ``minIndexableValue`` (about 2.2e-308) count as zero.
///
/// **Guarantee.** ``quantile(_:)`` returns, for `q` in `[0, 1]`, a value within relative error `α` of
/// the element of rank `⌊q·(n − 1)⌋` (0-based) of the sorted input — numpy's
/// `np.quantile(x, q, method="lower")` — as long as that element lies in a bucket that was not
/// collapsed (see below). With the default `α = 0.01`, p99 of latencies in milliseconds is exact to 1 %.
/// Results are also clamped to the exact minimum and maximum, which are tracked separately, so
/// `quantile(0)` and `quantile(1)` are exact.
///
/// **Memory.** The buckets of each sign are a contiguous array of counts from the lowest to the
/// highest index used (allocated only when the first value of that sign arrives; an empty sketch
/// allocates nothing). `k` buckets cover a dynamic range of `γ^k`: with `α = 0.01`, 1000 buckets
/// span 9 orders of magnitude. To bound memory, a sign's array holds at most ``maxBuckets``
/// buckets; beyond that the lowest-magnitude buckets are collapsed into one, so the guarantee then
/// holds for the quantiles above the collapsed range (the tail, which is what features like p99 ask
/// for). Checkpoints store non-empty ranges only, counts as varints.
///
/// Merging adds bucket counts, so it is associative and commutative and a merged sketch equals the
/// sketch of the concatenated input (barring collapsing).
///
/// NaN and infinite values are ignored.
///
/// ```swift
/// var sketch = DDSketch(relativeAccuracy: 0.01)
/// for latency in latencies { sketch.add(latency) }
/// let p99 = sketch.quantile(0.99)
/// ```
public struct DDSketch: Sendable, Hashable {
    /// The relative accuracy `α` in (0, 1).
    public let relativeAccuracy: Double
    /// The most buckets one sign may use before the lowest-magnitude buckets are collapsed. They
    /// cover values within a factor `γ^maxBuckets ≈ e^(2·α·maxBuckets)` of the largest magnitude: with
    /// the default 2048, a factor of 10^17 at α = 1 % but only 60 at α = 0.1 % — raise it for small α.
    public let maxBuckets: Int
    /// `γ = (1 + α) / (1 − α)`.
    public let gamma: Double
    /// `1 / ln γ`.
    @usableFromInline let multiplier: Double
    /// Buckets of positive values.
    @usableFromInline var positive: DDSketchBuckets
    /// Buckets of negative values (by magnitude).
    @usableFromInline var negative: DDSketchBuckets
    @usableFromInline var zeros: UInt64
    @usableFromInline var lowest: Double
    @usableFromInline var highest: Double

    /// The number of values with `|x| <` ``minIndexableValue``.
    @inlinable public var zeroCount: UInt64 { zeros }
    /// The smallest value added (`+infinity` when empty).
    @inlinable public var min: Double { lowest }
    /// The largest value added (`-infinity` when empty).
    @inlinable public var max: Double { highest }

    /// The default relative accuracy, 1 %.
    public static let defaultRelativeAccuracy = 0.01
    /// The default bucket limit per sign, 2048 (with α = 1 %: a dynamic range of about 10^17).
    public static let defaultMaxBuckets = 2048

    /// An empty sketch with relative accuracy `relativeAccuracy` (in (0, 1)) and at most `maxBuckets`
    /// buckets per sign.
    @inlinable
    public init(relativeAccuracy: Double = DDSketch.defaultRelativeAccuracy, maxBuckets: Int = DDSketch.defaultMaxBuckets) {
        precondition(relativeAccuracy > 0 && relativeAccuracy < 1, "relativeAccuracy must be in (0, 1)")
        precondition(maxBuckets >= 16, "maxBuckets must be at least 16")
        self.relativeAccuracy = relativeAccuracy
        self.maxBuckets = maxBuckets
        gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy)
        multiplier = 1 / Foundation.log(gamma)
        positive = DDSketchBuckets()
        negative = DDSketchBuckets()
        zeros = 0
        lowest = .infinity
        highest = -.infinity
    }

    /// The smallest magnitude that gets its own bucket: `γ · 2.2e-308` (smaller values count as 0).
    @inlinable public var minIndexableValue: Double { Double.leastNormalMagnitude * gamma }

    /// The number of values added.
    @inlinable public var count: UInt64 { positive.total &+ negative.total &+ zeros }
    /// Whether nothing was added.
    @inlinable public var isEmpty: Bool { count == 0 }

    @inlinable @inline(__always)
    func index(_ magnitude: Double) -> Int { Int(Foundation.ceil(Foundation.log(magnitude) * multiplier)) }

    @inlinable @inline(__always)
    func value(ofBucket index: Int) -> Double { Foundation.exp(Double(index) / multiplier) * (2 / (gamma + 1)) }

    /// Adds a value (NaN and ±infinity are ignored).
    @inlinable
    public mutating func add(_ x: Double) {
        guard x.isFinite else { return }
        if x < lowest { lowest = x }
        if x > highest { highest = x }
        let limit = minIndexableValue
        if x >= limit {
            positive.add(index: index(x), count: 1, maxBuckets: maxBuckets)
        } else if x <= -limit {
            negative.add(index: index(-x), count: 1, maxBuckets: maxBuckets)
        } else {
            zeros &+= 1
        }
    }

    /// Merges `other` (built with the same accuracy and bucket limit) into this sketch.
    @inlinable
    public mutating func merge(_ other: DDSketch) {
        precondition(other.relativeAccuracy == relativeAccuracy && other.maxBuckets == maxBuckets,
                     "cannot merge DDSketches with different parameters")
        if other.isEmpty { return }
        if isEmpty { self = other; return }
        positive.merge(other.positive, maxBuckets: maxBuckets)
        negative.merge(other.negative, maxBuckets: maxBuckets)
        zeros &+= other.zeros
        if other.lowest < lowest { lowest = other.lowest }
        if other.highest > highest { highest = other.highest }
    }

    /// The value of rank `⌊q·(n − 1)⌋` in the sorted input, within relative error `α` (numpy's
    /// `method="lower"`); NaN when the sketch is empty.
    public func quantile(_ q: Double) -> Double {
        precondition(q >= 0 && q <= 1, "quantile must be in [0, 1]")
        let n = count
        if n == 0 { return .nan }
        let rank = UInt64((q * Double(n - 1)).rounded(.down))
        var estimate: Double
        if rank < negative.total {
            // Negative values in ascending order: largest magnitude first.
            let i = negative.bucketIndex(ofRankFromTop: rank)
            estimate = -value(ofBucket: i)
        } else if rank < negative.total &+ zeroCount {
            estimate = 0
        } else {
            let i = positive.bucketIndex(ofRankFromBottom: rank - negative.total - zeroCount)
            estimate = value(ofBucket: i)
        }
        if estimate < min { estimate = min }
        if estimate > max { estimate = max }
        return estimate
    }

    /// Several quantiles (one pass per quantile; see ``quantile(_:)``).
    public func quantiles(_ qs: [Double]) -> [Double] { qs.map(quantile) }
}

/// The bucket counts of one sign of a ``DDSketch``: `counts[k]` is the count of bucket `offset + k`.
///
/// Equality ignores the zero padding: two stores are equal when their non-empty buckets are.
public struct DDSketchBuckets: Sendable, Hashable {
    @inlinable
    public static func == (a: DDSketchBuckets, b: DDSketchBuckets) -> Bool {
        guard a.total == b.total, a.collapsed == b.collapsed, a.nonEmptyRange == b.nonEmptyRange else { return false }
        guard let range = a.nonEmptyRange else { return true }
        return range.allSatisfy { a.counts[$0 - a.offset] == b.counts[$0 - b.offset] }
    }

    @inlinable
    public func hash(into hasher: inout Hasher) {
        hasher.combine(total)
        hasher.combine(nonEmptyRange?.lowerBound)
    }

    /// The bucket index of `counts[0]`.
    @usableFromInline var offset: Int
    /// Counts of consecutive buckets; may carry zero padding at either end to amortise growth.
    @usableFromInline var counts: [UInt64]
    /// The sum of `counts`.
    @usableFromInline var total: UInt64

    @inlinable init() { offset = 0; counts = []; total = 0 }

    /// Adds `count` to bucket `index`; indexes below a collapsed range go to its lowest bucket.
    @inlinable @inline(__always)
    mutating func add(index: Int, count: UInt64, maxBuckets: Int) {
        var k = index &- offset
        if k < 0 || k >= counts.count {
            if !(k < 0 && counts.count == maxBuckets && isCollapsedAtBottom) {
                cover(low: index, high: index, maxBuckets: maxBuckets)
            }
            k = Swift.max(index &- offset, 0)
        }
        counts.withUnsafeMutableBufferPointer { $0[k] &+= count }
        total &+= count
    }

    /// Set once the lowest bucket absorbed lower ones: later lower indexes also go there without
    /// reallocation.
    @inlinable var isCollapsedAtBottom: Bool { collapsed }
    @usableFromInline var collapsed: Bool = false

    /// The lowest and highest bucket index with a non-zero count.
    @inlinable var nonEmptyRange: ClosedRange<Int>? {
        guard let first = counts.firstIndex(where: { $0 != 0 }), let last = counts.lastIndex(where: { $0 != 0 }) else { return nil }
        return (offset + first)...(offset + last)
    }

    /// Reallocates so that `[low, high]` and every non-empty bucket are covered, collapsing the lowest
    /// buckets when that would exceed `maxBuckets`; pads on the side of growth so that a run of new
    /// extremes does not reallocate every time.
    @usableFromInline
    mutating func cover(low: Int, high: Int, maxBuckets: Int) {
        var lo = low, hi = high
        let existing = nonEmptyRange
        if let existing {
            lo = Swift.min(lo, existing.lowerBound)
            hi = Swift.max(hi, existing.upperBound)
        }
        if hi - lo + 1 > maxBuckets {
            lo = hi - maxBuckets + 1
            collapsed = true
        }
        let span = hi - lo + 1
        let padding = Swift.min(maxBuckets - span, Swift.max(8, span / 2))
        let growsLow = !collapsed && (existing.map { low < $0.lowerBound } ?? true)
        let growsHigh = existing.map { high > $0.upperBound } ?? true
        switch (growsLow, growsHigh) {
        case (true, true): lo -= padding / 2; hi += padding - padding / 2
        case (true, false): lo -= padding
        case (false, true): hi += padding
        case (false, false): break
        }
        var fresh = [UInt64](repeating: 0, count: hi - lo + 1)
        for (k, c) in counts.enumerated() where c != 0 {
            fresh[Swift.max(offset + k - lo, 0)] &+= c
        }
        counts = fresh
        offset = lo
    }

    /// Adds every bucket of `other`.
    @inlinable
    mutating func merge(_ other: DDSketchBuckets, maxBuckets: Int) {
        guard let range = other.nonEmptyRange else { return }
        if range.lowerBound < offset || range.upperBound >= offset + counts.count {
            if !(range.upperBound < offset + counts.count && counts.count == maxBuckets && collapsed) {
                cover(low: range.lowerBound, high: range.upperBound, maxBuckets: maxBuckets)
            }
        }
        if other.collapsed { collapsed = true }
        let base = other.offset - offset
        counts.withUnsafeMutableBufferPointer { mine in
            other.counts.withUnsafeBufferPointer { theirs in
                for k in 0 ..< theirs.count where theirs[k] != 0 {
                    mine[Swift.max(base + k, 0)] &+= theirs[k]
                }
            }
        }
        total &+= other.total
    }

    /// The bucket holding the element of 0-based `rank` counted from the lowest index.
    @usableFromInline
    func bucketIndex(ofRankFromBottom rank: UInt64) -> Int {
        var seen: UInt64 = 0
        for k in 0 ..< counts.count {
            seen &+= counts[k]
            if seen > rank { return offset + k }
        }
        return offset + counts.count - 1
    }

    /// The bucket holding the element of 0-based `rank` counted from the highest index.
    @usableFromInline
    func bucketIndex(ofRankFromTop rank: UInt64) -> Int {
        var seen: UInt64 = 0
        for k in stride(from: counts.count - 1, through: 0, by: -1) {
            seen &+= counts[k]
            if seen > rank { return offset + k }
        }
        return offset
    }

    /// Non-empty range: zigzag varint first index, varint length, then varint counts; `collapsed` flag.
    @inlinable
    func encode(to w: inout ByteWriter) {
        guard let range = nonEmptyRange else { w.writeVarUInt(0); return }
        w.writeVarUInt(UInt64(range.count))
        w.writeVarInt(Int64(range.lowerBound))
        w.writeBool(collapsed)
        for i in range { w.writeVarUInt(counts[i - offset]) }
    }

    @inlinable
    init(from r: inout ByteReader, maxBuckets: Int) throws {
        self.init()
        let n = try r.readCount()
        guard n > 0 else { return }
        guard n <= maxBuckets else { throw StreamKitError(.state, "DDSketch: \(n) buckets exceed the limit \(maxBuckets)") }
        let low = try r.readVarInt()
        guard abs(low) < 1 << 40 else { throw StreamKitError(.state, "DDSketch: bucket index \(low) out of range") }
        offset = Int(low)
        collapsed = try r.readBool()
        var c = [UInt64](); c.reserveCapacity(n)
        var sum: UInt64 = 0
        for _ in 0 ..< n { let v = try r.readVarUInt(); c.append(v); sum &+= v }
        counts = c
        total = sum
    }
}

extension DDSketch: StateCodable {
    /// Layout: α (double), max buckets (varint), zero count, min, max, then the negative and positive
    /// bucket ranges (see ``DDSketchBuckets``).
    @inlinable
    public func encode(to w: inout ByteWriter) {
        w.writeDouble(relativeAccuracy)
        w.writeVarUInt(UInt64(maxBuckets))
        w.writeVarUInt(zeroCount)
        w.writeDouble(min)
        w.writeDouble(max)
        negative.encode(to: &w)
        positive.encode(to: &w)
    }

    @inlinable
    public init(from r: inout ByteReader) throws {
        let alpha = try r.readDouble()
        guard alpha > 0 && alpha < 1 else { throw StreamKitError(.state, "DDSketch: bad relative accuracy \(alpha)") }
        let limit = try r.readCount()
        guard limit >= 16 && limit <= 1 << 24 else { throw StreamKitError(.state, "DDSketch: bad bucket limit \(limit)") }
        self.init(relativeAccuracy: alpha, maxBuckets: limit)
        zeros = try r.readVarUInt()
        lowest = try r.readDouble()
        highest = try r.readDouble()
        negative = try DDSketchBuckets(from: &r, maxBuckets: limit)
        positive = try DDSketchBuckets(from: &r, maxBuckets: limit)
    }
}
