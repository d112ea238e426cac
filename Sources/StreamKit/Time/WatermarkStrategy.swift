/// How event time and watermarks are derived from a stream.
///
/// ```swift
/// stream.assignTimestamps({ $0.tsMs }, watermark: .boundedOutOfOrderness(.seconds(2)), idleness: .seconds(30))
/// ```
/// The watermark is `max(event time seen) - delay`, advanced after every record in input order
/// (the semantics of Flink SQL's `WATERMARK FOR ts AS ts - INTERVAL ...`). Watermarks are tracked
/// per source split (e.g. Kafka partition) and combined by minimum; a split that delivers nothing
/// for `idleness` stops holding the watermark back until it delivers again. Idleness is measured
/// on the task's input activity clock (processing time minus the time the task was blocked by
/// back-pressure, see ``OperatorContext/inputActivityTime(at:)``): a task that could not read
/// does not idle its splits. A source may also keep a split active while it knows the split
/// still has data to deliver (the Kafka source does, from the partition's high watermark).
public struct WatermarkStrategy: Sendable, Hashable {
    /// Allowed out-of-orderness in ms.
    public var delayMillis: Int64
    /// Idle timeout in ms, or nil for none.
    public var idlenessMillis: Int64?
    /// Timestamps further than this ahead of the wall clock do not advance the watermark past
    /// `now + maxFutureSkew` (they are counted as clamped). nil: no clamping.
    public var maxFutureSkewMillis: Int64?

    @inlinable public init(delayMillis: Int64, idlenessMillis: Int64? = nil, maxFutureSkewMillis: Int64? = nil) {
        precondition(delayMillis >= 0, "out-of-orderness must not be negative")
        self.delayMillis = delayMillis; self.idlenessMillis = idlenessMillis; self.maxFutureSkewMillis = maxFutureSkewMillis
    }
    /// Events may arrive up to `delay` out of order.
    @inlinable public static func boundedOutOfOrderness(_ delay: Duration) -> WatermarkStrategy {
        WatermarkStrategy(delayMillis: delay.milliseconds)
    }
    /// Event time never goes backwards (zero out-of-orderness).
    public static let monotonous = WatermarkStrategy(delayMillis: 0)
    /// The same strategy with an idleness timeout.
    @inlinable public func withIdleness(_ idleness: Duration?) -> WatermarkStrategy {
        var s = self; s.idlenessMillis = idleness?.milliseconds; return s
    }
    /// The same strategy with a maximum future skew.
    @inlinable public func withMaxFutureSkew(_ skew: Duration?) -> WatermarkStrategy {
        var s = self; s.maxFutureSkewMillis = skew?.milliseconds; return s
    }
}

/// Assigns event time to each record and computes the per-record watermark (per split, combined
/// by minimum, with idleness and future-skew clamping).
public struct TimestampAssigner<Element: Sendable>: StreamOperator {
    @usableFromInline let extract: @Sendable (Element) -> EventTime
    @usableFromInline let strategy: WatermarkStrategy
    @usableFromInline struct SplitState {
        @usableFromInline var maxTs: EventTime
        @usableFromInline var lastActiveMillis: Int64
        @usableFromInline var idle: Bool
        @inlinable init(maxTs: EventTime, lastActiveMillis: Int64, idle: Bool) { self.maxTs = maxTs; self.lastActiveMillis = lastActiveMillis; self.idle = idle }
    }
    @usableFromInline var splits: [Int32: SplitState] = [:]
    /// Watermark emitted so far (never decreases).
    @usableFromInline var current: EventTime = Watermark.none
    @usableFromInline var allIdle = false
    @usableFromInline var clamped: UInt64 = 0

    @inlinable public init(extract: @escaping @Sendable (Element) -> EventTime, strategy: WatermarkStrategy) {
        self.extract = extract; self.strategy = strategy
    }

