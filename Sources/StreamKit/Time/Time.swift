public import Glibc

/// Event time and watermarks are milliseconds since the Unix epoch (UTC), as in Flink and Debezium.
public typealias EventTime = Int64

extension Duration {
    /// A duration of `minutes` minutes.
    @inlinable public static func minutes(_ minutes: Int64) -> Duration { .seconds(minutes * 60) }
    /// A duration of `hours` hours.
    @inlinable public static func hours(_ hours: Int64) -> Duration { .seconds(hours * 3600) }
    /// The duration in whole milliseconds (rounded toward zero).
    @inlinable public var milliseconds: Int64 {
        let c = components
        return c.seconds &* 1000 &+ c.attoseconds / 1_000_000_000_000_000
    }
}

/// Watermark sentinels.
public enum Watermark {
    /// No watermark yet: nothing is known about event-time progress.
    public static let none: EventTime = .min
    /// End of input: event time is complete, every remaining window fires.
    public static let endOfInput: EventTime = .max
}

/// A monotonic clock in nanoseconds, used for processing time, latency and idleness.
public enum MonotonicClock {
    @inlinable public static func nanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

/// Wall-clock time in milliseconds since the epoch (processing time).
public enum WallClock {
    @inlinable public static func millis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) &* 1000 &+ Int64(ts.tv_nsec) / 1_000_000
    }
    @inlinable public static func micros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) &* 1_000_000 &+ Int64(ts.tv_nsec) / 1000
    }
}

