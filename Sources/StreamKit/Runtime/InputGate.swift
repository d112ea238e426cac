public import DequeModule

/// What travels on a channel between subtasks.
public enum ChannelMessage<Element: Sendable>: Sendable {
    case batch(Batch<Element>)
    /// An aligned checkpoint barrier.
    case barrier(Int64)
    /// The producer finished (end of input).
    case end
}

/// High/low-water back-pressure policy of a channel, counted in batches.
///
/// A producer may push while the channel holds fewer than `high` batches; once it reaches `high`
/// the producer is paused until the consumer has drained it to `low` or fewer.
public struct HighLowWatermark: Sendable, Hashable {
    public var low: Int
    public var high: Int
    public init(low: Int, high: Int) {
        precondition(low >= 0 && high > low, "need 0 <= low < high")
        self.low = low; self.high = high
    }
    /// Default: 16 batches high, 4 low.
    public static let `default` = HighLowWatermark(low: 4, high: 16)
}

/// The input side of a subtask: one bounded queue per upstream producer, all behind one lock.
///
/// Per-producer queues make barrier alignment natural: once a producer's barrier has arrived the
/// consumer stops reading that queue, the queue fills, and that producer is back-pressured until
/// the other producers' barriers arrive.
@usableFromInline
final class InputGate<Element: Sendable>: @unchecked Sendable {
    // @unchecked: all mutable state is guarded by `lock`.
    @usableFromInline let lock = ConditionLock()
    @usableFromInline var queues: [Deque<ChannelMessage<Element>>]
    @usableFromInline var batchesQueued: [Int]
    @usableFromInline var pausedProducer: [Bool]
    @usableFromInline var blocked: [Bool]
    @usableFromInline let policy: HighLowWatermark
    @usableFromInline var cancelled = false
    @usableFromInline var nextChannel = 0
    @usableFromInline let metrics: ChannelMetrics
    /// Drained batches handed back by the consumer, reused by producers (no allocation, no page
    /// faults per batch).
    @usableFromInline var recycled: [Batch<Element>] = []

    @usableFromInline init(channels: Int, policy: HighLowWatermark, metrics: ChannelMetrics) {
        queues = Array(repeating: Deque(), count: channels)
        batchesQueued = Array(repeating: 0, count: channels)
        pausedProducer = Array(repeating: false, count: channels)
        blocked = Array(repeating: false, count: channels)
        self.policy = policy
        self.metrics = metrics
    }

    @usableFromInline var channelCount: Int { queues.count }

    /// Gives a drained batch's storage back for reuse.
    @inlinable func recycle(_ batch: inout Batch<Element>) {
        batch.removeAll()
        let b = batch
        batch = Batch()
        lock.withLock { if recycled.count < 64 { recycled.append(b) } }
    }

    /// An empty batch with storage, recycled when possible.
    @inlinable func emptyBatch(capacity: Int) -> Batch<Element> {
        lock.withLock { recycled.popLast() } ?? Batch(capacity: capacity)
    }

    /// Pushes a message from producer `channel`; blocks while that channel is over its high mark.
    /// Returns the nanoseconds spent back-pressured.
    @inlinable @discardableResult
    func push(_ message: ChannelMessage<Element>, channel: Int, hook: BackpressureHook? = nil) -> UInt64 {
        var waited: UInt64 = 0
        lock.lock()
        if case .batch = message, batchesQueued[channel] >= policy.high {
            pausedProducer[channel] = true
            let start = MonotonicClock.nanos()
            metrics.pauses.add(1)
            if let hook {
                lock.unlock(); hook.pauses += 1; hook.onPause(); lock.lock()
            }
            while pausedProducer[channel] && !cancelled { lock.wait() }
            waited = MonotonicClock.nanos() &- start
            metrics.backpressuredNanos.add(waited)
            if let hook { lock.unlock(); hook.recordBackpressure(nanos: waited); hook.onResume(); lock.lock() }
        }
        if cancelled { lock.unlock(); return waited }
        if case .batch = message { batchesQueued[channel] += 1 }
        queues[channel].append(message)
        let total = batchesQueued.reduce(0, +)
        metrics.recordOccupancy(total)
        lock.broadcast()
        lock.unlock()
        return waited
    }

    /// Takes the next message from any unblocked channel, waiting when there is none.
    /// Returns nil when cancelled.
    @usableFromInline enum TakeResult { case message(Int, ChannelMessage<Element>), timeout, cancelled }

    /// Takes the next message from any unblocked channel, waiting at most `timeoutNanos`.
    @inlinable
    func take(timeoutNanos: UInt64) -> TakeResult {
        lock.lock(); defer { lock.unlock() }
        var timedOut = false
        while true {
            if cancelled { return .cancelled }
            let n = queues.count
            for step in 0..<n {
                let c = (nextChannel + step) % n
                if blocked[c] || queues[c].isEmpty { continue }
                let message = queues[c].removeFirst()
                if case .batch = message {
                    batchesQueued[c] -= 1
                    if pausedProducer[c] && batchesQueued[c] <= policy.low {
                        pausedProducer[c] = false
                        lock.broadcast()
                    }
                }
                nextChannel = (c + 1) % n
                metrics.occupancy.set(Int64(batchesQueued.reduce(0, +)))
                return .message(c, message)
            }
            if timedOut { return .timeout }
            if !lock.wait(nanos: timeoutNanos) { timedOut = true }
        }
    }


    @inlinable func setBlocked(_ channel: Int, _ value: Bool) {
        lock.withLock { blocked[channel] = value; lock.broadcast() }
    }

    @inlinable func unblockAll() {
        lock.withLock {
            for i in blocked.indices { blocked[i] = false }
            lock.broadcast()
        }
    }

    @usableFromInline func cancel() {
        lock.withLock { cancelled = true; lock.broadcast() }
    }
}
