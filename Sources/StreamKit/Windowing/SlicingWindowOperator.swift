import HeapModule

/// Tumbling and sliding event-time windows with pane (slice) sharing.
///
/// Time is cut into panes of `gcd(size, slide)`; each record updates one accumulator — the one of
/// its (pane, key) — and a window is the merge of its panes when it fires. A window `[s, e)` fires
/// once the watermark reaches `e - 1`. With allowed lateness, a record for a fired window that is
/// not yet expired (`e - 1 + lateness > watermark`) updates the window and re-fires it for its key;
/// a record whose windows are all expired goes to the side output (late data) and is counted.
public struct SlicingWindowOperator<Key: StreamKey, Input: Sendable, Agg: AggregateFunction>: StreamOperator
where Agg.Input == Input {
    public typealias Output = WindowResult<Key, Agg.Result>
    public typealias SideOutput = Input
    public typealias Table = [Key: Agg.Accumulator]

    @usableFromInline let key: @Sendable (Input) -> Key
    @usableFromInline let aggregate: Agg
    @usableFromInline let size: Int64
    @usableFromInline let slide: Int64
    @usableFromInline let offset: Int64
    @usableFromInline let paneSize: Int64
    @usableFromInline let lateness: Int64

    /// Pane start → accumulators of the keys that have records in that pane.
    @usableFromInline var panes: [Int64: Table] = [:]
    /// The pane being filled, kept out of `panes` so it is mutated in place.
    @usableFromInline var activeStart: Int64 = .min
    @usableFromInline var activeTable: Table = [:]
    /// Pane starts in time order (for clean-up).
    @usableFromInline var paneHeap = Heap<Int64>()
    /// Ends of windows with contents that have not fired yet.
    @usableFromInline var pendingEnds = Heap<Int64>()
    @usableFromInline var registeredEnds = Set<Int64>()
    @usableFromInline var watermark: EventTime = Watermark.none
    @usableFromInline var scratch: Table = [:]

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
        self.paneSize = a
        self.lateness = allowedLateness.milliseconds
        self.aggregate = aggregate
        self.key = key
    }

    @inlinable func lastEnd(ofPane p: Int64) -> Int64 {
        WindowAssigner.alignedStart(p, slide: slide, offset: offset) &+ size
    }

    @inlinable
    public mutating func processBatch(_ input: inout Batch<Input>, into output: inout Batch<Output>,
                                      side: inout Batch<Input>, context: OperatorContext) throws {
        var late: UInt64 = 0
        let agg = aggregate
        for i in 0..<input.count {
            let wm = input.watermarks[i]
            if wm > watermark { advance(to: wm, output: &output) }
            let ts = input.timestamps[i]
            let value = input.values[i]
            // The latest window containing ts decides whether the record is late for all of them.
            if lastEnd(ofPane: ts) &- 1 &+ lateness <= watermark {
                late &+= 1
                side.append(value, timestamp: ts, watermark: watermark)
                continue
            }
            let p = WindowAssigner.alignedStart(ts, slide: paneSize, offset: offset)
            if p != activeStart { switchPane(to: p) }
            let k = key(value)
            agg.add(value, to: &activeTable[k, default: agg.makeAccumulator()])
            if lateness > 0 && ts &+ size > watermark { refireLate(key: k, pane: p, output: &output) }
        }
        if late > 0 { context.metrics.lateRecords.add(late) }
    }

    @inlinable
    public mutating func processWatermark(_ watermark: EventTime, into output: inout Batch<Output>,
                                          side: inout Batch<Input>, context: OperatorContext) throws {
        if watermark > self.watermark { advance(to: watermark, output: &output) }
    }

    @inlinable
    mutating func switchPane(to p: Int64) {
        if activeStart != .min { panes[activeStart] = activeTable }
        activeStart = p
        if let existing = panes.removeValue(forKey: p) {
            activeTable = existing
        } else {
            activeTable = [:]
            paneHeap.insert(p)
            // Register every not-yet-fired window containing this pane.
            var s = WindowAssigner.alignedStart(p, slide: slide, offset: offset)
            while s &+ size > p {
                let e = s &+ size
                if e &- 1 > watermark && registeredEnds.insert(e).inserted { pendingEnds.insert(e) }
                s &-= slide
            }
        }
    }

    /// A record was added to an already fired (but not expired) window: fire it again for its key.
    @inlinable
    mutating func refireLate(key k: Key, pane p: Int64, output: inout Batch<Output>) {
        var s = WindowAssigner.alignedStart(p, slide: slide, offset: offset)
        while s &+ size > p {
            let e = s &+ size
            if e &- 1 <= watermark && e &- 1 &+ lateness > watermark {
                var acc = aggregate.makeAccumulator()
                var q = s
                while q < e {
                    if let a = (q == activeStart ? activeTable[k] : panes[q]?[k]) { aggregate.merge(a, into: &acc) }
                    q &+= paneSize
                }
                output.append(WindowResult(key: k, windowStart: s, windowEnd: e, value: aggregate.result(acc)),
                              timestamp: e &- 1, watermark: watermark)
            }
            s &-= slide
        }
    }

    @inlinable
    mutating func advance(to wm: EventTime, output: inout Batch<Output>) {
        if activeStart != .min { panes[activeStart] = activeTable; activeTable = [:]; activeStart = .min }
        let previous = watermark
        while let e = pendingEnds.min, e &- 1 <= wm {
            _ = pendingEnds.popMin()
            registeredEnds.remove(e)
            fire(end: e, output: &output, forwarded: previous)
        }
        watermark = wm
        // Drop panes no window needs any more (all their windows fired and expired).
        while let p = paneHeap.min, lastEnd(ofPane: p) &- 1 &+ lateness <= wm {
            _ = paneHeap.popMin()
            panes[p] = nil
        }
    }

    @inlinable
    mutating func fire(end e: Int64, output: inout Batch<Output>, forwarded: EventTime) {
        let start = e &- size
        var found = 0
        var only: Int64 = 0
        var q = start
        while q < e {
            if panes[q] != nil { found += 1; only = q }
            q &+= paneSize
        }
        if found == 0 { return }
        if found == 1 {
            for (k, acc) in panes[only]! {
                output.append(WindowResult(key: k, windowStart: start, windowEnd: e, value: aggregate.result(acc)),
                              timestamp: e &- 1, watermark: forwarded)
            }
            return
        }
        var merged = scratch
        scratch = [:]
        merged.removeAll(keepingCapacity: true)
        let agg = aggregate
        q = start
        while q < e {
            if let table = panes[q] {
                for (k, acc) in table { agg.merge(acc, into: &merged[k, default: agg.makeAccumulator()]) }
            }
            q &+= paneSize
        }
        defer { scratch = merged }
        for (k, acc) in merged {
            output.append(WindowResult(key: k, windowStart: start, windowEnd: e, value: aggregate.result(acc)),
                          timestamp: e &- 1, watermark: forwarded)
        }
    }

    public mutating func snapshotState(_ snapshot: inout OperatorSnapshot, context: OperatorContext) throws {
        if activeStart != .min { panes[activeStart] = activeTable; activeTable = [:]; activeStart = .min }
        snapshot.operatorState.writeVarInt(watermark)
        for (p, table) in panes {
            for (k, acc) in table {
                let kg = context.keyGroups.keyGroup(of: k)
                snapshot.keyGroups[kg, default: ByteWriter()].writeVarInt(p)
                k.encode(to: &snapshot.keyGroups[kg]!)
                acc.encode(to: &snapshot.keyGroups[kg]!)
            }
        }
    }

    public mutating func restoreState(_ restore: OperatorRestore, context: OperatorContext) throws {
        if let op = restore.operatorState {
            var r = ByteReader(op)
            watermark = try r.readVarInt()
        } else if let any = restore.allOperatorStates.first {
            var r = ByteReader(any)
            watermark = try r.readVarInt()
        }
        for (_, bytes) in restore.keyGroups {
            var r = ByteReader(bytes)
            while !r.isAtEnd {
                let p = try r.readVarInt()
                let k = try Key(from: &r)
                let acc = try Agg.Accumulator(from: &r)
                if panes[p] == nil {
                    panes[p] = [:]
                    paneHeap.insert(p)
                    var s = WindowAssigner.alignedStart(p, slide: slide, offset: offset)
                    while s &+ size > p {
                        let e = s &+ size
                        if e &- 1 > watermark && registeredEnds.insert(e).inserted { pendingEnds.insert(e) }
                        s &-= slide
                    }
                }
                panes[p]![k] = acc
            }
        }
    }
}
