public import HeapModule
public import CStreamKitShims

/// Tumbling and sliding event-time windows with pane (slice) sharing.
///
/// Time is cut into panes of `gcd(size, slide)`; each record updates one accumulator — the one of
/// its (key, pane) — and a window is the merge of its panes when it fires, so a 1-hour window
/// sliding by one minute touches each record once. A window `[s, e)` fires once the watermark
/// reaches `e - 1`. With allowed lateness, a record for a fired window that is not yet expired
/// (`e - 1 + lateness > watermark`) updates the window and re-fires it for its key; a record whose
/// windows are all expired goes to the side output (late data) and is counted.
///
/// Layout: each live key has an integer slot (one hash lookup per record); accumulators live in a
/// flat open-addressing map keyed by (slot, pane); each pane lists the slots that have data in it,
/// so firing a window walks those lists and merges without hashing keys. A key's slot is freed
/// when its last pane expires, so state stays bounded by the live keys.
public struct SlicingWindowOperator<Key: StreamKey, Input: Sendable, Agg: AggregateFunction>: StreamOperator
where Agg.Input == Input {
    public typealias Output = WindowResult<Key, Agg.Result>
    public typealias SideOutput = Input

    @usableFromInline let key: @Sendable (Input) -> Key
    @usableFromInline let aggregate: Agg
    @usableFromInline let size: Int64
    @usableFromInline let slide: Int64
    @usableFromInline let offset: Int64
    @usableFromInline let paneSize: Int64
    @usableFromInline let panesPerWindow: Int64
    @usableFromInline let panesPerSlide: Int64
    @usableFromInline let lateness: Int64

    @usableFromInline var slotIndex = KeySlotIndex()
    @usableFromInline var keys: [Key] = []
    @usableFromInline var keyHashes: [UInt64] = []
    @usableFromInline var livePanes: [Int32] = []
    @usableFromInline var lastFired: [Int64] = []
    @usableFromInline var hashScratch: [UInt64] = []
    /// Scratch bitmap of slots (one bit per slot) used while firing.
    @usableFromInline var bitmap: [UInt64] = []
    @usableFromInline var freeSlots: [Int32] = []
    /// Ring of `ringSize` pane cells per slot (contiguous, so merging a key's panes is cache
    /// friendly); 0 when windows span too many panes, then every entry lives in `map`.
    @usableFromInline let ringSize: Int
    @usableFromInline let ringMask: Int64
    @usableFromInline var ring: [RingCell] = []

    /// A pane cell of a key's ring: pane index and accumulator side by side (one cache miss).
    @usableFromInline struct RingCell {
        @usableFromInline var pane: Int64
        @usableFromInline var acc: Agg.Accumulator
        @inlinable init(pane: Int64, acc: Agg.Accumulator) { self.pane = pane; self.acc = acc }
    }
    /// Entries that do not fit their ring cell (or all entries when `ringSize == 0`).
    @usableFromInline var map: PaneMap<Agg.Accumulator>
    /// Pane index → slots with data in that pane.
    @usableFromInline var paneSlots: [Int64: [Int32]] = [:]
    /// Pane indexes in time order (for clean-up).
    @usableFromInline var paneHeap = Heap<Int64>()
    /// Ends of windows with contents that have not fired yet.
    @usableFromInline var pendingEnds = Heap<Int64>()
    @usableFromInline var registeredEnds = Set<Int64>()
    @usableFromInline var watermark: EventTime = Watermark.none
    /// Cache of the last pane's slot list presence (most records fall in the newest pane).
    @usableFromInline var lastPane: Int64 = .min

    @inlinable
    public init(assigner: WindowAssigner, allowedLateness: Duration = .zero, aggregate: Agg,
                key: @escaping @Sendable (Input) -> Key) {
        switch assigner {
        case let .tumbling(size, offset): self.size = size; self.slide = size; self.offset = offset
        case let .sliding(size, slide, offset): self.size = size; self.slide = slide; self.offset = offset
        default: preconditionFailure("SlicingWindowOperator handles tumbling and sliding windows")
        }
        var a = size, b = slide
        while b != 0 { (a, b) = (b, a % b) }
        paneSize = a
        panesPerWindow = size / a
        panesPerSlide = slide / a
        lateness = allowedLateness.milliseconds
        self.aggregate = aggregate
        self.key = key
        map = PaneMap(empty: aggregate.makeAccumulator(), capacity: 16)
        let needed = Int(panesPerWindow + (lateness + a - 1) / a + 2)
        var r = 1
        while r < needed { r <<= 1 }
        ringSize = r <= 16 ? r : 0
        ringMask = Int64(Swift.max(ringSize - 1, 0))
    }

    /// Pane index of a timestamp (floor division, correct for negative times).
    @inlinable @inline(__always) func paneIndex(_ ts: EventTime) -> Int64 {
        let d = ts &- offset
        let q = d / paneSize
        return (d % paneSize < 0) ? q &- 1 : q
    }
    @inlinable @inline(__always) func paneStart(_ p: Int64) -> EventTime { p &* paneSize &+ offset }
    /// End of the last window containing pane `p`.
    @inlinable @inline(__always) func lastEnd(ofPane p: Int64) -> EventTime {
        WindowAssigner.alignedStart(paneStart(p), slide: slide, offset: offset) &+ size
    }
    @inlinable @inline(__always) func expired(pane p: Int64, at wm: EventTime) -> Bool {
        lastEnd(ofPane: p) &- 1 &+ lateness <= wm
    }

    @inlinable @inline(__always)
    mutating func slot(for k: Key) -> Int32 { slot(for: k, hash: k.stableHash) }

    @inlinable @inline(__always)
    mutating func slot(for k: Key, hash h: UInt64) -> Int32 {
        let (found, position) = slotIndex.find(h) { Key.stableHashIsInjective || keys[Int($0)] == k }
        if found >= 0 { return found }
        let s: Int32
        if let f = freeSlots.popLast() {
            s = f; keys[Int(s)] = k; keyHashes[Int(s)] = h; livePanes[Int(s)] = 0; lastFired[Int(s)] = .min
        } else {
            s = Int32(keys.count); keys.append(k); keyHashes.append(h); livePanes.append(0); lastFired.append(.min)
            if ringSize > 0 {
                ring.append(contentsOf: repeatElement(RingCell(pane: .min, acc: map.empty), count: ringSize))
            }
        }
        slotIndex.insert(h, slot: s, at: position)
        return s
    }

    @inlinable
    mutating func registerPane(_ p: Int64) {
        paneHeap.insert(p)
        let start = paneStart(p)
        var s = WindowAssigner.alignedStart(start, slide: slide, offset: offset)
        while s &+ size > start {
            let e = s &+ size
            if e &- 1 > watermark && registeredEnds.insert(e).inserted { pendingEnds.insert(e) }
            s &-= slide
        }
    }

    @inlinable @inline(__always)
    mutating func noteNewEntry(slot s: Int32, pane p: Int64) {
        livePanes[Int(s)] &+= 1
        if p != lastPane {
            if paneSlots[p] == nil { paneSlots[p] = []; registerPane(p) }
            lastPane = p
        }
        paneSlots[p]!.append(s)
    }

    /// Adds `value` to the accumulator of (slot, pane), creating it if needed.
    @inlinable @inline(__always)
    mutating func add(_ value: Input, slot s: Int32, pane p: Int64) {
        if ringSize > 0 {
            let cell = Int(s) &* ringSize &+ Int(p & ringMask)
            let held = ring[cell].pane
            if held == p { aggregate.add(value, to: &ring[cell].acc); return }
            // A free cell may only take the pane if the pane is not already in the overflow map.
            if held == .min && (map.count == 0 || map.find(s, p) < 0) {
                ring[cell].pane = p
                ring[cell].acc = map.empty
                aggregate.add(value, to: &ring[cell].acc)
                noteNewEntry(slot: s, pane: p)
                return
            }
        }
        let (i, inserted) = map.findOrInsert(s, p)
        if inserted { noteNewEntry(slot: s, pane: p) }
        aggregate.add(value, to: &map.accs[i])
    }

    /// The accumulator of (slot, pane), if any.
    @inlinable @inline(__always)
    func accumulator(slot s: Int32, pane p: Int64) -> Agg.Accumulator? {
        if ringSize > 0 {
            let cell = Int(s) &* ringSize &+ Int(p & ringMask)
            if ring[cell].pane == p { return ring[cell].acc }
        }
        if map.count == 0 { return nil }
        let i = map.find(s, p)
        return i >= 0 ? map.accs[i] : nil
    }

    mutating func restoreEntry(_ acc: Agg.Accumulator, slot s: Int32, pane p: Int64) {
        if ringSize > 0 {
            let cell = Int(s) &* ringSize &+ Int(p & ringMask)
            if ring[cell].pane == .min { ring[cell] = RingCell(pane: p, acc: acc); noteNewEntry(slot: s, pane: p); return }
        }
        let (i, _) = map.findOrInsert(s, p)
        map.accs[i] = acc
        noteNewEntry(slot: s, pane: p)
    }

    @inlinable
    mutating func removeEntry(slot s: Int32, pane p: Int64) {
        if ringSize > 0 {
            let cell = Int(s) &* ringSize &+ Int(p & ringMask)
            if ring[cell].pane == p { ring[cell].pane = .min; return }
        }
        map.remove(s, p)
    }

    /// Records ahead of the current one whose index bucket / ring cell are prefetched.
    @usableFromInline static var prefetchDistance: Int { 8 }

    @inlinable
    public mutating func processBatch(_ input: inout Batch<Input>, into output: inout Batch<Output>,
                                      side: inout Batch<Input>, context: OperatorContext) throws {
        var late: UInt64 = 0
        let n = input.count
        let d = Self.prefetchDistance
        // Software pipeline against cache misses (state is far larger than the caches): hash the
        // key 2d records ahead and prefetch its index bucket; d records ahead, probe the index
        // (read-only) and prefetch the ring cell; then update. Prefetching changes no state.
        hashScratch.removeAll(keepingCapacity: true)
        for i in 0..<Swift.min(2 &* d, n) {
            let h = key(input.values[i]).stableHash
            hashScratch.append(h)
            slotIndex.prefetch(h)
        }
        for i in 0..<n {
            let ahead = i &+ 2 &* d
            if ahead < n {
                let h = key(input.values[ahead]).stableHash
                hashScratch.append(h)
                slotIndex.prefetch(h)
            }
            let near = i &+ d
            if near < n && ringSize > 0 {
                let s = slotIndex.peek(hashScratch[near])
                if s >= 0 {
                    let cell = Int(s) &* ringSize &+ Int(paneIndex(input.timestamps[near]) & ringMask)
                    ring.withUnsafeBufferPointer { streamkit_prefetch($0.baseAddress! + cell) }
                }
            }
            let wm = input.watermarks[i]
            if wm > watermark { advance(to: wm, output: &output) }
            let ts = input.timestamps[i]
            let value = input.values[i]
            let p = paneIndex(ts)
            // The latest window containing ts decides whether the record is late for all of them.
            if expired(pane: p, at: watermark) {
                late &+= 1
                side.append(value, timestamp: ts, watermark: watermark)
                continue
            }
            let k = key(value)
            let s = slot(for: k, hash: hashScratch[i])
            add(value, slot: s, pane: p)
            if lateness > 0 && paneStart(p) &+ size &- 1 <= watermark &+ size { refireLate(slot: s, pane: p, output: &output) }
        }
        if late > 0 { context.metrics.lateRecords.add(late) }
    }

    @inlinable
    public mutating func processWatermark(_ watermark: EventTime, into output: inout Batch<Output>,
                                          side: inout Batch<Input>, context: OperatorContext) throws {
        if watermark > self.watermark { advance(to: watermark, output: &output) }
    }

    /// Merge of the panes of window `[e - size, e)` for one slot into `acc`; false when it has none.
    @inlinable @inline(__always)
    func merge(slot s: Int32, end e: EventTime, into acc: inout Agg.Accumulator) -> Bool {
        let last = paneIndex(e &- 1)
        var q = last &- panesPerWindow &+ 1
        var found = false
        if ringSize > 0 && map.count == 0 {
            let base = Int(s) &* ringSize
            while q <= last {
                let cell = base &+ Int(q & ringMask)
                if ring[cell].pane == q { aggregate.merge(ring[cell].acc, into: &acc); found = true }
                q &+= 1
            }
            return found
        }
        while q <= last {
            if let a = accumulator(slot: s, pane: q) { aggregate.merge(a, into: &acc); found = true }
            q &+= 1
        }
        return found
    }

    /// A record was added to an already fired (but not expired) window: fire it again for its key.
    @inlinable
    mutating func refireLate(slot s: Int32, pane p: Int64, output: inout Batch<Output>) {
        let start = paneStart(p)
        var ws = WindowAssigner.alignedStart(start, slide: slide, offset: offset)
        while ws &+ size > start {
            let e = ws &+ size
            var acc = aggregate.makeAccumulator()
            if e &- 1 <= watermark && e &- 1 &+ lateness > watermark && merge(slot: s, end: e, into: &acc) {
                output.append(WindowResult(key: keys[Int(s)], windowStart: ws, windowEnd: e, value: aggregate.result(acc)),
                              timestamp: e &- 1, watermark: watermark)
            }
            ws &-= slide
        }
    }

    @inlinable
    mutating func advance(to wm: EventTime, output: inout Batch<Output>) {
        let previous = watermark
        while let e = pendingEnds.min, e &- 1 <= wm {
            _ = pendingEnds.popMin()
            registeredEnds.remove(e)
            fire(end: e, output: &output, forwarded: previous)
        }
        watermark = wm
        // Drop panes no window needs any more (all their windows fired and expired).
        while let p = paneHeap.min, expired(pane: p, at: wm) {
            _ = paneHeap.popMin()
            if let list = paneSlots.removeValue(forKey: p) {
                for s in list {
                    removeEntry(slot: s, pane: p)
                    livePanes[Int(s)] &-= 1
                    if livePanes[Int(s)] == 0 {
                        slotIndex.remove(keyHashes[Int(s)], slot: s)
                        freeSlots.append(s)
                    }
                }
            }
            if p == lastPane { lastPane = .min }
        }
    }

    @inlinable
    mutating func fire(end e: Int64, output: inout Batch<Output>, forwarded: EventTime) {
        let start = e &- size
        let last = paneIndex(e &- 1)
        let first = last &- panesPerWindow &+ 1
        if panesPerWindow == 1 {
            guard let list = paneSlots[first] else { return }
            for s in list {
                output.append(WindowResult(key: keys[Int(s)], windowStart: start, windowEnd: e,
                                           value: aggregate.result(accumulator(slot: s, pane: first)!)),
                              timestamp: e &- 1, watermark: forwarded)
            }
            return
        }
        // Mark the slots with data in the window's panes, then sweep them in slot order: nearly
        // every live key is in every window, so this walks the pane rings sequentially.
        let words = (keys.count + 63) >> 6
        if bitmap.count < words { bitmap.append(contentsOf: repeatElement(0, count: words - bitmap.count)) }
        var q = first
        var any = false
        while q <= last {
            if let list = paneSlots[q] {
                any = true
                for s in list { bitmap[Int(s) >> 6] |= 1 << UInt64(Int(s) & 63) }
            }
            q &+= 1
        }
        if !any { return }
        let empty = aggregate.makeAccumulator()
        for w in 0..<words {
            var bits = bitmap[w]
            if bits == 0 { continue }
            bitmap[w] = 0
            while bits != 0 {
                let s = Int32(w << 6 | bits.trailingZeroBitCount)
                bits &= bits &- 1
                var acc = empty
                if merge(slot: s, end: e, into: &acc) {
                    output.append(WindowResult(key: keys[Int(s)], windowStart: start, windowEnd: e, value: aggregate.result(acc)),
                                  timestamp: e &- 1, watermark: forwarded)
                }
            }
        }
    }

    public mutating func snapshotState(_ snapshot: inout OperatorSnapshot, context: OperatorContext) throws {
        snapshot.operatorState.writeVarInt(watermark)
        for (p, list) in paneSlots {
            for s in list {
                let acc = accumulator(slot: s, pane: p)!
                let k = keys[Int(s)]
                let kg = context.keyGroups.keyGroup(of: k)
                var w = snapshot.keyGroups[kg] ?? ByteWriter()
                w.writeVarInt(paneStart(p))
                k.encode(to: &w)
                acc.encode(to: &w)
                snapshot.keyGroups[kg] = w
            }
        }
    }

    public mutating func restoreState(_ restore: OperatorRestore, context: OperatorContext) throws {
        if let bytes = restore.operatorState ?? restore.allOperatorStates.first {
            var r = ByteReader(bytes)
            watermark = try r.readVarInt()
        }
        for kg in restore.keyGroups.keys.sorted() {
            var r = ByteReader(restore.keyGroups[kg]!)
            while !r.isAtEnd {
                let p = paneIndex(try r.readVarInt())
                let k = try Key(from: &r)
                let acc = try Agg.Accumulator(from: &r)
                let s = slot(for: k)
                if accumulator(slot: s, pane: p) != nil { throw StreamKitError(.checkpoint, "duplicate window state for a key in checkpoint") }
                restoreEntry(acc, slot: s, pane: p)
            }
        }
    }
}
