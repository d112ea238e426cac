/// The hashing trick (Weinberger et al., 2009): categorical features are mapped to indices of a
/// fixed-dimension weight vector by a hash of (field, value), so a model needs no vocabulary and
/// its state has a fixed size whatever the number of merchants, users or countries it sees.
///
/// The first ``numericSlots`` indices are reserved (by convention index 0 is the bias and the
/// numeric features follow in a fixed order), so numeric features never collide; hashed
/// categorical features land in `numericSlots ..< dimension`. Two (field, value) pairs may
/// share an index (a collision): with `2^18` slots and a few thousand live values that is rare,
/// and a linear model degrades gracefully when it happens.
///
/// The hash is a 64-bit mix (SplitMix64's finalizer) of the field id and the value, stable
/// across processes and platforms, so a checkpointed model keeps meaning the same thing.
///
/// ```swift
/// let hasher = FeatureHasher(bits: 18, numericSlots: 4)
/// let merchant = FeatureHasher.fieldID("merchant")      // once, outside the hot path
/// x.append(hasher.index(field: merchant, value: UInt64(merchantId)), 1)
/// ```
@frozen
public struct FeatureHasher: Sendable, Hashable {
    /// Number of weights, a power of two.
    public let dimension: Int
    /// Reserved leading indices (bias and numeric features).
    public let numericSlots: Int
    @usableFromInline let hashedSlots: UInt64

    /// A hasher into `2^bits` indices, the first `numericSlots` reserved.
    public init(bits: Int, numericSlots: Int) {
        precondition(bits >= 4 && bits <= 30, "bits must be in 4...30")
        precondition(numericSlots >= 0 && numericSlots < (1 << bits) / 2, "numericSlots must leave room for hashed features")
        dimension = 1 << bits; self.numericSlots = numericSlots; hashedSlots = UInt64(dimension - numericSlots)
    }

    /// A stable 64-bit id of a field name (FNV-1a), computed once per field outside the hot path.
    public static func fieldID(_ name: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return mix(h)
    }

    /// The index of categorical value `value` of field `field`.
    @inlinable
    public func index(field: UInt64, value: UInt64) -> UInt32 {
        let h = Self.mix(field ^ Self.mix(value &+ 0x9E37_79B9_7F4A_7C15))
        return UInt32(truncatingIfNeeded: UInt64(numericSlots) + h % hashedSlots)
    }

    /// The index of categorical string value `value` of field `field` (no allocation: the UTF-8
    /// bytes are hashed in place for native strings).
    @inlinable
    public func index(field: UInt64, value: String) -> UInt32 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in value.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return index(field: field, value: h)
    }

    /// SplitMix64's finalizer (public: other stable hashes of the module reuse it).
    @inlinable
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
