public import StreamKit
public import Glibc

/// A uniform random sample of at most `capacity` values of a stream (Vitter's Algorithm R),
/// deterministic for a given seed and input order. Used by ``DriftMonitor`` to bound the memory
/// of the exact two-sample Kolmogorov–Smirnov test.
///
/// **Algorithm R.** The first `capacity` values are kept; the i-th value (1-based, i > capacity)
/// replaces a uniformly chosen slot `j ∈ [0, i)` when `j < capacity`, i.e. with probability
/// `capacity / i`. After `n` values every value is in the sample with probability `min(1, capacity/n)`.
///
/// **Merge** (for window panes) is exact: the merged sample is a uniform `capacity`-subset of the
/// union of both streams. The number taken from `a` is drawn as the hypergeometric number of
/// `a`-items among `capacity` draws without replacement from `nₐ + n_b` items (one draw at a time:
/// pick side `a` with probability `remainingₐ / remaining`); that many items are then chosen
/// uniformly from each side's sample. Reservoirs of different capacities merge into at most the
/// smaller capacity. Randomness comes from the receiving reservoir's generator.
///
/// **Size.** The KS statistic of a sample of size `k` differs from the full-data one by
/// O(1/√k); the default of 2 048 (``DriftMonitor/Configuration/reservoirCapacity``) keeps that
/// error around 0.02 while costing 16 KiB of state per key and window.
public struct Reservoir: Sendable, Hashable, StateCodable {
    /// Most values kept.
    public let capacity: Int
    /// The sample (in no particular order; at most ``capacity`` values).
    public private(set) var values: [Double] = []
    /// Number of values offered so far.
    public private(set) var seen: Int64 = 0
    @usableFromInline var rng: SplitMix64

    public init(capacity: Int, seed: UInt64) {
        precondition(capacity >= 1, "reservoir capacity must be at least 1")
        self.capacity = capacity
        self.rng = SplitMix64(seed: seed)
    }

    /// Offers one value (NaN is ignored).
    public mutating func add(_ x: Double) {
        if x.isNaN { return }
        seen += 1
        if values.count < capacity { values.append(x); return }
        let j = rng.next() % UInt64(seen)
        if j < UInt64(capacity) { values[Int(j)] = x }
    }

    /// Merges `other` so that this becomes a uniform sample of both streams (see the type's documentation).
    public mutating func merge(_ other: Reservoir) {
        if other.seen == 0 { return }
        if seen == 0 {
            values = other.values.count > capacity ? Self.choose(capacity, from: other.values, rng: &rng) : other.values
            seen = other.seen
            return
        }
        let total = seen + other.seen
        // Capped by the smaller capacity so that both samples can supply their share.
        let k = Int(Swift.min(Int64(Swift.min(capacity, other.capacity)), total))
        var remA = seen, remAll = total, takeA = 0
        for _ in 0..<k {
            if rng.next() % UInt64(remAll) < UInt64(remA) { takeA += 1; remA -= 1 }
            remAll -= 1
        }
        let fromA = Self.choose(takeA, from: values, rng: &rng)
        let fromB = Self.choose(k - takeA, from: other.values, rng: &rng)
        values = fromA + fromB
        seen = total
    }

    /// `k` items chosen uniformly without replacement (partial Fisher–Yates).
    static func choose(_ k: Int, from items: [Double], rng: inout SplitMix64) -> [Double] {
        precondition(k <= items.count)
        var a = items
        for i in 0..<k {
            let j = i + Int(rng.next() % UInt64(a.count - i))
            a.swapAt(i, j)
        }
        return Array(a.prefix(k))
    }

    public func encode(to w: inout ByteWriter) {
        w.writeVarInt(Int64(capacity)); w.writeVarInt(seen); rng.encode(to: &w)
        w.writeVarUInt(UInt64(values.count))
        for v in values { w.writeDouble(v) }
    }

    public init(from r: inout ByteReader) throws {
        let cap = try r.readVarInt()
        guard cap >= 1, let c = Int(exactly: cap) else { throw StreamKitError(.state, "invalid reservoir capacity \(cap)") }
        capacity = c
        seen = try r.readVarInt()
        rng = try SplitMix64(from: &r)
        let n = try r.readCount()
        guard n <= c else { throw StreamKitError(.state, "reservoir holds \(n) values but its capacity is \(c)") }
        values.reserveCapacity(n)
        for _ in 0..<n { values.append(try r.readDouble()) }
    }
}
