public import StreamKit
public import Glibc

/// A mergeable HyperLogLog distinct-count sketch (Flajolet et al. 2007) with a sparse mode for small
/// sets and Ertl's improved estimator.
///
/// **Hashing.** Items are hashed to 64 bits with ``HyperLogLog/hash(_:)``, a SplitMix64 finaliser
/// applied to the item's ``StreamKey/stableHash``. The extra mixing keeps the sketch independent of the
/// key-group routing (which uses `stableHash` directly), so the sketch is also accurate when a stream
/// is keyed by the very items it counts. Both steps are stable across processes, so sketches written
/// to a checkpoint by one process merge correctly with sketches built by another.
///
/// **Dense mode.** `m = 2^p` registers of one byte each; register `j = h >> (64 - p)` keeps the maximum
/// of `rho(h) = 1 + leadingZeros(h << p)` (at most `64 - p + 1`). The cardinality estimate is Ertl's
/// improved raw estimator ("New cardinality estimation algorithms for HyperLogLog sketches", 2017):
///
///     E = m² / (2·ln 2 · (m·σ(C₀/m) + Σₖ Cₖ·2^-k  +  m·τ(1 − C_{q+1}/m)·2^-q))
///
/// where `Cₖ` counts registers equal to `k` and `q = 64 - p`. For sparsely hit registers the σ term
/// makes this coincide with linear counting, `m·ln(m/V)` with `V = C₀` empty registers (the
/// small-range correction), and unlike the classic estimator it has no bias bump where the classic one
/// switches from linear counting to the raw estimate (around `2.5·m`), so no empirical bias tables are
/// needed. A 64-bit hash makes a large-range correction unnecessary.
///
/// **Error bound.** The relative standard error is `1.04 / sqrt(m)`: 0.81 % at the default `p = 14`
/// (16 KiB of registers), 1.63 % at `p = 12`, 3.25 % at `p = 10`.
///
/// **Sparse mode.** A window keeps one sketch per pane (per key and per slide), and most panes of a
/// per-user per-minute feature see a handful of items. So a sketch starts *sparse*: a sorted array of
/// the distinct 64-bit hashes (8 bytes each), whose count is the estimate — exact up to 64-bit hash
/// collisions (probability about `n²/2⁶⁵`). When it would exceed ``sparseLimit`` hashes (`m / 8`,
/// where both forms take the same memory) it converts to dense registers. An empty sketch allocates
/// nothing.
///
/// Merging (`max` of registers, union of hash sets) is associative and commutative, and merging a
/// sketch built from any split of the input gives exactly the sketch of the whole input.
///
/// ```swift
/// var hll = HyperLogLog(precision: 14)
/// for user in users { hll.insert(user) }   // user: Int64 or String
/// let approx = hll.cardinality
/// ```
public struct HyperLogLog: Sendable, Hashable {
    /// `p`: the sketch has `2^p` registers. Range 4...18.
    public let precision: Int
    /// The sorted distinct hashes while sparse; empty once dense.
    @usableFromInline var sparse: [UInt64]
    /// The `2^p` registers once dense; empty while sparse.
    @usableFromInline var registers: [UInt8]

    /// The default precision, 14 (16384 registers, standard error 0.81 %).
    public static let defaultPrecision = 14

    /// An empty sketch with `2^precision` registers (`precision` in 4...18).
    @inlinable
    public init(precision: Int = HyperLogLog.defaultPrecision) {
        precondition((4...18).contains(precision), "HyperLogLog precision must be in 4...18, got \(precision)")
        self.precision = precision
        sparse = []
        registers = []
    }

    /// The number of registers `m = 2^p`.
    @inlinable public var registerCount: Int { 1 << precision }
    /// The largest number of hashes kept in sparse mode: `m / 8`, the point where the sorted hash
    /// array takes as much memory as the registers.
    @inlinable public var sparseLimit: Int { Swift.max(1, registerCount >> 3) }
    /// Whether the sketch holds registers (otherwise it holds the exact set of hashes).
    @inlinable public var isDense: Bool { !registers.isEmpty }
    /// Whether nothing was inserted.
    @inlinable public var isEmpty: Bool { sparse.isEmpty && registers.isEmpty }
    /// The relative standard error of the dense estimate, `1.04 / sqrt(2^p)`.
    @inlinable public var standardError: Double { 1.04 / Double(registerCount).squareRoot() }

