public import StreamKit
public import Glibc

/// A pair emitted by an interval join, with the event times of both records.
public struct JoinedPair<Left: Sendable, Right: Sendable>: Sendable {
    public var left: Left
    public var right: Right
    public var leftTimestamp: EventTime
    public var rightTimestamp: EventTime
    @inlinable public init(left: Left, right: Right, leftTimestamp: EventTime, rightTimestamp: EventTime) {
        self.left = left; self.right = right; self.leftTimestamp = leftTimestamp; self.rightTimestamp = rightTimestamp
    }
}

extension JoinedPair: Equatable where Left: Equatable, Right: Equatable {}
extension JoinedPair: Hashable where Left: Hashable, Right: Hashable {}

/// Interval join of two keyed streams (Flink's `intervalJoin`): emits every pair `(a, b)` of the
/// same key with `a.ts + lower ≤ b.ts ≤ a.ts + upper`, once, with event time `max(a.ts, b.ts)`.
///
/// Each side is buffered per key in `MapState` (event time → records). A record first joins
/// the other side's buffer, then is buffered until the watermark passes the last time a record of
/// the other side could still match it: left `a` until `a.ts + max(upper, 0)`, right `b` until
/// `b.ts - min(lower, 0)`; an event-time timer just past that time removes it. So the buffers hold
/// only records within `[watermark - (upper - lower), ...)` and do not grow with the stream.
///
/// Records behind the watermark (`ts < watermark`) are late: they are dropped, as in Flink (they
/// could miss partners that were already cleaned up). Out-of-order records within the watermark
/// delay join exactly as in-order ones.
///
/// ```swift
/// // Orders placed within 10 minutes after a click on the same item.
/// clicks.connect(orders, leftKey: { $0.item }, rightKey: { $0.item })
///     .intervalJoin(between: .zero, and: .minutes(10))
/// ```
public struct IntervalJoinFunction<Key: StreamKey, Left: Sendable & StateCodable, Right: Sendable & StateCodable>: KeyedProcessFunction {
    public typealias Input = Either<Left, Right>
    public typealias Output = JoinedPair<Left, Right>

    /// Bounds in ms: `b.ts - a.ts` must lie in `lower...upper`.
    public let lower: Int64
    public let upper: Int64
    @usableFromInline var leftBuffer: MapState<Key, EventTime, [Left]>!
    @usableFromInline var rightBuffer: MapState<Key, EventTime, [Right]>!

    /// Pairs with `a.ts + lower ≤ b.ts ≤ a.ts + upper`; `lower ≤ upper`, either may be negative.
    public init(between lower: Duration, and upper: Duration) {
        precondition(lower <= upper, "interval join: lower bound must not exceed the upper bound")
        self.lower = lower.milliseconds; self.upper = upper.milliseconds
    }

    public mutating func open(state: KeyedStateStore<Key>) throws {
        leftBuffer = state.mapState("interval-join.left")
        rightBuffer = state.mapState("interval-join.right")
    }

    /// Last event time at which a buffered left / right record can still find a partner.
    @inlinable func leftExpiry(_ ts: EventTime) -> EventTime { ts &+ Swift.max(upper, 0) }
    @inlinable func rightExpiry(_ ts: EventTime) -> EventTime { ts &- Swift.min(lower, 0) }

    public func processElement(_ value: Input, context: KeyedProcessContext<Key, Output>) throws {
        let ts = context.timestamp
        if ts < context.currentWatermark { return }   // late
        switch value {
        case let .left(a):
            for (bts, bs) in rightBuffer.entriesOfCurrentKey where bts >= ts &+ lower && bts <= ts &+ upper {
                for b in bs { context.emit(JoinedPair(left: a, right: b, leftTimestamp: ts, rightTimestamp: bts), timestamp: Swift.max(ts, bts)) }
            }
            var list = leftBuffer[ts] ?? []
            list.append(a)
            leftBuffer[ts] = list
            context.registerEventTimeTimer(leftExpiry(ts) &+ 1)
        case let .right(b):
            for (ats, as_) in leftBuffer.entriesOfCurrentKey where ts >= ats &+ lower && ts <= ats &+ upper {
                for a in as_ { context.emit(JoinedPair(left: a, right: b, leftTimestamp: ats, rightTimestamp: ts), timestamp: Swift.max(ts, ats)) }
            }
            var list = rightBuffer[ts] ?? []
            list.append(b)
            rightBuffer[ts] = list
            context.registerEventTimeTimer(rightExpiry(ts) &+ 1)
        }
    }

    public func onTimer(_ time: Int64, domain: TimeDomain, context: KeyedProcessContext<Key, Output>) throws {
        let wm = context.currentWatermark
        for (ts, _) in leftBuffer.entriesOfCurrentKey where leftExpiry(ts) < wm { leftBuffer[ts] = nil }
        for (ts, _) in rightBuffer.entriesOfCurrentKey where rightExpiry(ts) < wm { rightBuffer[ts] = nil }
    }
}

extension ConnectedStreams where Left: StateCodable, Right: StateCodable {
    /// Interval join: every pair of a left record `a` and a right record `b` of the same key with
    /// `a.ts + lower ≤ b.ts ≤ a.ts + upper` (see ``IntervalJoinFunction``).
    ///
    /// ```swift
    /// views.connect(purchases, leftKey: \.user, rightKey: \.user)
    ///     .intervalJoin(between: .seconds(-30), and: .minutes(5))
    /// ```
    @inlinable
    public func intervalJoin(between lower: Duration, and upper: Duration, name: String = "interval-join")
    -> DataStream<JoinedPair<Left, Right>> {
        process(IntervalJoinFunction<Key, Left, Right>(between: lower, and: upper), name: name)
    }
}
