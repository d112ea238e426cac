public import Synchronization
public import Glibc

/// Shared control of a running job, read by every task between batches.
public final class JobControl: Sendable {
    // Read by the @inlinable task loops.
    /// Set to stop the job (no end-of-input: windows are not flushed; a later restore continues).
    @usableFromInline let stopRequested = Atomic<Bool>(false)
    /// The newest checkpoint the sources should inject a barrier for.
    @usableFromInline let triggeredCheckpoint = Atomic<Int64>(0)
    /// The newest completed checkpoint (tasks notify their operators).
    @usableFromInline let completedCheckpoint = Atomic<Int64>(0)
    init() {}
}

/// What a source task needs from the runtime.
@usableFromInline
final class SourceTaskControl: @unchecked Sendable {
    // @unchecked: immutable after construction; the referenced objects are thread-safe.
    @usableFromInline let job: JobControl
    @usableFromInline let coordinator: CheckpointCoordinator
    @usableFromInline let uid: String
    @usableFromInline let hook: BackpressureHook
    /// Test-only hooks (deterministic checkpoints, injected failures); nil in production.
    @usableFromInline let testHooks: SourceTestHooks?
    init(job: JobControl, coordinator: CheckpointCoordinator, uid: String, hook: BackpressureHook, testHooks: SourceTestHooks?) {
        self.job = job; self.coordinator = coordinator; self.uid = uid; self.hook = hook; self.testHooks = testHooks
    }
}

/// The thread loop of one source subtask: poll a batch, push it through the chain; inject
/// barriers between batches; stop polling while back-pressured (the push blocks).
@usableFromInline
final class SourceTask<Reader: SourceReader> {
    @usableFromInline var reader: Reader
    @usableFromInline let output: StageInput<Reader.Output>
    @usableFromInline let deadLetters: StageInput<DeadLetter<String>>?
    @usableFromInline let context: BuildContext
    @usableFromInline let control: SourceTaskControl
    @usableFromInline let batchSize: Int

    @inlinable
    init(reader: Reader, output: StageInput<Reader.Output>, deadLetters: StageInput<DeadLetter<String>>?,
         context: BuildContext, control: SourceTaskControl, batchSize: Int) {
        self.reader = reader; self.output = output; self.deadLetters = deadLetters
        self.context = context; self.control = control; self.batchSize = batchSize
    }

    @inlinable
    func run() throws {
        let metrics = context.operatorContext.metrics
        try reader.open(context: SourceContext(subtask: context.subtask, parallelism: context.parallelism,
                                               metrics: metrics, jobMetrics: context.operatorContext.jobMetrics))
        defer { reader.close() }
        control.hook.onPause = { [unowned self] in self.reader.pause() }
        control.hook.onResume = { [unowned self] in self.reader.resume() }
        var batch = Batch<Reader.Output>(capacity: batchSize)
        var dead: [DeadLetter<String>] = []
        var deadBatch = Batch<DeadLetter<String>>()
        // A checkpoint triggered before this subtask's loop started (another source subtask opened
        // sooner and reached its trigger) still needs this subtask's barrier: it completes only
        // when every task acknowledged it, so it is pending, and until it completes no other
        // checkpoint can be triggered. Starting from the triggered id instead skipped that barrier
        // and left the job without checkpoints (seen as a stalled restore test under load).
        var lastBarrier: Int64 = 0
        var lastCompleted = control.job.completedCheckpoint.load(ordering: .acquiring)
        let testHooks = control.testHooks?.start(completedCheckpoint: lastCompleted)
        var lastTick = MonotonicClock.nanos()
        while !control.job.stopRequested.load(ordering: .relaxed) {
            // Test hooks run once per batch (never per record), and only when a test set them.
            if let testHooks { testHooks.beforePoll(coordinator: control.coordinator) }
            // Checkpoint barrier between batches: snapshot the position, send the barrier.
            let triggered = control.job.triggeredCheckpoint.load(ordering: .acquiring)
            if triggered > lastBarrier {
                lastBarrier = triggered
                let collector = SnapshotCollector(checkpointID: triggered)
                var snap = OperatorSnapshot(checkpointID: triggered)
                reader.snapshotPosition(into: &snap.operatorState)
                collector.add(stage: control.uid, subtask: context.subtask, bytes: snap.encoded())
                try output.barrier(collector)
                try deadLetters?.barrier(collector)
                control.coordinator.acknowledge(collector)
            }
            let completed = control.job.completedCheckpoint.load(ordering: .acquiring)
            if completed > lastCompleted { try notifyCompleted(completed, after: &lastCompleted) }
            let status = try reader.poll(into: &batch, deadLetters: &dead, maxRecords: batchSize)
            let now = MonotonicClock.nanos()
            if batch.isEmpty && batch.split >= 0 {
                // A reader announcing a split (e.g. a newly assigned partition) before its first record.
                batch.ingestNanos = now
                try output.batch(&batch)
                batch.split = -1
            } else if !batch.isEmpty {
                if let testHooks { testHooks.records += batch.count }
                metrics.recordsOut.add(UInt64(batch.count))
                context.operatorContext.jobMetrics.sourceRecords.add(UInt64(batch.count))
                batch.ingestNanos = now
                try output.batch(&batch)
                batch.removeAll()
                batch.split = -1
            }
            if !dead.isEmpty {
                metrics.droppedRecords.add(UInt64(dead.count))
                if let deadLetters {
                    for d in dead { deadBatch.append(d, timestamp: Watermark.none, watermark: Watermark.none) }
                    deadBatch.ingestNanos = now
                    try deadLetters.batch(&deadBatch)
                    deadBatch.removeAll()
                }
                dead.removeAll(keepingCapacity: true)
            }
            if let testHooks { try testHooks.afterBatch(completedCheckpoint: lastCompleted) }
            if status == .finished {
                try output.end()
                try deadLetters?.end()
                // The chain ended (sinks committed what was open): no later confirmation waits for it.
                control.coordinator.notified(from: lastCompleted, to: .max)
                return
            }
            if now &- lastTick >= 100_000_000 || status == .idle {
                lastTick = now
                let wall = context.operatorContext.processingTime()
                try output.tick(wall)
                try deadLetters?.tick(wall)
                if status == .idle { usleep(1000) }
            }
        }
        // Stopped: a checkpoint that completed meanwhile (a graceful stop's final one) is still
        // announced, so its sinks commit and it becomes the restore point.
        let completed = control.job.completedCheckpoint.load(ordering: .acquiring)
        if completed > lastCompleted { try notifyCompleted(completed, after: &lastCompleted) }
    }

