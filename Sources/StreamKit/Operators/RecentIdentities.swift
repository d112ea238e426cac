/// The identities of the last `capacity` events (64-bit hashes), for dropping exact duplicates
/// with bounded memory: inserting beyond the capacity forgets the oldest identity (FIFO). Storage
/// is reserved up front, so checking and inserting do not allocate. Snapshots are stable across
/// processes (the hashes are computed by the caller, e.g. ``RecentIdentities/hash(_:)``).
public struct RecentIdentities: Sendable {
    public let capacity: Int
    @usableFromInline var members: Set<UInt64>
    @usableFromInline var ring: [UInt64]
    @usableFromInline var next = 0

    public init(capacity: Int) {
        precondition(capacity > 0, "RecentIdentities needs a positive capacity")
        self.capacity = capacity
        members = Set(minimumCapacity: capacity)
        ring = []
        ring.reserveCapacity(capacity)
    }

    /// Remembers `id`; returns false if it was already among the recent identities (a duplicate).
    @inlinable
    public mutating func insert(_ id: UInt64) -> Bool {
        guard members.insert(id).inserted else { return false }
        if ring.count < capacity { ring.append(id) } else {
            members.remove(ring[next])
            ring[next] = id
            next = next + 1 == capacity ? 0 : next + 1
        }
        return true
    }

    /// The number of identities remembered.
    public var count: Int { members.count }

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
