public import HeapModule

/// Event time or processing time.
public enum TimeDomain: Sendable, Hashable { case eventTime, processingTime }

@usableFromInline
struct KeyedTimer<Key: StreamKey>: Comparable, Hashable {
    @usableFromInline var time: Int64
    @usableFromInline var key: Key
    @inlinable init(time: Int64, key: Key) { self.time = time; self.key = key }
    @inlinable static func < (a: Self, b: Self) -> Bool { a.time < b.time }
}

/// What a ``KeyedProcessFunction`` sees while it handles a record or a timer: the key, time,
/// timers, and where to emit results. Reused for every call (no allocation per record).
public final class KeyedProcessContext<Key: StreamKey, Output: Sendable>: @unchecked Sendable {
    // @unchecked: used only on its operator's subtask thread.
    @usableFromInline var _key: Key?
    @usableFromInline var _timestamp: EventTime = Watermark.none
    @usableFromInline var _watermark: EventTime = Watermark.none
    @usableFromInline var _processingTime: Int64 = 0
    /// The current key.
    @inlinable public var key: Key { _key! }
    /// Event time of the current record, or the firing time of the current timer.
    @inlinable public var timestamp: EventTime { _timestamp }
    /// The operator's current watermark.
    @inlinable public var currentWatermark: EventTime { _watermark }
    /// Processing time (ms) of this call.
    @inlinable public var processingTime: Int64 { _processingTime }
    @usableFromInline var output = Batch<Output>()
    @usableFromInline var eventTimers = Heap<KeyedTimer<Key>>()
    @usableFromInline var eventTimerSet = Set<KeyedTimer<Key>>()
    @usableFromInline var processingTimers = Heap<KeyedTimer<Key>>()
    @usableFromInline var processingTimerSet = Set<KeyedTimer<Key>>()
    @usableFromInline var emitWatermark: EventTime = Watermark.none

    @usableFromInline init() {}

    /// Emits a result with the current timestamp.
    @inlinable public func emit(_ value: Output) {
        output.append(value, timestamp: timestamp, watermark: emitWatermark)
    }
    /// Emits a result with an explicit event time.
    @inlinable public func emit(_ value: Output, timestamp: EventTime) {
        output.append(value, timestamp: timestamp, watermark: emitWatermark)
    }
    /// Calls `onTimer` for the current key when the watermark reaches `time` (deduplicated per key and time).
    @inlinable public func registerEventTimeTimer(_ time: EventTime) {
        let t = KeyedTimer(time: time, key: key)
        if eventTimerSet.insert(t).inserted { eventTimers.insert(t) }
    }
    /// Calls `onTimer` for the current key when processing time reaches `time` (ms).
    @inlinable public func registerProcessingTimeTimer(_ time: Int64) {
        let t = KeyedTimer(time: time, key: key)
        if processingTimerSet.insert(t).inserted { processingTimers.insert(t) }
    }
    /// Cancels an event-time timer of the current key.
    @inlinable public func deleteEventTimeTimer(_ time: EventTime) { eventTimerSet.remove(KeyedTimer(time: time, key: key)) }
    /// Cancels a processing-time timer of the current key.
    @inlinable public func deleteProcessingTimeTimer(_ time: Int64) { processingTimerSet.remove(KeyedTimer(time: time, key: key)) }
    /// Number of pending event-time timers (all keys).
    public var pendingEventTimers: Int { eventTimerSet.count }
}

/// A keyed function with state and timers (Flink's `KeyedProcessFunction`).
///
/// ```swift
/// struct CountWithTimeout: KeyedProcessFunction {
///     var count: ValueState<Int64, Int64>!
///     mutating func open(state: KeyedStateStore<Int64>) { count = state.valueState("count", ttl: StateTTL(.hours(1))) }
///     func processElement(_ e: Event, context: KeyedProcessContext<Int64, String>) throws {
///         count.update((count.value ?? 0) + 1)
///         context.registerEventTimeTimer(context.timestamp + 60_000)
///     }
///     func onTimer(_ t: EventTime, domain: TimeDomain, context: KeyedProcessContext<Int64, String>) throws {
///         context.emit("key \(context.key!) saw \(count.value ?? 0)")
///     }
/// }
/// ```
public protocol KeyedProcessFunction<Key, Input, Output>: Sendable {
    associatedtype Key: StreamKey
    associatedtype Input: Sendable
    associatedtype Output: Sendable
    /// Declare state here.
    mutating func open(state: KeyedStateStore<Key>) throws
    func processElement(_ value: Input, context: KeyedProcessContext<Key, Output>) throws
    func onTimer(_ time: Int64, domain: TimeDomain, context: KeyedProcessContext<Key, Output>) throws
}

extension KeyedProcessFunction {
    @inlinable public mutating func open(state: KeyedStateStore<Key>) throws {}
    @inlinable public func onTimer(_ time: Int64, domain: TimeDomain, context: KeyedProcessContext<Key, Output>) throws {}
}

/// Runs a ``KeyedProcessFunction``: sets the current key per record, fires timers as the
/// watermark (record by record) and processing time advance, checkpoints state and timers by key group.
public struct KeyedProcessOperator<F: KeyedProcessFunction>: StreamOperator {
    public typealias Input = F.Input
    public typealias Output = F.Output
    @usableFromInline var function: F
    @usableFromInline let key: @Sendable (F.Input) -> F.Key
    @usableFromInline let store = KeyedStateStore<F.Key>()
    @usableFromInline let ctx = KeyedProcessContext<F.Key, F.Output>()
    @usableFromInline var watermark: EventTime = Watermark.none
    @usableFromInline var opened = false

