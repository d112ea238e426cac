import ArgumentParser
import Dispatch
import Foundation
import Synchronization
import StreamKit
import StreamKitCapture

/// What `bench capture` does the same for every source: the capture on its own thread, waiting
/// for it (failing fast when it failed), a steady load at a rate of changes per second in 200
/// transactions per second for commit → acknowledged latency, and stopping it.
final class CaptureBenchHarness<Capture: ChangeCapture>: @unchecked Sendable {
    // @unchecked: the flags are atomics/mutexes; `capture` is Sendable.
    let capture: Capture
    let metrics: CaptureMetrics
    let stop = Atomic<Bool>(false)
    let failure = Mutex<(any Error)?>(nil)
    let done = DispatchSemaphore(value: 0)
    let started = MonotonicClock.nanos()

    init(_ capture: Capture, metrics: CaptureMetrics) {
        self.capture = capture; self.metrics = metrics
        Thread { [self] in
            do { try capture.run(until: { self.stop.load(ordering: .relaxed) }) } catch { failure.withLock { $0 = error } }
            done.signal()
        }.start()
    }

    func check() throws { if let e = failure.withLock({ $0 }) { throw e } }

    /// Seconds since the capture started.
    var elapsed: Double { Double(MonotonicClock.nanos() &- started) / 1e9 }

    /// Waits until `condition` holds (checking every 2 ms), failing when the capture failed or after `timeout` seconds.
    func wait(timeout: Double = 600, _ what: String, _ condition: () -> Bool) throws {
        let start = MonotonicClock.nanos()
        while !condition() {
            try check()
            if Double(MonotonicClock.nanos() &- start) / 1e9 > timeout { throw ValidationError("capture: \(what) not reached within \(Int(timeout)) s") }
            usleep(2000)
        }
    }

    /// A steady load of `rate` changes per second for `seconds` (200 transactions per second;
    /// `insert(first, count)` commits one transaction of `count` rows numbered from `first`),
    /// then waits until the capture published them (`changesBefore` + the new rows) and Kafka
    /// acknowledged every transaction. Returns the achieved rate and commit → acknowledged percentiles (ms).
    func steadyLoad(rate: Int, seconds: Int, firstRow: Int, changesBefore: Int,
                    insert: (_ first: Int, _ count: Int) throws -> Void) throws -> (rate: Double, p50: Double, p95: Double, p99: Double) {
        metrics.latency.reset()
        metrics.receiveLatency.reset()
        let perTx = max(1, rate / 200)
        let txs = 200 * seconds
        let loadStart = MonotonicClock.nanos()
        var next = firstRow
        for t in 0..<txs {
            let due = loadStart &+ UInt64(t) * 5_000_000
            let now = MonotonicClock.nanos()
            if due > now { usleep(UInt32((due - now) / 1000)) }
            try insert(next + 1, perTx)
            next += perTx
        }
        let achieved = Double(next - firstRow) / (Double(MonotonicClock.nanos() &- loadStart) / 1e9)
        let target = changesBefore + (next - firstRow)
        try wait(timeout: 300, "the steady load") { metrics.changes.load(ordering: .relaxed) >= target && metrics.latency.count >= UInt64(txs) }
        return (achieved, metrics.latencyMillis(percentile: 50), metrics.latencyMillis(percentile: 95), metrics.latencyMillis(percentile: 99))
    }

    func finish() throws {
        stop.store(true, ordering: .relaxed)
        done.wait()
        try check()
    }
}
