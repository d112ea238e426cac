public import CStreamKitShims

/// An open-addressing hash map from (key slot, pane index) to an accumulator, with linear probing
/// and backward-shift deletion. Integer keys with a multiplicative hash: no SipHash, no per-entry
/// allocation, accumulators stored inline in one array.
@usableFromInline
struct PaneMap<Acc> {
    @usableFromInline var slots: [Int32]      // -1: empty
    @usableFromInline var panes: [Int64]
    @usableFromInline var accs: [Acc]
    @usableFromInline var count = 0
    @usableFromInline var mask: Int
    @usableFromInline let empty: Acc

    @inlinable init(empty: Acc, capacity: Int = 1024) {
        var cap = 16
        while cap < capacity * 2 { cap <<= 1 }
        slots = Array(repeating: -1, count: cap)
        panes = Array(repeating: 0, count: cap)
        accs = Array(repeating: empty, count: cap)
        mask = cap - 1
        self.empty = empty
    }

    @inlinable @inline(__always)
    static func hash(_ slot: Int32, _ pane: Int64) -> Int {
        var h = UInt64(UInt32(bitPattern: slot)) &* 0x9E3779B97F4A7C15
        h ^= UInt64(bitPattern: pane) &* 0xC2B2AE3D27D4EB4F
        h ^= h >> 29
        return Int(truncatingIfNeeded: h)
    }

    /// Index of the entry, or -1.
    @inlinable @inline(__always)
    func find(_ slot: Int32, _ pane: Int64) -> Int {
        var i = Self.hash(slot, pane) & mask
        while true {
            let s = slots[i]
            if s == -1 { return -1 }
            if s == slot && panes[i] == pane { return i }
            i = (i &+ 1) & mask
        }
    }

    /// Index of the entry, inserting an empty accumulator if absent; `inserted` tells which.
    @inlinable @inline(__always)
    mutating func findOrInsert(_ slot: Int32, _ pane: Int64) -> (index: Int, inserted: Bool) {
        if count * 2 >= slots.count { grow() }
        var i = Self.hash(slot, pane) & mask
        while true {
            let s = slots[i]
            if s == -1 {
                slots[i] = slot; panes[i] = pane; accs[i] = empty; count += 1
                return (i, true)
            }
            if s == slot && panes[i] == pane { return (i, false) }
            i = (i &+ 1) & mask
        }
    }

    @inlinable
    mutating func remove(_ slot: Int32, _ pane: Int64) {
        var i = find(slot, pane)
        if i < 0 { return }
        count -= 1
        // Backward-shift deletion keeps probe sequences intact without tombstones.
        var j = i
        while true {
            j = (j &+ 1) & mask
            if slots[j] == -1 { break }
            let home = Self.hash(slots[j], panes[j]) & mask
            // Move j into the hole at i if its home is not in (i, j] cyclically.
            let inRange = i <= j ? (home > i && home <= j) : (home > i || home <= j)
            if !inRange {
                slots[i] = slots[j]; panes[i] = panes[j]; accs[i] = accs[j]
                i = j
            }
        }
        slots[i] = -1
        accs[i] = empty
    }

    @inlinable
    mutating func grow() {
        let oldSlots = slots, oldPanes = panes, oldAccs = accs
        let cap = slots.count * 2
        slots = Array(repeating: -1, count: cap)
        panes = Array(repeating: 0, count: cap)
        accs = Array(repeating: empty, count: cap)
        mask = cap - 1
        count = 0
        for i in 0..<oldSlots.count where oldSlots[i] != -1 {
            let (j, _) = findOrInsert(oldSlots[i], oldPanes[i])
            accs[j] = oldAccs[i]
        }
    }
}

/// An open-addressing index from a key's stable hash to its slot (keys themselves live in the
/// operator's slot array). Avoids SipHash: ``StreamKey/stableHash`` is already well mixed.
@usableFromInline
struct KeySlotIndex {
    @usableFromInline var hashes: [UInt64]
    @usableFromInline var slots: [Int32]     // -1: empty
    @usableFromInline var mask: Int
    @usableFromInline var count = 0

    @inlinable init(capacity: Int = 1024) {
        var cap = 16
        while cap < capacity * 2 { cap <<= 1 }
        hashes = Array(repeating: 0, count: cap); slots = Array(repeating: -1, count: cap); mask = cap - 1
    }

    /// The slot of the key with hash `h` for which `matches(slot)` holds, or -1 (and the free position).
    @inlinable @inline(__always)
    func find(_ h: UInt64, _ matches: (Int32) -> Bool) -> (slot: Int32, position: Int) {
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let s = slots[i]
            if s == -1 { return (-1, i) }
            if hashes[i] == h && matches(s) { return (s, i) }
            i = (i &+ 1) & mask
        }
    }

    @inlinable @inline(__always)
    mutating func insert(_ h: UInt64, slot: Int32, at position: Int) {
        hashes[position] = h; slots[position] = slot; count += 1
        if count * 2 > slots.count { grow() }
    }

    @inlinable
    mutating func grow() {
        let oldH = hashes, oldS = slots
        let cap = slots.count * 2
        hashes = Array(repeating: 0, count: cap); slots = Array(repeating: -1, count: cap); mask = cap - 1
        for i in 0..<oldS.count where oldS[i] != -1 {
            var j = Int(truncatingIfNeeded: oldH[i]) & mask
            while slots[j] != -1 { j = (j &+ 1) & mask }
            hashes[j] = oldH[i]; slots[j] = oldS[i]
        }
    }

    /// Read-only probe (no insertion): the slot of hash `h` if present, else -1. Used to prefetch.
    @inlinable @inline(__always)
    func peek(_ h: UInt64) -> Int32 {
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let s = slots[i]
            if s == -1 || hashes[i] == h { return s }
            i = (i &+ 1) & mask
        }
    }

    /// Prefetches the bucket of hash `h`.
    @inlinable @inline(__always)
    func prefetch(_ h: UInt64) {
        let i = Int(truncatingIfNeeded: h) & mask
        slots.withUnsafeBufferPointer { streamkit_prefetch($0.baseAddress! + i) }
        hashes.withUnsafeBufferPointer { streamkit_prefetch($0.baseAddress! + i) }
    }

    /// Removes the entry for `slot` (whose key hash is `h`).
    @inlinable
    mutating func remove(_ h: UInt64, slot: Int32) {
        var i = Int(truncatingIfNeeded: h) & mask
        while slots[i] != slot {
            if slots[i] == -1 { return }
            i = (i &+ 1) & mask
        }
        count -= 1
        var j = i
        while true {
            j = (j &+ 1) & mask
            if slots[j] == -1 { break }
            let home = Int(truncatingIfNeeded: hashes[j]) & mask
            let inRange = i <= j ? (home > i && home <= j) : (home > i || home <= j)
            if !inRange { hashes[i] = hashes[j]; slots[i] = slots[j]; i = j }
        }
        slots[i] = -1
    }
}
