public import HeapModule

@usableFromInline
struct WindowTimer<Key: Sendable>: Comparable {
    @usableFromInline var time: EventTime
    @usableFromInline var key: Key
    @inlinable init(time: EventTime, key: Key) { self.time = time; self.key = key }
    @inlinable static func < (a: Self, b: Self) -> Bool { a.time < b.time }
    @inlinable static func == (a: Self, b: Self) -> Bool { a.time == b.time }
}

/// Session windows: per key, a record at `t` opens `[t, t + gap)`; sessions that overlap or touch
/// merge (their accumulators merge). A session fires when the watermark reaches `end - 1`.
/// A record whose merged session is already expired (`end - 1 + lateness <= watermark`) is late.
public struct SessionWindowOperator<Key: StreamKey, Input: Sendable, Agg: AggregateFunction>: StreamOperator
where Agg.Input == Input {
    public typealias Output = WindowResult<Key, Agg.Result>
    public typealias SideOutput = Input

    public struct Session: Sendable {
        public var window: TimeWindow
        public var accumulator: Agg.Accumulator
        @inlinable public init(window: TimeWindow, accumulator: Agg.Accumulator) { self.window = window; self.accumulator = accumulator }
    }

    @usableFromInline let key: @Sendable (Input) -> Key
    @usableFromInline let aggregate: Agg
    @usableFromInline let gap: Int64
    @usableFromInline let lateness: Int64
    @usableFromInline var sessions: [Key: [Session]] = [:]
    @usableFromInline var timers = Heap<WindowTimer<Key>>()
    /// The (key, time) pairs in `timers`: a firing time is registered once per key, however many
    /// records hit the same session end (else a session with allowed lateness fired twice).
    @usableFromInline var registeredTimers = Set<TimerID>()
    @usableFromInline struct TimerID: Hashable {
        @usableFromInline var time: EventTime
        @usableFromInline var key: Key
        @inlinable init(time: EventTime, key: Key) { self.time = time; self.key = key }
    }
    @usableFromInline var watermark: EventTime = Watermark.none

    @inlinable
    public init(gap: Duration, allowedLateness: Duration = .zero, aggregate: Agg, key: @escaping @Sendable (Input) -> Key) {
        self.gap = gap.milliseconds; self.lateness = allowedLateness.milliseconds
        self.aggregate = aggregate; self.key = key
    }

    @inlinable
    public mutating func processBatch(_ input: inout Batch<Input>, into output: inout Batch<Output>,
                                      side: inout Batch<Input>, context: OperatorContext) throws {
        for i in 0..<input.count {
            let wm = input.watermarks[i]
            if wm > watermark { advance(to: wm, output: &output) }
            let ts = input.timestamps[i], value = input.values[i]
            let k = key(value)
            var list = sessions.removeValue(forKey: k) ?? []
            var merged = TimeWindow(start: ts, end: ts &+ gap)
            // Merging can chain (the new record bridges two sessions): repeat until stable.
            var grew = true
            while grew {
                grew = false
                for s in list where s.window.intersectsOrTouches(merged) {
                    let m = TimeWindow(start: Swift.min(merged.start, s.window.start), end: Swift.max(merged.end, s.window.end))
                    if m != merged { merged = m; grew = true }
                }
            }
            if merged.maxTimestamp &+ lateness <= watermark {
                context.metrics.lateRecords.add(1)
                side.append(value, timestamp: ts, watermark: watermark)
                if !list.isEmpty { sessions[k] = list }
                continue
            }
            var acc = aggregate.makeAccumulator()
            list.removeAll { s in
                guard s.window.intersectsOrTouches(merged) else { return false }
                aggregate.merge(s.accumulator, into: &acc)
                return true
            }
            aggregate.add(value, to: &acc)
            list.append(Session(window: merged, accumulator: acc))
            sessions[k] = list
            if merged.maxTimestamp <= watermark {
                // Late but allowed: the session already fired; fire it again with the update.
                output.append(WindowResult(key: k, windowStart: merged.start, windowEnd: merged.end, value: aggregate.result(acc)),
                              timestamp: merged.maxTimestamp, watermark: watermark)
                registerTimer(merged.maxTimestamp &+ lateness, key: k)
            } else {
                registerTimer(merged.maxTimestamp, key: k)
            }
        }
    }

    @inlinable
    public mutating func processWatermark(_ watermark: EventTime, into output: inout Batch<Output>,
                                          side: inout Batch<Input>, context: OperatorContext) throws {
        if watermark > self.watermark { advance(to: watermark, output: &output) }
    }

    @inlinable
    mutating func registerTimer(_ time: EventTime, key k: Key) {
        if registeredTimers.insert(TimerID(time: time, key: k)).inserted { timers.insert(WindowTimer(time: time, key: k)) }
    }

    @inlinable
    mutating func advance(to wm: EventTime, output: inout Batch<Output>) {
        let previous = watermark
        watermark = wm
        while let t = timers.min, t.time <= wm {
            _ = timers.popMin()
            registeredTimers.remove(TimerID(time: t.time, key: t.key))
            guard var list = sessions[t.key] else { continue }
            var changed = false
            list.removeAll { s in
                if s.window.maxTimestamp == t.time {
                    // Fire time of this session.
                    output.append(WindowResult(key: t.key, windowStart: s.window.start, windowEnd: s.window.end,
                                               value: aggregate.result(s.accumulator)),
                                  timestamp: s.window.maxTimestamp, watermark: previous)
                    if lateness == 0 { changed = true; return true }
                }
                // Clean-up time (allowed lateness over). Matched exactly: a stale timer of a session
                // that has since merged into a longer one must not drop the merged session unfired.
                if s.window.maxTimestamp &+ lateness == t.time { changed = true; return true }
                return false
            }
            if lateness > 0 {
                for s in list where s.window.maxTimestamp == t.time {
                    registerTimer(s.window.maxTimestamp &+ lateness, key: t.key)
                }
            }
            if changed { sessions[t.key] = list.isEmpty ? nil : list }
        }
    }

    public mutating func snapshotState(_ snapshot: inout OperatorSnapshot, context: OperatorContext) throws {
        snapshot.operatorState.writeVarInt(watermark)
        for (k, list) in sessions {
            let kg = context.keyGroups.keyGroup(of: k)
            for s in list {
                k.encode(to: &snapshot.keyGroups[kg, default: ByteWriter()])
                snapshot.keyGroups[kg]!.writeVarInt(s.window.start)
                snapshot.keyGroups[kg]!.writeVarInt(s.window.end)
                s.accumulator.encode(to: &snapshot.keyGroups[kg]!)
            }
        }
    }

    public mutating func restoreState(_ restore: OperatorRestore, context: OperatorContext) throws {
        if let bytes = restore.operatorState ?? restore.allOperatorStates.first {
            var r = ByteReader(bytes); watermark = try r.readVarInt()
        }
        for (_, bytes) in restore.keyGroups {
            var r = ByteReader(bytes)
            while !r.isAtEnd {
                let k = try Key(from: &r)
                let w = TimeWindow(start: try r.readVarInt(), end: try r.readVarInt())
                let acc = try Agg.Accumulator(from: &r)
                sessions[k, default: []].append(Session(window: w, accumulator: acc))
                let fireAt = w.maxTimestamp > watermark ? w.maxTimestamp : w.maxTimestamp &+ lateness
                registerTimer(fireAt, key: k)
            }
        }
    }
}

