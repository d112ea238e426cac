/// The identities of the last `capacity` events (64-bit hashes), for dropping exact duplicates
/// with bounded memory: inserting beyond the capacity forgets the oldest identity (FIFO).
///
/// An open-addressing table (linear probing, at most half full, backward-shift deletion) plus a
/// ring of the insertion order; both are allocated up front, so checking and inserting do not
/// allocate and cost one multiplicative hash (the identities are already hashes, so no SipHash).
/// Snapshots are stable across processes (the hashes are computed by the caller, e.g. with
/// ``RecentIdentities/hash(_:seed:)``).
public struct RecentIdentities: Sendable {
    public let capacity: Int
    /// Slots; 0 is empty (identity 0 is stored as 1).
    @usableFromInline var slots: [UInt64]
    @usableFromInline let mask: Int
    @usableFromInline let shift: UInt64
    /// Insertion order: `ring[next]` is the oldest once the ring is full.
    @usableFromInline var ring: [UInt64]
    @usableFromInline var next = 0
    @usableFromInline var stored = 0

    public init(capacity: Int) {
        precondition(capacity > 0, "RecentIdentities needs a positive capacity")
        self.capacity = capacity
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = Array(repeating: 0, count: size)
        mask = size - 1
        shift = UInt64(64 - size.trailingZeroBitCount)
        ring = []
        ring.reserveCapacity(capacity)
    }

    @inlinable func home(_ id: UInt64) -> Int { Int(truncatingIfNeeded: (id &* 0x9E37_79B9_7F4A_7C15) >> shift) }

    /// Remembers `id`; returns false if it was already among the recent identities (a duplicate).
    @inlinable
    public mutating func insert(_ identity: UInt64) -> Bool {
        let id = identity == 0 ? 1 : identity
        var i = home(id)
        while true {
            let s = slots[i]
            if s == id { return false }
            if s == 0 { break }
            i = (i &+ 1) & mask
        }
        slots[i] = id
        stored += 1
        if ring.count < capacity { ring.append(id) } else {
            remove(ring[next])
            ring[next] = id
            next = next + 1 == capacity ? 0 : next + 1
        }
        return true
    }

    /// Deletes `id` (present) and shifts the following run back so probes stay unbroken.
    @inlinable
    mutating func remove(_ id: UInt64) {
        var i = home(id)
        while slots[i] != id { i = (i &+ 1) & mask }
        var j = i
        while true {
            j = (j &+ 1) & mask
            let s = slots[j]
            if s == 0 { break }
            let k = home(s)
            // Move s back to the hole at i unless its home lies cyclically in (i, j].
            let homeInBetween = i <= j ? (i < k && k <= j) : (i < k || k <= j)
            if !homeInBetween { slots[i] = s; i = j }
        }
        slots[i] = 0
        stored -= 1
    }

    /// The number of identities remembered.
    public var count: Int { stored }

    /// FNV-1a over bytes: stable across processes (unlike `Hasher`), so snapshots can be restored.
    @inlinable
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
        var h = seed
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h
    }

    /// Writes the identities, oldest first.
    public func encode(to w: inout ByteWriter) {
        w.writeVarUInt(UInt64(ring.count))
        let start = ring.count < capacity ? 0 : next
        for i in 0..<ring.count { w.writeInteger(ring[(start + i) % ring.count]) }
    }

    /// Reads identities written by ``encode(to:)`` (keeping the newest `capacity`).
    public mutating func restore(from r: inout ByteReader) throws {
        let n = Int(try r.readVarUInt())
        for _ in 0..<n { _ = insert(try r.readInteger(UInt64.self)) }
    }
}