    /// Tells the chain that `completed` completed, then the coordinator that this task handled it.
    @inlinable
    func notifyCompleted(_ completed: Int64, after lastCompleted: inout Int64) throws {
        let previous = lastCompleted
        lastCompleted = completed
        try reader.checkpointCompleted(completed)
        try output.checkpointCompleted(completed)
        try deadLetters?.checkpointCompleted(completed)
        control.coordinator.notified(from: previous, to: completed)
    }
}

/// What a gate task needs from the runtime.
@usableFromInline
final class GateTaskControl: @unchecked Sendable {
    // @unchecked: immutable after construction; the referenced objects are thread-safe.
    @usableFromInline let job: JobControl
    @usableFromInline let coordinator: CheckpointCoordinator
    @usableFromInline let processingTime: @Sendable () -> Int64
    init(job: JobControl, coordinator: CheckpointCoordinator, processingTime: @escaping @Sendable () -> Int64) {
        self.job = job; self.coordinator = coordinator; self.processingTime = processingTime
    }
}

/// The thread loop of a subtask fed through an input gate: combines the watermarks of its input
/// channels (minimum over active channels, idle ones excluded), aligns checkpoint barriers, and
/// pushes batches through its chain.
@usableFromInline
final class GateTask<Element: Sendable> {
    @usableFromInline let gate: InputGate<Element>
    @usableFromInline let input: StageInput<Element>
    @usableFromInline let control: GateTaskControl

    @inlinable init(gate: InputGate<Element>, input: StageInput<Element>, control: GateTaskControl) {
        self.gate = gate; self.input = input; self.control = control
    }

    @inlinable
    func run() throws {
        let n = gate.channelCount
        var channelWM = [EventTime](repeating: Watermark.none, count: n)
        var idle = [Bool](repeating: false, count: n)
        var ended = [Bool](repeating: false, count: n)
        var barrierSeen = [Bool](repeating: false, count: n)
        var alignedCollector: SnapshotCollector? = nil
        var emitted: EventTime = Watermark.none
        var lastCompleted = control.job.completedCheckpoint.load(ordering: .acquiring)
        var lastTick = MonotonicClock.nanos()

        func combined(excluding c: Int) -> (EventTime, anyActive: Bool) {
            var low = EventTime.max, any = false
            for i in 0..<n where i != c && !ended[i] && !idle[i] { any = true; if channelWM[i] < low { low = channelWM[i] } }
            return (low, any)
        }

        func notifyCompleted() throws {
            let completed = control.job.completedCheckpoint.load(ordering: .acquiring)
            guard completed > lastCompleted else { return }
            let previous = lastCompleted
            lastCompleted = completed
            try input.checkpointCompleted(completed)
            control.coordinator.notified(from: previous, to: completed)
        }

        while true {
            try notifyCompleted()
            let now = MonotonicClock.nanos()
            if now &- lastTick >= 100_000_000 { lastTick = now; try input.tick(control.processingTime()) }

            switch gate.take(timeoutNanos: 100_000_000) {
            case .cancelled:
                // Stopped: announce a checkpoint that completed meanwhile (a graceful stop's final one).
                try notifyCompleted()
                return
            case .timeout:
                continue
            case let .message(c, .batch(batch)):
                var b = batch
                if n > 1 {
                    let (others, _) = combined(excluding: c)
                    var wm = channelWM[c]
                    for i in 0..<b.count {
                        if b.watermarks[i] > wm { wm = b.watermarks[i] }
                        let v = Swift.max(Swift.min(wm, others), emitted)
                        b.watermarks[i] = v
                        emitted = v
                    }
                    channelWM[c] = Swift.max(wm, b.endWatermark)
                    idle[c] = b.idle && b.isEmpty
                    let (all, anyActive) = combined(excluding: -1)
                    if anyActive { emitted = Swift.max(emitted, all) }
                    b.endWatermark = emitted
                    b.idle = !anyActive
                } else {
                    emitted = Swift.max(emitted, b.endWatermark)
                }
                try input.batch(&b)
                gate.recycle(&b)
            case let .message(c, .barrier(id)):
                if alignedCollector == nil || alignedCollector!.checkpointID != id {
                    alignedCollector = SnapshotCollector(checkpointID: id)
                }
                barrierSeen[c] = true
                gate.setBlocked(c, true)
                if (0..<n).allSatisfy({ barrierSeen[$0] || ended[$0] }) {
                    let collector = alignedCollector!
                    try input.barrier(collector)
                    control.coordinator.acknowledge(collector)
                    alignedCollector = nil
                    for i in 0..<n { barrierSeen[i] = false }
                    gate.unblockAll()
                }
            case let .message(c, .end):
                ended[c] = true
                if ended.allSatisfy({ $0 }) {
                    try input.end()
                    control.coordinator.notified(from: lastCompleted, to: .max)
                    return
                }
                // An ended channel no longer holds the watermark back, nor an alignment.
                let (all, anyActive) = combined(excluding: -1)
                if anyActive && all > emitted {
                    emitted = all
                    var b = Batch<Element>()
                    b.endWatermark = emitted
                    b.ingestNanos = MonotonicClock.nanos()
                    try input.batch(&b)
                }
                if let collector = alignedCollector, (0..<n).allSatisfy({ barrierSeen[$0] || ended[$0] }) {
                    try input.barrier(collector)
                    control.coordinator.acknowledge(collector)
                    alignedCollector = nil
                    for i in 0..<n { barrierSeen[i] = false }
                    gate.unblockAll()
                }
            }
        }
    }
}

