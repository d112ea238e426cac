/// The per-subtask services an operator sees: who it is, its metrics, and processing time.
public final class OperatorContext: @unchecked Sendable {
    // @unchecked: a context belongs to exactly one subtask thread.
    /// The index of this subtask, `0..<parallelism`.
    public let subtask: Int
    /// How many subtasks run this operator.
    public let parallelism: Int
    /// Key-group layout shared by every keyed operator of the job.
    public let keyGroups: KeyGroups
    /// The key groups this subtask owns.
    public let ownedKeyGroups: Range<Int>
    /// This operator's counters.
    public let metrics: OperatorMetrics
    /// The job's metrics.
    public let jobMetrics: JobMetrics
    /// Processing time in ms. Replaced by the test harness to drive time by hand.
    public var processingTime: @Sendable () -> Int64
    /// The back-pressure hook of this operator's task (set by the runtime; nil in a harness that
    /// does not simulate back-pressure).
    public var backpressure: BackpressureHook?

    /// The task's input activity time at processing time `now` (ms): `now` minus the time the
    /// task spent blocked by back-pressure. Idleness timeouts run on this clock.
    @inlinable public func inputActivityTime(at now: Int64) -> Int64 {
        guard let backpressure else { return now }
        return now &- Int64(backpressure.backpressuredNanos / 1_000_000)
    }

    public init(subtask: Int, parallelism: Int, keyGroups: KeyGroups, metrics: OperatorMetrics,
                jobMetrics: JobMetrics, processingTime: @escaping @Sendable () -> Int64 = { WallClock.millis() }) {
        self.subtask = subtask; self.parallelism = parallelism; self.keyGroups = keyGroups
        self.ownedKeyGroups = keyGroups.range(ofSubtask: subtask, parallelism: parallelism)
        self.metrics = metrics; self.jobMetrics = jobMetrics; self.processingTime = processingTime
    }
}

/// A dataflow operator: one hot method that turns a batch of inputs into outputs, and hooks with
/// defaults for watermarks, processing time, checkpoints and end of input (Timely/Arroyo style).
///
/// One instance runs per subtask, on that subtask's thread only, so it needs no locks.
/// Records carry their event time and the watermark in force before them (see ``Batch``): an
/// operator that keeps event-time state advances its watermark record by record inside
/// `processBatch`, so results do not depend on batch boundaries.
public protocol StreamOperator {
    associatedtype Input: Sendable
    associatedtype Output: Sendable
    /// The element type of this operator's side output (late data, dead letters). `Never` if none.
    associatedtype SideOutput: Sendable = Never

    /// Called once on the subtask thread before the first batch.
    mutating func open(context: OperatorContext) throws
    /// The hot method: consume `input`, append results to `output` (and to `side`).
    mutating func processBatch(_ input: inout Batch<Input>, into output: inout Batch<Output>,
                               side: inout Batch<SideOutput>, context: OperatorContext) throws
    /// The watermark at the end of a batch advanced to `watermark` (also called for empty batches).
    mutating func processWatermark(_ watermark: EventTime, into output: inout Batch<Output>,
                                   side: inout Batch<SideOutput>, context: OperatorContext) throws
    /// Processing time passed `now` (ms); fire processing-time timers here.
    mutating func processProcessingTime(_ now: Int64, into output: inout Batch<Output>,
                                        side: inout Batch<SideOutput>, context: OperatorContext) throws
    /// Write this operator's state for checkpoint `checkpointID`.
    mutating func snapshotState(_ snapshot: inout OperatorSnapshot, context: OperatorContext) throws
    /// Restore the state written by ``snapshotState(_:context:)`` of a previous run.
    mutating func restoreState(_ restore: OperatorRestore, context: OperatorContext) throws
    /// The checkpoint this operator took part in completed (commit external side effects here).
    /// Runs on the subtask thread, between batches.
    mutating func checkpointCompleted(_ checkpointID: Int64, context: OperatorContext) throws
    /// End of input: all upstream finished. Emit what is left.
    mutating func finish(into output: inout Batch<Output>, side: inout Batch<SideOutput>, context: OperatorContext) throws
    /// Operators that generate watermarks (timestamp assigners) return the watermark after the
    /// last batch or tick; others return nil and forward the upstream watermark.
    var generatedWatermark: EventTime? { get }
    /// Operators that generate watermarks return whether their output is idle; others nil.
    var generatedIdle: Bool? { get }
}

