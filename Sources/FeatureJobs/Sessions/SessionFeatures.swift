public import StreamKit
public import Glibc

/// Features of the session an event belongs to, emitted on every event (`update`) and once when
/// the session closes (`closed`).
public struct SessionFeatures<Key: StreamKey>: Sendable, Hashable {
    /// Why the record was emitted.
    public enum Kind: Sendable, Hashable {
        /// An event joined (or started) the session; the features include it.
        case update
        /// The session ended: no event for `gap` after its last one (event time). Final values.
        case closed
    }
    public var key: Key
    public var kind: Kind
    /// Event time of the session's first event.
    public var sessionStart: EventTime
    /// Event time of the session's latest event.
    public var lastEventTime: EventTime
    /// Events in the session so far.
    public var eventCount: Int64
    /// Distinct items in the session (exact while `distinctItemsExact`; a lower bound after).
    public var distinctItems: Int64
    /// False once the session saw more distinct items than the cap (``SessionFeatureFunction/maxDistinctItems``).
    public var distinctItemsExact: Bool
    /// `update`: this event's time minus the latest event time the session had before it (negative
    /// for an out-of-order event); nil for the event that started the session. `closed`: nil.
    public var sinceLastEventMs: Int64?

    /// Session length so far: latest minus first event time (ms).
    @inlinable public var lengthMs: Int64 { lastEventTime - sessionStart }

    @inlinable
    public init(key: Key, kind: Kind, sessionStart: EventTime, lastEventTime: EventTime, eventCount: Int64,
                distinctItems: Int64, distinctItemsExact: Bool, sinceLastEventMs: Int64?) {
        self.key = key; self.kind = kind; self.sessionStart = sessionStart; self.lastEventTime = lastEventTime
        self.eventCount = eventCount; self.distinctItems = distinctItems; self.distinctItemsExact = distinctItemsExact
        self.sinceLastEventMs = sinceLastEventMs
    }
}

/// One open session in the state of a ``SessionFeatureFunction``.
public struct OpenSession<Item: Hashable & Sendable & StateCodable>: Sendable, Hashable, StateCodable {
    public var start: EventTime
    public var last: EventTime
    public var count: Int64
    public var items: Set<Item>
    public var itemsExact: Bool
    @inlinable public init(start: EventTime, last: EventTime, count: Int64, items: Set<Item>, itemsExact: Bool) {
        self.start = start; self.last = last; self.count = count; self.items = items; self.itemsExact = itemsExact
    }
    public func encode(to w: inout ByteWriter) {
        w.writeVarInt(start); w.writeVarInt(last); w.writeVarInt(count); items.encode(to: &w); w.writeBool(itemsExact)
    }
    public init(from r: inout ByteReader) throws {
        start = try r.readVarInt(); last = try r.readVarInt(); count = try r.readVarInt()
        items = try Set<Item>(from: &r); itemsExact = try r.readBool()
    }
}

/// Per-key session features updated as the session grows (a ``KeyedProcessFunction``).
///
/// A session is a maximal run of a key's events in which consecutive events (in event time) are
/// less than `gap` apart. On every event the function emits the features of the session that event
/// belongs to (``SessionFeatures/Kind/update``); when the watermark reaches `last + gap` an
/// event-time timer closes the session and emits its final features (``SessionFeatures/Kind/closed``).
///
/// **Out of order events.** State holds every *open* session of the key (a key can have several
/// when events arrive out of order). An event joins every open session it is within `gap` of
/// (`start - gap < t < last + gap`), merging them when it bridges two; so an out-of-order event
/// that falls inside the current session extends it, never starts a new one, even if it is behind
/// the watermark. An event that fits no open session starts a new one, unless it is behind the
/// watermark (`t < watermark`): then it may belong to a session that already closed, and it is
/// dropped as late. With the watermark delay covering the out-of-orderness, the result equals
/// computing sessions over all of a key's events so far (see the tests' reference).
///
/// The boundary is strict: an event exactly `gap` after the last one starts a new session (so
/// the session is final when the watermark reaches `last + gap`). ``SessionWindowOperator`` merges
/// windows that touch, i.e. also joins events exactly `gap` apart.
///
/// **Distinct items** are counted exactly in a per-session set of at most `maxDistinctItems`
/// items; beyond it new items are not stored, the count becomes a lower bound and
/// `distinctItemsExact` false. Memory per session is bounded by the cap.
///
/// ```swift
/// clicks.assignTimestamps(\.ts, watermark: .boundedOutOfOrderness(.seconds(5)))
///     .keyBy(\.user)
///     .process(SessionFeatureFunction<Int64, Click, Int64>(gap: .minutes(30), item: { $0.item }))
/// ```
public struct SessionFeatureFunction<Key: StreamKey, Input: Sendable, Item: Hashable & Sendable & StateCodable>: KeyedProcessFunction {
    public typealias Output = SessionFeatures<Key>