/// Count-triggered global windows (Flink's `countWindow(n)`): every `n` records of a key fire one
/// result and start a new window. Like Flink, a partial window is not emitted at end of input.
public struct CountWindowOperator<Key: StreamKey, Input: Sendable, Agg: AggregateFunction>: StreamOperator
where Agg.Input == Input {
    public typealias Output = WindowResult<Key, Agg.Result>
    @usableFromInline struct Slot {
        @usableFromInline var count: Int
        @usableFromInline var accumulator: Agg.Accumulator
        @inlinable init(count: Int, accumulator: Agg.Accumulator) { self.count = count; self.accumulator = accumulator }
    }
    @usableFromInline let key: @Sendable (Input) -> Key
    @usableFromInline let aggregate: Agg
    @usableFromInline let size: Int
    @usableFromInline var slots: [Key: Slot] = [:]

    @inlinable
    public init(count: Int, aggregate: Agg, key: @escaping @Sendable (Input) -> Key) {
        self.size = count; self.aggregate = aggregate; self.key = key
    }

    @inlinable
    public mutating func processBatch(_ input: inout Batch<Input>, into output: inout Batch<Output>,
                                      side: inout Batch<Never>, context: OperatorContext) throws {
        for i in 0..<input.count {
            let value = input.values[i]
            let k = key(value)
            var slot = slots.removeValue(forKey: k) ?? Slot(count: 0, accumulator: aggregate.makeAccumulator())
            aggregate.add(value, to: &slot.accumulator)
            slot.count += 1
            if slot.count >= size {
                output.append(WindowResult(key: k, windowStart: .min, windowEnd: .max, value: aggregate.result(slot.accumulator)),
                              timestamp: input.timestamps[i], watermark: input.watermarks[i])
            } else {
                slots[k] = slot
            }
        }
    }

    public mutating func snapshotState(_ snapshot: inout OperatorSnapshot, context: OperatorContext) throws {
        for (k, s) in slots {
            let kg = context.keyGroups.keyGroup(of: k)
            k.encode(to: &snapshot.keyGroups[kg, default: ByteWriter()])
            snapshot.keyGroups[kg]!.writeVarInt(Int64(s.count))
            s.accumulator.encode(to: &snapshot.keyGroups[kg]!)
        }
    }

    public mutating func restoreState(_ restore: OperatorRestore, context: OperatorContext) throws {
        for (_, bytes) in restore.keyGroups {
            var r = ByteReader(bytes)
            while !r.isAtEnd {
                let k = try Key(from: &r)
                let c = Int(try r.readVarInt())
                slots[k] = Slot(count: c, accumulator: try Agg.Accumulator(from: &r))
            }
        }
    }
}