    /// The 64-bit hash the sketch uses for an item: SplitMix64's finaliser over its stable hash.
    @inlinable @inline(__always)
    public static func hash<Item: StreamKey>(_ item: Item) -> UInt64 { mixHash(item.stableHash) }

    /// SplitMix64's finaliser (a bijection on 64-bit values, so distinct integer items never collide).
    @inlinable @inline(__always)
    public static func mixHash(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// Adds an item (`Int64`, `String`, any ``StreamKey``).
    @inlinable
    public mutating func insert<Item: StreamKey>(_ item: Item) { insert(hash: Self.hash(item)) }

    /// Adds an item by its 64-bit hash (which must be well mixed, e.g. from ``hash(_:)``).
    @inlinable
    public mutating func insert(hash h: UInt64) {
        if !registers.isEmpty {
            updateRegister(h)
            return
        }
        // Binary search for the insertion point in the sorted hash array.
        var lo = 0, hi = sparse.count
        while lo < hi {
            let mid = (lo &+ hi) >> 1
            if sparse[mid] < h { lo = mid &+ 1 } else { hi = mid }
        }
        if lo < sparse.count && sparse[lo] == h { return }
        if sparse.count >= sparseLimit {
            densify()
            updateRegister(h)
        } else {
            sparse.insert(h, at: lo)
        }
    }

    @inlinable @inline(__always)
    mutating func updateRegister(_ h: UInt64) {
        let p = precision
        let index = Int(truncatingIfNeeded: h >> UInt64(64 - p))
        let rho = UInt8(truncatingIfNeeded: Swift.min((h << UInt64(p)).leadingZeroBitCount, 64 - p) + 1)
        registers.withUnsafeMutableBufferPointer { r in
            if rho > r[index] { r[index] = rho }
        }
    }

    /// Converts the sparse hash set into registers.
    @usableFromInline
    mutating func densify() {
        guard registers.isEmpty else { return }
        registers = [UInt8](repeating: 0, count: registerCount)
        for h in sparse { updateRegister(h) }
        sparse = []
    }

    /// Merges `other` (built with the same precision) into this sketch: the union of the inputs.
    @inlinable
    public mutating func merge(_ other: HyperLogLog) {
        precondition(other.precision == precision, "cannot merge HyperLogLog sketches of precision \(other.precision) and \(precision)")
        if other.isEmpty { return }
        if isEmpty { self = other; return }
        if !other.registers.isEmpty {
            if registers.isEmpty {
                let mine = sparse
                registers = other.registers
                sparse = []
                for h in mine { updateRegister(h) }
            } else {
                registers.withUnsafeMutableBufferPointer { a in
                    other.registers.withUnsafeBufferPointer { b in
                        // Branch-free so that it vectorises (16 KiB at p = 14).
                        for i in 0 ..< a.count { a[i] = Swift.max(a[i], b[i]) }
                    }
                }
            }
        } else if !registers.isEmpty {
            for h in other.sparse { updateRegister(h) }
        } else {
            mergeSparse(other.sparse)
        }
    }

    /// Union of two sorted hash sets; densifies when the union exceeds the sparse limit.
    @usableFromInline
    mutating func mergeSparse(_ b: [UInt64]) {
        let a = sparse
        let union = [UInt64](unsafeUninitializedCapacity: a.count + b.count) { out, count in
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    var i = 0, j = 0, n = 0
                    while i < pa.count && j < pb.count {
                        let x = pa[i], y = pb[j]
                        if x < y { out[n] = x; i += 1 } else if y < x { out[n] = y; j += 1 } else { out[n] = x; i += 1; j += 1 }
                        n += 1
                    }
                    while i < pa.count { out[n] = pa[i]; i += 1; n += 1 }
                    while j < pb.count { out[n] = pb[j]; j += 1; n += 1 }
                    count = n
                }
            }
        }
        if union.count > sparseLimit {
            sparse = []
            registers = [UInt8](repeating: 0, count: registerCount)
            for h in union { updateRegister(h) }
        } else {
            sparse = union
        }
    }

    /// The estimated number of distinct items: exact (the hash count) while sparse, otherwise Ertl's
    /// improved estimator with relative standard error `1.04 / sqrt(m)`.
    public var cardinality: Double {
        if registers.isEmpty { return Double(sparse.count) }
        let m = registerCount
        let q = 64 - precision
        var histogram = [Int](repeating: 0, count: q + 2)
        registers.withUnsafeBufferPointer { r in
            for v in r { histogram[Int(v)] += 1 }
        }
        let md = Double(m)
        var z = md * Self.tau(1 - Double(histogram[q + 1]) / md)
        for k in stride(from: q, through: 1, by: -1) {
            z = 0.5 * (z + Double(histogram[k]))
        }
        z += md * Self.sigma(Double(histogram[0]) / md)
        return md * md / (2 * 0.693_147_180_559_945_3 * z)   // alpha_inf = 1 / (2 ln 2)
    }

    /// Ertl's σ(x) = x + Σ_{k≥1} x^(2^k)·2^(k-1).
    @usableFromInline
    static func sigma(_ x0: Double) -> Double {
        if x0 == 1 { return .infinity }
        var x = x0, y = 1.0, z = x0
        while true {
            x *= x
            let previous = z
            z += x * y
            y += y
            if z == previous { return z }
        }
    }

    /// Ertl's τ(x) = (1 − x − Σ_{k≥1} (1 − x^(2^-k))²·2^-k) / 3.
    @usableFromInline
    static func tau(_ x0: Double) -> Double {
        if x0 == 0 || x0 == 1 { return 0 }
        var x = x0, y = 1.0, z = 1 - x0
        while true {
            x = x.squareRoot()
            let previous = z
            y *= 0.5
            z -= (1 - x) * (1 - x) * y
            if z == previous { return z / 3 }
        }
    }
}