    @inlinable
    func combined() -> (EventTime, allIdle: Bool) {
        var low = EventTime.max
        var anyActive = false
        for (_, s) in splits where !s.idle {
            anyActive = true
            let wm = s.maxTs == Watermark.none ? Watermark.none : s.maxTs &- strategy.delayMillis
            if wm < low { low = wm }
        }
        return anyActive ? (low, false) : (Watermark.none, true)
    }

    @inlinable
    public mutating func processBatch(_ input: inout Batch<Element>, into output: inout Batch<Element>,
                                      side: inout Batch<Never>, context: OperatorContext) throws {
        let now = context.processingTime()
        let limit = strategy.maxFutureSkewMillis.map { now &+ $0 } ?? EventTime.max
        let active = context.inputActivityTime(at: now)
        let key = input.split
        var state = splits[key] ?? SplitState(maxTs: Watermark.none, lastActiveMillis: active, idle: false)
        state.idle = false
        state.lastActiveMillis = active
        let single = splits.count == 0 || (splits.count == 1 && splits[key] != nil)
        var others = EventTime.max
        if !single {
            splits[key] = nil
            let (o, idle) = combined()
            others = idle ? .max : o
        }
        let delay = strategy.delayMillis
        var wm = current
        var maxTs = state.maxTs
        // Event time and watermarks are written in place; the storage is then handed over.
        let n = input.count
        for i in 0..<n {
            var ts = extract(input.values[i])
            input.timestamps[i] = ts
            input.watermarks[i] = wm
            if ts > limit { ts = limit; clamped &+= 1 }
            if ts > maxTs {
                maxTs = ts
                let candidate = min(maxTs &- delay, others)
                if candidate > wm { wm = candidate }
            }
        }
        if output.isEmpty {
            swap(&input.values, &output.values); swap(&input.timestamps, &output.timestamps); swap(&input.watermarks, &output.watermarks)
        } else {
            output.values.append(contentsOf: input.values); output.timestamps.append(contentsOf: input.timestamps)
            output.watermarks.append(contentsOf: input.watermarks)
        }
        state.maxTs = maxTs
        splits[key] = state
        current = wm
        allIdle = false
    }

    @inlinable
    public mutating func processProcessingTime(_ now: Int64, into output: inout Batch<Element>,
                                               side: inout Batch<Never>, context: OperatorContext) throws {
        guard let idleness = strategy.idlenessMillis else { return }
        let active = context.inputActivityTime(at: now)
        var changed = false
        for (k, var s) in splits where !s.idle && active - s.lastActiveMillis >= idleness {
            s.idle = true; splits[k] = s; changed = true
        }
        if changed {
            let (wm, idle) = combined()
            allIdle = idle
            if !idle && wm > current { current = wm }
        }
    }

    @inlinable public var generatedWatermark: EventTime? { current }
    @inlinable public var generatedIdle: Bool? { allIdle }

    /// Number of timestamps clamped by the future-skew limit.
    @inlinable public var clampedTimestamps: UInt64 { clamped }
    /// Whether every split is idle now.
    @inlinable public var isIdle: Bool { allIdle }

    @inlinable
    public mutating func snapshotState(_ snapshot: inout OperatorSnapshot, context: OperatorContext) throws {
        snapshot.operatorState.writeVarInt(current)
        snapshot.operatorState.writeVarUInt(UInt64(splits.count))
        for (k, s) in splits.sorted(by: { $0.key < $1.key }) {
            snapshot.operatorState.writeVarInt(Int64(k))
            snapshot.operatorState.writeVarInt(s.maxTs)
        }
    }

    @inlinable
    public mutating func restoreState(_ restore: OperatorRestore, context: OperatorContext) throws {
        guard let bytes = restore.operatorState else { return }
        var r = ByteReader(bytes)
        current = try r.readVarInt()
        let n = try r.readVarUInt()
        let now = context.inputActivityTime(at: context.processingTime())
        for _ in 0..<n {
            let k = Int32(try r.readVarInt())
            splits[k] = SplitState(maxTs: try r.readVarInt(), lastActiveMillis: now, idle: false)
        }
    }
}
