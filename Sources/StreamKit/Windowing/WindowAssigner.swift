/// A window: the half-open event-time interval `[start, end)`.
public struct TimeWindow: Sendable, Hashable, Comparable {
    public var start: EventTime
    public var end: EventTime
    @inlinable public init(start: EventTime, end: EventTime) { self.start = start; self.end = end }
    /// The largest timestamp inside the window (`end - 1`): the window fires when the watermark reaches it.
    @inlinable public var maxTimestamp: EventTime { end &- 1 }
    @inlinable public static func < (a: TimeWindow, b: TimeWindow) -> Bool { (a.end, a.start) < (b.end, b.start) }
    /// Whether two windows overlap or touch (session merging, like Flink's `TimeWindow.intersects`).
    @inlinable public func intersectsOrTouches(_ o: TimeWindow) -> Bool { start <= o.end && end >= o.start }
}

/// How records are assigned to windows.
public enum WindowAssigner: Sendable, Hashable {
    /// Fixed-size, non-overlapping windows aligned to the epoch (plus `offset`).
    case tumbling(sizeMillis: Int64, offsetMillis: Int64)
    /// Fixed-size windows every `slide`, aligned to the epoch (plus `offset`): hopping windows.
    case sliding(sizeMillis: Int64, slideMillis: Int64, offsetMillis: Int64)
    /// Per-key sessions closed by a gap of inactivity; sessions that touch merge.
    case session(gapMillis: Int64)
    /// A global window per key that fires (and purges) every `count` records.
    case count(Int)

    /// Tumbling windows of `size`.
    @inlinable public static func tumbling(size: Duration, offset: Duration = .zero) -> WindowAssigner {
        precondition(size.milliseconds > 0, "window size must be positive")
        return .tumbling(sizeMillis: size.milliseconds, offsetMillis: offset.milliseconds)
    }
    /// Sliding (hopping) windows of `size` every `slide`.
    @inlinable public static func sliding(size: Duration, slide: Duration, offset: Duration = .zero) -> WindowAssigner {
        precondition(size.milliseconds > 0 && slide.milliseconds > 0, "size and slide must be positive")
        return .sliding(sizeMillis: size.milliseconds, slideMillis: slide.milliseconds, offsetMillis: offset.milliseconds)
    }
    /// Session windows with an inactivity `gap`.
    @inlinable public static func session(gap: Duration) -> WindowAssigner {
        precondition(gap.milliseconds > 0, "session gap must be positive")
        return .session(gapMillis: gap.milliseconds)
    }
    /// Count-triggered global windows: fire every `count` records per key.
    @inlinable public static func countWindow(_ count: Int) -> WindowAssigner {
        precondition(count > 0, "count must be positive")
        return .count(count)
    }

    /// The start of the window of size/slide `slide` containing `ts` (floor, correct for negative times).
    @inlinable static func alignedStart(_ ts: EventTime, slide: Int64, offset: Int64) -> EventTime {
        let r = (ts &- offset) % slide
        return ts &- (r < 0 ? r &+ slide : r)
    }

    /// Parses the command-line form: `tumble:1m`, `hop:5m:1m`, `session:30m`, `count:100`.
    public static func parse(_ text: String) throws -> WindowAssigner {
        let parts = text.split(separator: ":").map(String.init)
        func dur(_ s: String) throws -> Duration { try parseDuration(s) }
        switch parts.first {
        case "tumble" where parts.count == 2: return .tumbling(size: try dur(parts[1]))
        case "hop" where parts.count == 3, "slide" where parts.count == 3:
            return .sliding(size: try dur(parts[1]), slide: try dur(parts[2]))
        case "session" where parts.count == 2: return .session(gap: try dur(parts[1]))
        case "count" where parts.count == 2:
            guard let n = Int(parts[1]), n > 0 else { break }
            return .countWindow(n)
        default: break
        }
        throw StreamKitError(.configuration, "bad window '\(text)': use tumble:SIZE, hop:SIZE:SLIDE, session:GAP or count:N (sizes like 500ms, 10s, 5m, 1h)")
    }
}

/// Parses durations like `250ms`, `2s`, `5m`, `1h`, `1d` (a bare number is milliseconds).
public func parseDuration(_ text: String) throws -> Duration {
    let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
    for (suffix, factor) in units where text.hasSuffix(suffix) {
        let number = text.dropLast(suffix.count)
        if let n = Int64(number), n >= 0 { return .milliseconds(n * factor) }
    }
    if let n = Int64(text), n >= 0 { return .milliseconds(n) }
    throw StreamKitError(.configuration, "bad duration '\(text)': use e.g. 500ms, 10s, 5m, 1h")
}

/// One fired window of one key. The fields of its `value` read as its own: `r.count` for
/// `r.value.count` (when `value` has no field named `key`, `windowStart`, `windowEnd` or `value`).
@dynamicMemberLookup
public struct WindowResult<Key: Sendable, Value: Sendable>: Sendable {
    public var key: Key
    /// Window start (inclusive); `Int64.min` for count windows.
    public var windowStart: EventTime
    /// Window end (exclusive); `Int64.max` for count windows.
    public var windowEnd: EventTime
    public var value: Value
    @inlinable public init(key: Key, windowStart: EventTime, windowEnd: EventTime, value: Value) {
        self.key = key; self.windowStart = windowStart; self.windowEnd = windowEnd; self.value = value
    }
    /// A field of ``value`` by name.
    @inlinable public subscript<T>(dynamicMember field: KeyPath<Value, T>) -> T { value[keyPath: field] }
}
