/// A key a stream can be partitioned by.
///
/// Keys need a *stable* hash (the same in every process and every run), because the key group of a
/// key decides which subtask owns its state, and checkpoints are restored by key group, possibly
/// with a different parallelism. Swift's `hashValue` is randomly seeded per process, so it is not used.
public protocol StreamKey: Hashable, Sendable, StateCodable {
    /// A hash of the key that never changes between processes, runs or machines.
    var stableHash: UInt64 { get }
    /// True when equal stable hashes imply equal keys (integer keys: the mixer is a bijection), so
    /// hash tables can skip comparing keys.
    static var stableHashIsInjective: Bool { get }
}

extension StreamKey {
    @inlinable public static var stableHashIsInjective: Bool { false }
}

@usableFromInline
@inline(__always)
func mix64(_ x: UInt64) -> UInt64 {
    // The finaliser of MurmurHash3/SplitMix64: spreads every input bit over the output.
    var z = x
    z = (z ^ (z >> 33)) &* 0xff51afd7ed558ccd
    z = (z ^ (z >> 33)) &* 0xc4ceb9fe1a85ec53
    return z ^ (z >> 33)
}

extension Int: StreamKey { @inlinable public static var stableHashIsInjective: Bool { true }; @inlinable public var stableHash: UInt64 { mix64(UInt64(bitPattern: Int64(self))) } }
extension Int64: StreamKey { @inlinable public static var stableHashIsInjective: Bool { true }; @inlinable public var stableHash: UInt64 { mix64(UInt64(bitPattern: self)) } }
extension Int32: StreamKey { @inlinable public static var stableHashIsInjective: Bool { true }; @inlinable public var stableHash: UInt64 { mix64(UInt64(bitPattern: Int64(self))) } }
extension UInt64: StreamKey { @inlinable public static var stableHashIsInjective: Bool { true }; @inlinable public var stableHash: UInt64 { mix64(self) } }
extension String: StreamKey {
    /// FNV-1a over the UTF-8 bytes, finalised with a mixer.
    @inlinable public var stableHash: UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        var copy = self
        copy.withUTF8 { buf in
            for b in buf { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        }
        return mix64(h)
    }
}

/// Key groups: the unit in which keyed state is stored, checkpointed and redistributed.
///
/// `keyGroup = stableHash(key) % maxParallelism`; subtask `i` of `p` owns the contiguous range of
/// key groups `[i * maxParallelism / p, (i+1) * maxParallelism / p)` (Flink's assignment), so a job
/// restored with another parallelism reads exactly the key groups it now owns.
public struct KeyGroups: Sendable, Hashable {
    public let maxParallelism: Int
    @inlinable public init(maxParallelism: Int = 128) {
        precondition(maxParallelism > 0 && maxParallelism <= 32768, "maxParallelism must be in 1...32768")
        self.maxParallelism = maxParallelism
    }
    @inlinable public func keyGroup<K: StreamKey>(of key: K) -> Int {
        Int(key.stableHash % UInt64(maxParallelism))
    }
    /// The subtask owning `keyGroup` when the operator runs with `parallelism` subtasks.
    @inlinable public func subtask(ofKeyGroup keyGroup: Int, parallelism: Int) -> Int {
        keyGroup * parallelism / maxParallelism
    }
    /// The key groups owned by `subtask` of `parallelism`.
    @inlinable public func range(ofSubtask subtask: Int, parallelism: Int) -> Range<Int> {
        let start = (subtask * maxParallelism + parallelism - 1) / parallelism
        let end = ((subtask + 1) * maxParallelism + parallelism - 1) / parallelism
        return start..<end
    }
}
