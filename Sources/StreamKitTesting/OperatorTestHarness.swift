import Synchronization
public import StreamKit

/// A processing-time clock that only moves when a test moves it.
///
/// Shared by a harness and its ``OperatorContext`` (whose `processingTime` closure reads it), so
/// state TTL, idleness and processing-time timers see exactly the time the test set.
public final class ManualClock: Sendable {
    private let millis: Atomic<Int64>
    /// A clock reading `millis` (ms since the epoch, or any origin the test likes).
    public init(_ millis: Int64 = 0) { self.millis = Atomic(millis) }
    /// The current time in ms.
    public var now: Int64 { millis.load(ordering: .acquiring) }
    /// Sets the time (it may go backwards; operators are expected to cope only with forward moves).
    public func set(_ millis: Int64) { self.millis.store(millis, ordering: .releasing) }
    /// Moves the time forward by `duration`.
    public func advance(by duration: Duration) { set(now + duration.milliseconds) }
}

/// One record an operator emitted: the value, its event time and the watermark it carried
/// (the watermark in force before it, see ``Batch``).
public struct EmittedRecord<Value: Sendable>: Sendable {
    public var value: Value
    public var timestamp: EventTime
    public var watermark: EventTime
    public init(value: Value, timestamp: EventTime, watermark: EventTime) {
        self.value = value; self.timestamp = timestamp; self.watermark = watermark
    }
}

extension EmittedRecord: Equatable where Value: Equatable {}
extension EmittedRecord: Hashable where Value: Hashable {}

/// Drives one ``StreamOperator`` by hand, like Flink's `KeyedOneInputStreamOperatorTestHarness`:
/// records with explicit timestamps, watermarks, processing time, checkpoints and restores — no
/// threads, no channels, fully deterministic.
///
/// The harness plays the part of the runtime's operator stage:
/// - every record pushed gets the harness's current watermark as its pre-watermark (the watermark
///   in force before it, as in a ``Batch``);
/// - ``processWatermark(_:)`` advances that watermark and calls the operator's `processWatermark`;
/// - operators that generate watermarks (``TimestampAssigner``) have theirs picked up after every
///   batch and tick, exactly as the runtime does (see ``outputWatermark``);
/// - ``setProcessingTime(_:)`` moves the ``ManualClock`` that the operator's context reads and calls
///   `processProcessingTime`;
/// - ``snapshot(checkpointID:)`` returns the encoded ``OperatorSnapshot`` bytes, and
///   ``restore(from:checkpointID:subtask:parallelism:maxParallelism:processingTime:_:)`` builds a
///   fresh operator from the snapshots of every subtask of a previous run, keeping only the key
///   groups the new subtask owns (``OperatorRestore/gather(checkpointID:encoded:subtask:owned:)``).
///
/// Output and side output are collected with their timestamps until the test takes them.
///
/// ```swift
/// let harness = try OperatorTestHarness(
///     SlicingWindowOperator(assigner: .tumbling(size: .seconds(10)), aggregate: CountAggregate<Int>(), key: { $0 }))
/// try harness.processElement(7, timestamp: 1_000)
/// try harness.processElement(7, timestamp: 9_999)
/// try harness.processWatermark(9_999)                     // [0, 10_000) fires at end - 1
/// #expect(harness.output.map(\.value.value) == [2])
///
/// let bytes = try harness.snapshot()
/// let restored = try OperatorTestHarness.restore(from: [bytes], subtask: 0, parallelism: 2) {
///     SlicingWindowOperator(assigner: .tumbling(size: .seconds(10)), aggregate: CountAggregate<Int>(), key: { $0 })
/// }
/// ```
public final class OperatorTestHarness<Op: StreamOperator> {
    /// The operator under test (inspect its public properties, e.g. a ``KeyedProcessOperator``'s state store).
    public private(set) var `operator`: Op
    /// The context handed to every operator call; its `processingTime` reads ``clock``.
    public let context: OperatorContext
    /// The processing-time clock of this harness.
    public let clock: ManualClock
    /// Records emitted so far (cleared by ``takeOutput()``).
    public private(set) var output: [EmittedRecord<Op.Output>] = []
    /// Side-output records (late data, dead letters) emitted so far (cleared by ``takeSideOutput()``).
    public private(set) var sideOutput: [EmittedRecord<Op.SideOutput>] = []
    /// The watermark pushed into the operator (pre-watermark of the next record).
    public private(set) var currentWatermark: EventTime = Watermark.none
    /// The watermark the operator's stage would forward downstream: the generated one for
    /// watermark-generating operators, otherwise the input watermark.
    public private(set) var outputWatermark: EventTime = Watermark.none
    /// Whether the operator reported its output idle after the last batch or tick.
    public private(set) var outputIdle = false

