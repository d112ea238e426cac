/// SplitMix64 (Steele, Lea & Flood 2014), as specified by `WORKLOAD.md`: a tiny, fast, seedable
/// generator with 64-bit wrap-around arithmetic, whose whole state is one `UInt64` — so it can be
/// checkpointed with what it drives (e.g. a reservoir sample) and a restored job makes the same choices.
public struct SplitMix64: RandomNumberGenerator, Sendable, Hashable, StateCodable {
    /// The internal state, advanced by the golden-ratio increment on every draw.
    public var state: UInt64

    /// Creates a generator whose first draw is derived from `seed`.
    @inlinable public init(seed: UInt64) { state = seed }

    /// The next 64 pseudo-random bits.
    @inlinable
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inlinable public func encode(to w: inout ByteWriter) { w.writeInteger(state) }
    @inlinable public init(from r: inout ByteReader) throws { state = try r.readInteger(UInt64.self) }
}