/// Sends batches into the input gates of the next operator's subtasks: by a routing function
/// (key group → subtask) or round robin per batch. Watermarks reach every subtask: a subtask that
/// got no records of a batch still gets an empty batch when the watermark advanced.
@usableFromInline
final class ExchangeWriter<Element: Sendable> {
    @usableFromInline let gates: [InputGate<Element>]
    @usableFromInline let producer: Int
    @usableFromInline let hook: BackpressureHook?
    @usableFromInline let route: (@Sendable (Element) -> Int)?
    @usableFromInline var parts: [Batch<Element>]
    @usableFromInline var sentWatermark: [EventTime]
    @usableFromInline var sentIdle: [Bool]

    @inlinable
    init(gates: [InputGate<Element>], producer: Int, hook: BackpressureHook?, route: (@Sendable (Element) -> Int)?) {
        self.gates = gates; self.producer = producer; self.hook = hook; self.route = route
        parts = Array(repeating: Batch(), count: gates.count)
        sentWatermark = Array(repeating: Watermark.none, count: gates.count)
        sentIdle = Array(repeating: false, count: gates.count)
    }

    @inlinable
    func send(_ b: inout Batch<Element>, to s: Int, from batch: Batch<Element>) {
        b.endWatermark = batch.endWatermark
        b.idle = batch.idle && b.isEmpty
        b.split = batch.split
        b.ingestNanos = batch.ingestNanos
        sentWatermark[s] = b.endWatermark
        sentIdle[s] = b.idle
        let outgoing = b
        b = gates[s].emptyBatch(capacity: Swift.max(outgoing.count, 1024))
        gates[s].push(.batch(outgoing), channel: producer, hook: hook)
    }

    @inlinable
    func process(_ batch: inout Batch<Element>) {
        let n = gates.count
        if let route {
            for i in 0..<batch.count {
                let v = batch.values[i]
                parts[route(v)].append(v, timestamp: batch.timestamps[i], watermark: batch.watermarks[i])
            }
            for s in 0..<n where !parts[s].isEmpty || batch.endWatermark != sentWatermark[s] || batch.idle != sentIdle[s] {
                send(&parts[s], to: s, from: batch)
            }
        } else {
            // Each producer is pinned to one consumer (Flink's rescale): records of one producer stay
            // in order, so a later keyed exchange keeps per-key order (e.g. two changes of one row).
            let target = producer % n
            if !batch.isEmpty {
                var whole = batch
                send(&whole, to: target, from: batch)
            }
            for s in 0..<n where s != target || batch.isEmpty {
                if batch.endWatermark != sentWatermark[s] || batch.idle != sentIdle[s] {
                    var empty = Batch<Element>()
                    send(&empty, to: s, from: batch)
                }
            }
        }
    }

    @inlinable
    var input: StageInput<Element> {
        StageInput(
            batch: { [self] b in self.process(&b) },
            barrier: { [self] c in for g in gates { g.push(.barrier(c.checkpointID), channel: producer) } },
            checkpointCompleted: { _ in },
            tick: { _ in },
            end: { [self] in for g in gates { g.push(.end, channel: producer) } })
    }
}
