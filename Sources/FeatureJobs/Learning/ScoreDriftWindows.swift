public import StreamKit
import Foundation

/// The champion's score distribution in consecutive event-time windows (``OnlineLearner``'s
/// score-drift monitor): bucket counts of the current window and of the window before it. When a
/// score opens a new window, the closed window is compared with the one before it by the
/// population stability index (PSI).
public struct ScoreDriftWindows: Sendable, Hashable, StateCodable {
    /// Start of the current window (ms, aligned to the window size), `Int64.min` before the first score.
    public private(set) var start: EventTime = .min
    /// Bucket counts of the current window.
    public private(set) var current: [Int64]
    /// Bucket counts of the window before it (nil before there is one, and after a gap of more
    /// than a window or a reset).
    public private(set) var previous: [Int64]?

    /// Empty windows over `buckets` buckets.
    public init(buckets: Int) { current = [Int64](repeating: 0, count: buckets) }

    /// A closed window compared with the one before it.
    public struct Shift: Sendable, Hashable {
        public var psi: Double
        /// The two windows' starts and sizes.
        public var previousStart: EventTime, closedStart: EventTime
        public var previousCount: Int64, closedCount: Int64
    }

    /// Adds the score at `time` (in bucket `bucket`); when `time` is past the current window,
    /// first closes it and returns its comparison with the window before it (when both hold at
    /// least `minCount` scores).
    public mutating func add(bucket: Int, at time: EventTime, window: Int64, minCount: Int64) -> Shift? {
        let aligned = time - ((time % window) + window) % window
        var shift: Shift? = nil
        if start == .min {
            start = aligned
        } else if aligned > start {
            let closed = current
            let closedCount = closed.reduce(0, +)
            if let previous {
                let previousCount = previous.reduce(0, +)
                if previousCount >= minCount && closedCount >= minCount {
                    shift = Shift(psi: Self.psi(previous, closed), previousStart: start - window, closedStart: start,
                                  previousCount: previousCount, closedCount: closedCount)
                }
            }
            // The closed window is the next reference only if it is the one just before the new one.
            previous = aligned == start + window && closedCount > 0 ? closed : nil
            for i in current.indices { current[i] = 0 }
            start = aligned
        }
        current[bucket] += 1
        return shift
    }

    /// Forgets both windows (a new champion scores differently on purpose).
    public mutating func reset() {
        start = .min
        previous = nil
        for i in current.indices { current[i] = 0 }
    }

    /// PSI = Σ (qᵢ − pᵢ)·ln(qᵢ / pᵢ) over the buckets, with each proportion smoothed by half an
    /// observation (an empty bucket does not make it infinite).
    public static func psi(_ reference: [Int64], _ actual: [Int64]) -> Double {
        let b = Double(reference.count)
        let n = Double(reference.reduce(0, +)) + 0.5 * b, m = Double(actual.reduce(0, +)) + 0.5 * b
        var sum = 0.0
        for i in reference.indices {
            let p = (Double(reference[i]) + 0.5) / n, q = (Double(actual[i]) + 0.5) / m
            sum += (q - p) * log(q / p)
        }
        return sum
    }

    public func encode(to w: inout ByteWriter) {
        w.writeVarInt(start)
        current.encode(to: &w)
        w.writeUInt8(previous == nil ? 0 : 1)
        previous?.encode(to: &w)
    }

    public init(from r: inout ByteReader) throws {
        start = try r.readVarInt()
        current = try [Int64](from: &r)
        previous = try r.readUInt8() == 1 ? try [Int64](from: &r) : nil
    }
}
