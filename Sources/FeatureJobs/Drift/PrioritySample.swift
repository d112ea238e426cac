public import StreamKit
public import HeapModule

/// A uniform random sample of at most `capacity` values of a stream whose content does not depend
/// on the order the values arrive in (bottom-k, or priority, sampling): each value gets a
/// pseudo-random priority from a hash of the seed, its bits and its identity (e.g. its event
/// time), and the `capacity` values of lowest priority are kept. Used by ``DriftMonitor``, so that
/// its drift statistics are the same whichever way parallel upstream subtasks interleave (Vitter's
/// Algorithm R, ``Reservoir``, draws its replacements in arrival order).
///
/// Every value with a distinct (value, identity) pair is in the sample with probability
/// `min(1, capacity/n)`, and every `capacity`-subset is equally likely (the priorities are
/// i.i.d. uniform for a good hash). Values with the same bits and identity get the same
/// priority; they are interchangeable, so the sample's multiset of values is still
/// order-independent. ``merge(_:)`` is exact: the bottom `capacity` of the union.
///
/// ```swift
/// var s = PrioritySample(capacity: 2_048, seed: 7)
/// s.add(amount, identity: eventTimeMs)
/// let sorted = s.values.sorted()
/// ```
public struct PrioritySample: Sendable, StateCodable {
    @usableFromInline
    struct Entry: Comparable, Sendable {
        @usableFromInline var priority: UInt64
        @usableFromInline var value: Double
        @inlinable init(priority: UInt64, value: Double) { self.priority = priority; self.value = value }
        @inlinable static func < (a: Self, b: Self) -> Bool {
            a.priority != b.priority ? a.priority < b.priority : a.value.bitPattern < b.value.bitPattern
        }
        @inlinable static func == (a: Self, b: Self) -> Bool { a.priority == b.priority && a.value.bitPattern == b.value.bitPattern }
    }

    /// Most values kept.
    public let capacity: Int
    public let seed: UInt64
    /// Number of values offered so far.
    public var seen: Int64 { _seen }
    @usableFromInline var _seen: Int64 = 0
    @usableFromInline var heap = Heap<Entry>()

    public init(capacity: Int, seed: UInt64) {
        precondition(capacity >= 1, "sample capacity must be at least 1")
        self.capacity = capacity; self.seed = seed
    }

    /// The sample (in no particular order; at most ``capacity`` values).
    public var values: [Double] { heap.unordered.map(\.value) }

    /// SplitMix64's finalizer: a bijective 64-bit mix.
    @inlinable static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Offers one value with its identity (NaN is ignored).
    @inlinable
    public mutating func add(_ x: Double, identity: Int64) {
        if x.isNaN { return }
        _seen += 1
        let p = Self.mix(seed ^ Self.mix(x.bitPattern ^ Self.mix(UInt64(bitPattern: identity))))
        offer(Entry(priority: p, value: x))
    }

    @inlinable
    mutating func offer(_ e: Entry) {
        if heap.count < capacity { heap.insert(e); return }
        if e < heap.max! { _ = heap.replaceMax(with: e) }
    }

    /// Merges `other` (drawn with the same seed) so that this is the sample of both streams.
    public mutating func merge(_ other: PrioritySample) {
        for e in other.heap.unordered { offer(e) }
        _seen += other.seen
    }

    /// Capacity, seed, count seen, then each kept value with its priority.
    public func encode(to w: inout ByteWriter) {
        w.writeVarInt(Int64(capacity)); w.writeVarUInt(seed); w.writeVarInt(seen)
        w.writeVarUInt(UInt64(heap.count))
        for e in heap.unordered { w.writeVarUInt(e.priority); w.writeDouble(e.value) }
    }

    public init(from r: inout ByteReader) throws {
        let cap = try r.readVarInt()
        guard cap >= 1, let c = Int(exactly: cap) else { throw StreamKitError(.state, "invalid sample capacity \(cap)") }
        capacity = c
        seed = try r.readVarUInt()
        _seen = try r.readVarInt()
        let n = try r.readCount()
        guard n <= c else { throw StreamKitError(.state, "sample holds \(n) values but its capacity is \(c)") }
        var entries: [Entry] = []
        entries.reserveCapacity(n)
        for _ in 0..<n { entries.append(Entry(priority: try r.readVarUInt(), value: try r.readDouble())) }
        heap = Heap(entries)
    }
}