    /// Inactivity (ms) that ends a session.
    public let gap: Int64
    /// Most distinct items stored per session.
    public let maxDistinctItems: Int
    @usableFromInline let item: @Sendable (Input) -> Item
    @usableFromInline var sessions: ValueState<Key, [OpenSession<Item>]>!

    /// - Parameters:
    ///   - gap: inactivity that ends a session (e.g. 30 minutes).
    ///   - maxDistinctItems: cap of the exact distinct-item set per session. Default: 1024.
    ///   - item: the item of an event (product, page, ...), counted distinct per session.
    public init(gap: Duration, maxDistinctItems: Int = 1024, item: @escaping @Sendable (Input) -> Item) {
        precondition(gap.milliseconds > 0, "session gap must be positive")
        precondition(maxDistinctItems >= 0, "maxDistinctItems must not be negative")
        self.gap = gap.milliseconds; self.maxDistinctItems = maxDistinctItems; self.item = item
    }

    public mutating func open(state: KeyedStateStore<Key>) throws {
        sessions = state.valueState("session-features.sessions")
    }

    @usableFromInline func features(_ s: OpenSession<Item>, key: Key, kind: SessionFeatures<Key>.Kind, since: Int64?) -> SessionFeatures<Key> {
        SessionFeatures(key: key, kind: kind, sessionStart: s.start, lastEventTime: s.last, eventCount: s.count,
                        distinctItems: Int64(s.items.count), distinctItemsExact: s.itemsExact, sinceLastEventMs: since)
    }

    @usableFromInline func insert(_ item: Item, into s: inout OpenSession<Item>) {
        if s.items.contains(item) { return }
        if s.items.count < maxDistinctItems { s.items.insert(item) } else { s.itemsExact = false }
    }

    public func processElement(_ value: Input, context: KeyedProcessContext<Key, Output>) throws {
        let t = context.timestamp
        var open = sessions.value ?? []
        var merged: OpenSession<Item>? = nil
        var previousLast: EventTime? = nil
        var oldCloseTimes: [EventTime] = []
        open.removeAll { s in
            guard t > s.start &- gap && t < s.last &+ gap else { return false }
            oldCloseTimes.append(s.last &+ gap)
            previousLast = Swift.max(previousLast ?? s.last, s.last)
            if var m = merged {
                m.start = Swift.min(m.start, s.start); m.last = Swift.max(m.last, s.last); m.count += s.count
                m.itemsExact = m.itemsExact && s.itemsExact
                for i in s.items { insert(i, into: &m) }
                merged = m
            } else {
                merged = s
            }
            return true
        }
        if merged == nil && t < context.currentWatermark { return }   // late: its session may have closed
        var s = merged ?? OpenSession(start: t, last: t, count: 0, items: [], itemsExact: true)
        s.start = Swift.min(s.start, t); s.last = Swift.max(s.last, t); s.count += 1
        insert(item(value), into: &s)
        open.append(s)
        sessions.update(open)
        let close = s.last &+ gap
        for old in oldCloseTimes where old != close && !open.contains(where: { $0.last &+ gap == old }) {
            context.deleteEventTimeTimer(old)
        }
        context.registerEventTimeTimer(close)
        context.emit(features(s, key: context.key, kind: .update, since: previousLast.map { t - $0 }), timestamp: t)
    }

    public func onTimer(_ time: Int64, domain: TimeDomain, context: KeyedProcessContext<Key, Output>) throws {
        guard var open = sessions.value else { return }
        let wm = context.currentWatermark
        let closing = open.filter { $0.last &+ gap <= wm }.sorted { $0.start < $1.start }
        if closing.isEmpty { return }
        for s in closing {
            context.emit(features(s, key: context.key, kind: .closed, since: nil), timestamp: s.last &+ gap)
        }
        open.removeAll { $0.last &+ gap <= wm }
        if open.isEmpty { sessions.clear() } else { sessions.update(open) }
    }
}