extension HyperLogLog: StateCodable {
    /// Layout: precision (1 byte), mode (0 sparse, 1 dense); sparse: varint count, then the sorted
    /// hashes as 8-byte little-endian integers; dense: the `2^p` register bytes (length-prefixed).
    @inlinable
    public func encode(to w: inout ByteWriter) {
        w.writeUInt8(UInt8(precision))
        if registers.isEmpty {
            w.writeUInt8(0)
            w.writeVarUInt(UInt64(sparse.count))
            sparse.withUnsafeBytes { raw in
                // Hashes are stored little-endian; on big-endian hosts convert one by one.
                if UInt64(1).littleEndian == 1 { w.writeRawBytes(raw) } else { for h in sparse { w.writeInteger(h) } }
            }
        } else {
            w.writeUInt8(1)
            w.writeBytes(registers)
        }
    }

    @inlinable
    public init(from r: inout ByteReader) throws {
        let p = Int(try r.readUInt8())
        guard (4...18).contains(p) else { throw StreamKitError(.state, "HyperLogLog: bad precision \(p)") }
        self.init(precision: p)
        switch try r.readUInt8() {
        case 0:
            let n = try r.readCount()
            guard n <= sparseLimit else { throw StreamKitError(.state, "HyperLogLog: \(n) sparse hashes exceed the limit \(sparseLimit)") }
            var hashes: [UInt64] = []
            hashes.reserveCapacity(n)
            for i in 0 ..< n {
                let h: UInt64 = try r.readInteger()
                guard i == 0 || h > hashes[i - 1] else { throw StreamKitError(.state, "HyperLogLog: sparse hashes not strictly sorted") }
                hashes.append(h)
            }
            sparse = hashes
        case 1:
            let bytes = try r.readBytes()
            guard bytes.count == registerCount else {
                throw StreamKitError(.state, "HyperLogLog: \(bytes.count) registers, expected \(registerCount)")
            }
            let maxRho = UInt8(64 - p + 1)
            guard bytes.allSatisfy({ $0 <= maxRho }) else { throw StreamKitError(.state, "HyperLogLog: register value out of range") }
            registers = bytes
        case let mode:
            throw StreamKitError(.state, "HyperLogLog: unknown mode \(mode)")
        }
    }
}