extension StreamOperator {
    @inlinable public mutating func open(context: OperatorContext) throws {}
    @inlinable public mutating func processWatermark(_ watermark: EventTime, into output: inout Batch<Output>,
                                                     side: inout Batch<SideOutput>, context: OperatorContext) throws {}
    @inlinable public mutating func processProcessingTime(_ now: Int64, into output: inout Batch<Output>,
                                                          side: inout Batch<SideOutput>, context: OperatorContext) throws {}
    @inlinable public mutating func snapshotState(_ snapshot: inout OperatorSnapshot, context: OperatorContext) throws {}
    @inlinable public mutating func restoreState(_ restore: OperatorRestore, context: OperatorContext) throws {}
    @inlinable public mutating func checkpointCompleted(_ checkpointID: Int64, context: OperatorContext) throws {}
    @inlinable public mutating func finish(into output: inout Batch<Output>, side: inout Batch<SideOutput>,
                                           context: OperatorContext) throws {}
    @inlinable public var generatedWatermark: EventTime? { nil }
    @inlinable public var generatedIdle: Bool? { nil }
}

/// What an operator writes into a checkpoint: keyed state split by key group (so it can be
/// redistributed when parallelism changes) and operator state owned by the subtask.
public struct OperatorSnapshot: Sendable {
    public let checkpointID: Int64
    /// Keyed state, one section per key group.
    public var keyGroups: [Int: ByteWriter] = [:]
    /// Non-keyed state of this subtask (source positions, sink offsets, ...).
    public var operatorState = ByteWriter()
    public init(checkpointID: Int64) { self.checkpointID = checkpointID }

    /// Encodes the snapshot: `[operator state][count][(keyGroup, bytes)...]`.
    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.writeBytes(operatorState.bytes)
        w.writeVarUInt(UInt64(keyGroups.count))
        for kg in keyGroups.keys.sorted() {
            w.writeVarUInt(UInt64(kg))
            w.writeBytes(keyGroups[kg]!.bytes)
        }
        return w.bytes
    }
}

/// What an operator restores from: the key-group sections it now owns (gathered from every
/// subtask of the previous run) and the operator state its subtask index wrote.
public struct OperatorRestore: Sendable {
    public let checkpointID: Int64
    public var keyGroups: [Int: [UInt8]]
    /// Operator state written by the same subtask index, if any.
    public var operatorState: [UInt8]?
    /// Operator states of all subtasks of the previous run (for redistributing, e.g., source splits).
    public var allOperatorStates: [[UInt8]]
    public init(checkpointID: Int64, keyGroups: [Int: [UInt8]], operatorState: [UInt8]?, allOperatorStates: [[UInt8]]) {
        self.checkpointID = checkpointID; self.keyGroups = keyGroups
        self.operatorState = operatorState; self.allOperatorStates = allOperatorStates
    }

    /// Decodes the snapshots of all subtasks of one operator, keeping the key groups in `owned`.
    public static func gather(checkpointID: Int64, encoded: [Int: [UInt8]], subtask: Int, owned: Range<Int>) throws -> OperatorRestore {
        var groups: [Int: [UInt8]] = [:]
        var mine: [UInt8]? = nil
        var all: [[UInt8]] = []
        for s in encoded.keys.sorted() {
            var r = ByteReader(encoded[s]!)
            let opState = try r.readBytes()
            all.append(opState)
            if s == subtask { mine = opState }
            let n = try r.readVarUInt()
            for _ in 0..<n {
                let kg = Int(try r.readVarUInt())
                let bytes = try r.readBytes()
                if owned.contains(kg) { groups[kg] = bytes }
            }
        }
        return OperatorRestore(checkpointID: checkpointID, keyGroups: groups, operatorState: mine, allOperatorStates: all)
    }
}
