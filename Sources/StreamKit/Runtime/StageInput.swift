/// Collects the snapshots of one checkpoint inside one task (thread).
public final class SnapshotCollector: @unchecked Sendable {
    // @unchecked: a collector is filled by one task thread, then handed to the coordinator.
    public let checkpointID: Int64
    /// `"<stage uid>"` → subtask → encoded snapshot.
    public var snapshots: [String: [Int: [UInt8]]] = [:]
    public init(checkpointID: Int64) { self.checkpointID = checkpointID }
    public func add(stage: String, subtask: Int, bytes: [UInt8]) { snapshots[stage, default: [:]][subtask] = bytes }
}

/// The type-erased entry point of a stage of a subtask's chain: an operator, an exchange writer
/// or a sink. Built from closures created in specialised generic code, so calling through it costs
/// one indirect call per batch and the code behind it is fully specialised.
public struct StageInput<Element: Sendable>: @unchecked Sendable {
    // @unchecked: a stage input is only called from the one thread that runs its subtask.
    public var batch: (inout Batch<Element>) throws -> Void
    public var barrier: (SnapshotCollector) throws -> Void
    public var checkpointCompleted: (Int64) throws -> Void
    public var tick: (Int64) throws -> Void
    public var end: () throws -> Void

    public init(batch: @escaping (inout Batch<Element>) throws -> Void,
                barrier: @escaping (SnapshotCollector) throws -> Void,
                checkpointCompleted: @escaping (Int64) throws -> Void,
                tick: @escaping (Int64) throws -> Void,
                end: @escaping () throws -> Void) {
        self.batch = batch; self.barrier = barrier; self.checkpointCompleted = checkpointCompleted
        self.tick = tick; self.end = end
    }

    /// An input that drops everything (a stream nobody consumes).
    public static var discard: StageInput {
        StageInput(batch: { _ in }, barrier: { _ in }, checkpointCompleted: { _ in }, tick: { _ in }, end: {})
    }

    /// Delivers to every input in order.
    public static func fanOut(_ inputs: [StageInput]) -> StageInput {
        if inputs.isEmpty { return .discard }
        if inputs.count == 1 { return inputs[0] }
        return StageInput(
            batch: { b in for i in inputs { var copy = b; try i.batch(&copy) } },
            barrier: { c in for i in inputs { try i.barrier(c) } },
            checkpointCompleted: { id in for i in inputs { try i.checkpointCompleted(id) } },
            tick: { t in for i in inputs { try i.tick(t) } },
            end: { for i in inputs { try i.end() } })
    }
}

/// Runs one operator instance of one subtask: owns its output buffers and forwards to downstream.
@usableFromInline
final class OperatorStage<Op: StreamOperator> {
    @usableFromInline var op: Op
    @usableFromInline var output: Batch<Op.Output>
    @usableFromInline var side: Batch<Op.SideOutput>
    @usableFromInline let downstream: StageInput<Op.Output>
    @usableFromInline let sideDownstream: StageInput<Op.SideOutput>?
    @usableFromInline let context: OperatorContext
    @usableFromInline let uid: String
    @usableFromInline var lastWatermark: EventTime = Watermark.none
    @usableFromInline var ended = false
    @usableFromInline var lastIdle = false

    @inlinable
    init(op: Op, uid: String, context: OperatorContext, downstream: StageInput<Op.Output>,
         sideDownstream: StageInput<Op.SideOutput>?) {
        self.op = op; self.uid = uid; self.context = context
        self.downstream = downstream; self.sideDownstream = sideDownstream
        self.output = Batch(capacity: 1024); self.side = Batch()
    }

    @inlinable
    func process(_ input: inout Batch<Input>) throws {
        context.metrics.recordsIn.add(UInt64(input.count))
        if !input.isEmpty || input.split >= 0 {   // an empty batch with a split announces that split
            try op.processBatch(&input, into: &output, side: &side, context: context)
        }
        let wm = op.generatedWatermark ?? input.endWatermark
        if wm > lastWatermark {
            try op.processWatermark(wm, into: &output, side: &side, context: context)
            lastWatermark = wm
            context.metrics.watermark.set(lastWatermark)
        }
        output.endWatermark = lastWatermark
        lastIdle = op.generatedIdle ?? input.idle
        output.idle = lastIdle
        output.split = input.split
        output.ingestNanos = input.ingestNanos
        try flush()
    }
    @usableFromInline typealias Input = Op.Input

    @inlinable
    func flush() throws {
        context.metrics.recordsOut.add(UInt64(output.count))
        try downstream.batch(&output)
        output.removeAll()
        if !side.isEmpty, let sd = sideDownstream {
            side.endWatermark = lastWatermark
            side.ingestNanos = output.ingestNanos
            try sd.batch(&side)
        }
        side.removeAll()
    }

    @inlinable
    func tick(_ now: Int64) throws {
        try op.processProcessingTime(now, into: &output, side: &side, context: context)
        var changed = false
        if let wm = op.generatedWatermark, wm > lastWatermark {
            try op.processWatermark(wm, into: &output, side: &side, context: context)
            lastWatermark = wm
            context.metrics.watermark.set(wm)
            changed = true
        }
        if let idle = op.generatedIdle, idle != lastIdle { lastIdle = idle; changed = true }
        if changed || !output.isEmpty || !side.isEmpty {
            output.endWatermark = lastWatermark
            output.idle = lastIdle
            output.ingestNanos = MonotonicClock.nanos()
            try flush()
        }
        try downstream.tick(now)
        try sideDownstream?.tick(now)
    }

    @inlinable
    func barrier(_ collector: SnapshotCollector) throws {
        var snap = OperatorSnapshot(checkpointID: collector.checkpointID)
        try op.snapshotState(&snap, context: context)
        collector.add(stage: uid, subtask: context.subtask, bytes: snap.encoded())
        try downstream.barrier(collector)
        try sideDownstream?.barrier(collector)
    }

    @inlinable
    func end() throws {
        if ended { return }
        ended = true
        if lastWatermark != Watermark.endOfInput {
            try op.processWatermark(Watermark.endOfInput, into: &output, side: &side, context: context)
            lastWatermark = Watermark.endOfInput
        }
        try op.finish(into: &output, side: &side, context: context)
        output.endWatermark = lastWatermark
        if output.ingestNanos == 0 { output.ingestNanos = MonotonicClock.nanos() }
        try flush()
        try downstream.end()
        try sideDownstream?.end()
    }

    @inlinable
    var input: StageInput<Op.Input> {
        StageInput(
            batch: { [self] b in try self.process(&b) },
            barrier: { [self] c in try self.barrier(c) },
            checkpointCompleted: { [self] id in
                try self.op.checkpointCompleted(id, context: self.context)
                try self.downstream.checkpointCompleted(id)
                try self.sideDownstream?.checkpointCompleted(id)
            },
            tick: { [self] t in try self.tick(t) },
            end: { [self] in try self.end() })
    }
}