    private var outBuffer = Batch<Op.Output>()
    private var sideBuffer = Batch<Op.SideOutput>()

    /// Wraps `operator` as subtask `subtask` of `parallelism` and opens it.
    /// - Parameters:
    ///   - maxParallelism: the number of key groups (keep it equal across snapshot and restore).
    ///   - processingTime: the initial time of the manual processing-time clock (ms).
    public init(_ operator: Op, subtask: Int = 0, parallelism: Int = 1, maxParallelism: Int = 128,
                processingTime: Int64 = 0, restore: OperatorRestore? = nil) throws {
        precondition(subtask >= 0 && subtask < parallelism, "subtask must be in 0..<parallelism")
        let clock = ManualClock(processingTime)
        self.clock = clock
        let jobMetrics = JobMetrics()
        self.context = OperatorContext(subtask: subtask, parallelism: parallelism,
                                       keyGroups: KeyGroups(maxParallelism: maxParallelism),
                                       metrics: jobMetrics.registerOperator("harness[\(subtask)]"),
                                       jobMetrics: jobMetrics, processingTime: { clock.now })
        self.operator = `operator`
        // Same order as the runtime: restore, then open.
        if let restore { try self.operator.restoreState(restore, context: context) }
        try self.operator.open(context: context)
    }

    /// Builds a harness for subtask `subtask` of `parallelism` whose fresh operator (from `make`)
    /// is restored from `snapshots`: the encoded snapshots of *every* subtask of the previous run,
    /// indexed by their subtask (`snapshots[i]` came from subtask `i`).
    public static func restore(from snapshots: [[UInt8]], checkpointID: Int64 = 1, subtask: Int = 0,
                               parallelism: Int = 1, maxParallelism: Int = 128, processingTime: Int64 = 0,
                               _ make: () throws -> Op) throws -> OperatorTestHarness {
        var encoded: [Int: [UInt8]] = [:]
        for (i, s) in snapshots.enumerated() { encoded[i] = s }
        let owned = KeyGroups(maxParallelism: maxParallelism).range(ofSubtask: subtask, parallelism: parallelism)
        let restore = try OperatorRestore.gather(checkpointID: checkpointID, encoded: encoded, subtask: subtask, owned: owned)
        return try OperatorTestHarness(try make(), subtask: subtask, parallelism: parallelism, maxParallelism: maxParallelism,
                                       processingTime: processingTime, restore: restore)
    }

    // MARK: - Input

    /// Pushes one record with event time `timestamp` (a batch of one); its pre-watermark is ``currentWatermark``.
    public func processElement(_ value: Op.Input, timestamp: EventTime = Watermark.none, split: Int32 = -1) throws {
        var batch = Batch<Op.Input>(capacity: 1)
        batch.append(value, timestamp: timestamp, watermark: currentWatermark)
        batch.split = split
        try processBatch(batch)
    }

    /// Pushes several records as one batch; every record's pre-watermark is ``currentWatermark``.
    public func processElements(_ records: [(Op.Input, EventTime)], split: Int32 = -1) throws {
        var batch = Batch<Op.Input>(capacity: records.count)
        for (v, ts) in records { batch.append(v, timestamp: ts, watermark: currentWatermark) }
        batch.split = split
        try processBatch(batch)
    }

    /// Pushes a batch as built by the test (explicit per-record watermarks, `split`, `idle`).
    /// Its `endWatermark` defaults to the last record's watermark when it was left unset.
    public func processBatch(_ batch: Batch<Op.Input>) throws {
        var b = batch
        if b.endWatermark == Watermark.none { b.endWatermark = b.watermarks.last ?? currentWatermark }
        if !b.isEmpty { try self.operator.processBatch(&b, into: &outBuffer, side: &sideBuffer, context: context) }
        if b.endWatermark > currentWatermark { currentWatermark = b.endWatermark }
        try forwardWatermark(self.operator.generatedWatermark ?? b.endWatermark)
        outputIdle = self.operator.generatedIdle ?? b.idle
        drain()
    }

