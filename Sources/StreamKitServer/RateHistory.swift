import Foundation
import Synchronization

/// The last minute of a supervised capture's or job's progress, one sample per tick: its rate
/// (per second over the tick), its lag, and when its counter last moved. Status responses and
/// the status page's sparklines read it.
final class RateHistory: Sendable {
    struct Sample: Sendable, Equatable {
        /// Milliseconds since the epoch.
        var time: Int64
        var ratePerSecond: Double
        var lagSeconds: Double
    }

    private struct State {
        var samples: [Sample] = []
        var lastTotal: Int?
        var lastNanos: UInt64 = 0
        var lastProgressMillis: Int64?
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int = 60) { self.capacity = capacity }

    /// Records `total` (a monotonic counter) and `lag` now.
    func record(total: Int, lagSeconds: Double, nowNanos: UInt64 = DispatchTime.now().uptimeNanoseconds,
                nowMillis: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) {
        state.withLock { s in
            var rate = 0.0
            if let last = s.lastTotal, nowNanos > s.lastNanos {
                rate = Double(max(0, total - last)) / (Double(nowNanos - s.lastNanos) / 1e9)
                if total > last { s.lastProgressMillis = nowMillis }
            } else if total > 0 {
                s.lastProgressMillis = nowMillis
            }
            s.lastTotal = total
            s.lastNanos = nowNanos
            s.samples.append(Sample(time: nowMillis, ratePerSecond: rate, lagSeconds: lagSeconds))
            if s.samples.count > capacity { s.samples.removeFirst(s.samples.count - capacity) }
        }
    }

    var samples: [Sample] { state.withLock { $0.samples } }
    /// The newest rate, 0 before two samples.
    var currentRate: Double { state.withLock { $0.samples.last?.ratePerSecond ?? 0 } }
    /// When the counter last grew (ms since the epoch): now when `currentTotal` is past the last sample.
    func lastProgressMillis(currentTotal: Int, nowMillis: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) -> Int64? {
        state.withLock { s in currentTotal > (s.lastTotal ?? 0) ? nowMillis : s.lastProgressMillis }
    }
}