    @inlinable public init(_ function: F, key: @escaping @Sendable (F.Input) -> F.Key) {
        self.function = function; self.key = key
    }

    /// The state store (for tests and inspection).
    public var stateStore: KeyedStateStore<F.Key> { store }

    @inlinable mutating func ensureOpen() throws {
        if !opened { try function.open(state: store); opened = true }
    }

    public mutating func open(context: OperatorContext) throws { try ensureOpen() }

    @inlinable mutating func drain(into output: inout Batch<Output>) {
        if ctx.output.isEmpty { return }
        output.values.append(contentsOf: ctx.output.values)
        output.timestamps.append(contentsOf: ctx.output.timestamps)
        output.watermarks.append(contentsOf: ctx.output.watermarks)
        ctx.output.removeAll()
    }

    @inlinable mutating func advanceEventTime(to wm: EventTime, now: Int64) throws {
        ctx.emitWatermark = watermark
        while let t = ctx.eventTimers.min, t.time <= wm {
            _ = ctx.eventTimers.popMin()
            guard ctx.eventTimerSet.remove(t) != nil else { continue }  // deleted
            ctx._key = t.key; ctx._timestamp = t.time; ctx._watermark = wm; ctx._processingTime = now
            store.keyContext.currentKey = t.key; store.keyContext.now = now
            try function.onTimer(t.time, domain: .eventTime, context: ctx)
        }
        watermark = wm
    }

    @inlinable
    public mutating func processBatch(_ input: inout Batch<Input>, into output: inout Batch<Output>,
                                      side: inout Batch<Never>, context: OperatorContext) throws {
        try ensureOpen()
        let now = context.processingTime()
        for i in 0..<input.count {
            let wm = input.watermarks[i]
            if wm > watermark { try advanceEventTime(to: wm, now: now) }
            let value = input.values[i]
            let k = key(value)
            ctx._key = k; ctx._timestamp = input.timestamps[i]; ctx._watermark = watermark
            ctx._processingTime = now; ctx.emitWatermark = watermark
            store.keyContext.currentKey = k; store.keyContext.now = now
            try function.processElement(value, context: ctx)
        }
        drain(into: &output)
    }

    @inlinable
    public mutating func processWatermark(_ watermark: EventTime, into output: inout Batch<Output>,
                                          side: inout Batch<Never>, context: OperatorContext) throws {
        try ensureOpen()
        if watermark > self.watermark { try advanceEventTime(to: watermark, now: context.processingTime()) }
        drain(into: &output)
    }

    @inlinable
    public mutating func processProcessingTime(_ now: Int64, into output: inout Batch<Output>,
                                               side: inout Batch<Never>, context: OperatorContext) throws {
        try ensureOpen()
        ctx.emitWatermark = watermark
        while let t = ctx.processingTimers.min, t.time <= now {
            _ = ctx.processingTimers.popMin()
            guard ctx.processingTimerSet.remove(t) != nil else { continue }
            ctx._key = t.key; ctx._timestamp = t.time; ctx._watermark = watermark; ctx._processingTime = now
            store.keyContext.currentKey = t.key; store.keyContext.now = now
            try function.onTimer(t.time, domain: .processingTime, context: ctx)
        }
        drain(into: &output)
    }

    public mutating func snapshotState(_ snapshot: inout OperatorSnapshot, context: OperatorContext) throws {
        try ensureOpen()
        let now = context.processingTime()
        snapshot.operatorState.writeVarInt(watermark)
        store.snapshot(into: &snapshot.keyGroups, keyGroups: context.keyGroups, now: now)
        for (set, domain) in [(ctx.eventTimerSet, 0), (ctx.processingTimerSet, 1)] {
            for t in set {
                let kg = context.keyGroups.keyGroup(of: t.key)
                var w = snapshot.keyGroups[kg] ?? ByteWriter()
                w.writeString(domain == 0 ? "__event_timer" : "__processing_timer")
                t.key.encode(to: &w); w.writeVarInt(t.time)
                snapshot.keyGroups[kg] = w
            }
        }
    }

    public mutating func restoreState(_ restore: OperatorRestore, context: OperatorContext) throws {
        try ensureOpen()
        let now = context.processingTime()
        if let bytes = restore.operatorState ?? restore.allOperatorStates.first {
            var r = ByteReader(bytes); watermark = try r.readVarInt()
        }
        for (_, bytes) in restore.keyGroups {
            var r = ByteReader(bytes)
            while !r.isAtEnd {
                var peek = r
                let name = try peek.readString()
                if name == "__event_timer" || name == "__processing_timer" {
                    r = peek
                    let t = KeyedTimer(time: 0, key: try F.Key(from: &r))
                    let timer = KeyedTimer(time: try r.readVarInt(), key: t.key)
                    if name == "__event_timer" {
                        if ctx.eventTimerSet.insert(timer).inserted { ctx.eventTimers.insert(timer) }
                    } else if ctx.processingTimerSet.insert(timer).inserted { ctx.processingTimers.insert(timer) }
                } else {
                    try store.restoreEntry(from: &r, now: now)
                }
            }
        }
    }
}