    /// Advances the input watermark to `watermark` (ignored unless it moves forward) and lets the
    /// operator fire what is due.
    public func processWatermark(_ watermark: EventTime) throws {
        if watermark > currentWatermark { currentWatermark = watermark }
        try forwardWatermark(self.operator.generatedWatermark ?? watermark)
        drain()
    }

    /// Sets processing time to `millis` and calls the operator's `processProcessingTime` (timers,
    /// TTL, idleness), then picks up a generated watermark that moved (e.g. an idle split released it).
    public func setProcessingTime(_ millis: Int64) throws {
        clock.set(millis)
        try self.operator.processProcessingTime(millis, into: &outBuffer, side: &sideBuffer, context: context)
        if let wm = self.operator.generatedWatermark { try forwardWatermark(wm) }
        if let idle = self.operator.generatedIdle { outputIdle = idle }
        drain()
    }

    /// Moves processing time forward by `duration` (see ``setProcessingTime(_:)``).
    public func advanceProcessingTime(by duration: Duration) throws {
        try setProcessingTime(clock.now + duration.milliseconds)
    }

    /// End of input: the watermark jumps to ``Watermark/endOfInput`` and the operator finishes.
    public func endInput() throws {
        currentWatermark = Watermark.endOfInput
        try forwardWatermark(Watermark.endOfInput)
        try self.operator.finish(into: &outBuffer, side: &sideBuffer, context: context)
        drain()
    }

    // MARK: - Checkpoints

    /// Snapshots the operator and returns the encoded ``OperatorSnapshot`` (what a checkpoint stores).
    public func snapshot(checkpointID: Int64 = 1) throws -> [UInt8] {
        var snap = OperatorSnapshot(checkpointID: checkpointID)
        try self.operator.snapshotState(&snap, context: context)
        return snap.encoded()
    }

    /// Tells the operator that checkpoint `id` completed.
    public func notifyCheckpointComplete(_ id: Int64) throws {
        try self.operator.checkpointCompleted(id, context: context)
    }

    // MARK: - Output

    /// Returns and clears the collected output.
    @discardableResult
    public func takeOutput() -> [EmittedRecord<Op.Output>] { defer { output.removeAll() }; return output }

    /// Returns and clears the collected side output.
    @discardableResult
    public func takeSideOutput() -> [EmittedRecord<Op.SideOutput>] { defer { sideOutput.removeAll() }; return sideOutput }

    /// The values of the collected output, in emission order.
    public var outputValues: [Op.Output] { output.map(\.value) }

    /// The values of the collected side output, in emission order.
    public var sideOutputValues: [Op.SideOutput] { sideOutput.map(\.value) }

    /// This operator's counters (late records, dropped records, ...).
    public var metrics: OperatorMetrics { context.metrics }

    /// Whether this subtask owns `key` (its key group is in ``OperatorContext/ownedKeyGroups``).
    public func owns<K: StreamKey>(_ key: K) -> Bool {
        context.ownedKeyGroups.contains(context.keyGroups.keyGroup(of: key))
    }

    // MARK: - Internals

    private func forwardWatermark(_ wm: EventTime) throws {
        guard wm > outputWatermark else { return }
        try self.operator.processWatermark(wm, into: &outBuffer, side: &sideBuffer, context: context)
        outputWatermark = wm
        context.metrics.watermark.set(wm)
    }

    private func drain() {
        for i in 0..<outBuffer.count {
            output.append(EmittedRecord(value: outBuffer.values[i], timestamp: outBuffer.timestamps[i],
                                        watermark: outBuffer.watermarks[i]))
        }
        for i in 0..<sideBuffer.count {
            sideOutput.append(EmittedRecord(value: sideBuffer.values[i], timestamp: sideBuffer.timestamps[i],
                                            watermark: sideBuffer.watermarks[i]))
        }
        outBuffer.removeAll()
        sideBuffer.removeAll()
    }
}
