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

/// Parses a duration of the command line and of window specs: a number (decimals allowed) and a
/// unit, one of `ms`, `s`, `m`, `h`, `d`: `250ms`, `1.5s`, `10s`, `5m`, `1h`. A bare number is
/// rejected (`10` once meant 10 ms to one option and 10 s to another, so the unit is required),
/// except `0`, which means the same in every unit.
public func parseDuration(_ text: String) throws -> Duration {
    if text == "0" { return .zero }
    let units: [(String, Double)] = [("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3_600e9), ("d", 86_400e9)]
    let t = text
    for (suffix, nanosPerUnit) in units where t.hasSuffix(suffix) {
        let number = t.dropLast(suffix.count)
        // Digits with at most one decimal point: no sign, exponent, inf or nan.
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              number.filter({ $0 == "." }).count <= 1, let n = Double(number), n.isFinite else { break }
        let nanos = (n * nanosPerUnit).rounded()
        guard nanos < Double(Int64.max) else { break }
        return .nanoseconds(Int64(nanos))
    }
    if Double(t) != nil {
        throw StreamKitError(.configuration, "bad duration '\(text)': give a unit, e.g. \(t)ms or \(t)s (units: ms, s, m, h, d)")
    }
    throw StreamKitError(.configuration, "bad duration '\(text)': use e.g. 500ms, 1.5s, 10s, 5m, 1h")
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
