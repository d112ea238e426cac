/// What a source reader reports after a poll.
public enum SourceStatus: Sendable, Hashable {
    /// More data may be available right away.
    case more
    /// Nothing available now (e.g. an empty Kafka partition); poll again later.
    case idle
    /// The source is exhausted (bounded input).
    case finished
}

/// Services a source reader sees.
public struct SourceContext: Sendable {
    public let subtask: Int
    public let parallelism: Int
    public let metrics: OperatorMetrics
    public let jobMetrics: JobMetrics
    public init(subtask: Int, parallelism: Int, metrics: OperatorMetrics, jobMetrics: JobMetrics) {
        self.subtask = subtask; self.parallelism = parallelism; self.metrics = metrics; self.jobMetrics = jobMetrics
    }
}

/// Reads one split (or a set of splits) of a source on its own subtask thread.
///
/// Readers fill batches with records (event time is assigned later by `assignTimestamps`), report
/// malformed input through `deadLetters`, and can checkpoint and restore their position. They may
/// block (the thread is dedicated), but should return `.idle` rather than block for long so that
/// checkpoints and idleness keep working.
public protocol SourceReader {
    associatedtype Output: Sendable
    mutating func open(context: SourceContext) throws
    /// Appends up to `maxRecords` records to `batch` (use ``Batch/append(_:timestamp:watermark:)`` with
    /// `Watermark.none`, or set `batch.split` for per-split watermarks), and malformed inputs to `deadLetters`.
    mutating func poll(into batch: inout Batch<Output>, deadLetters: inout [DeadLetter<String>], maxRecords: Int) throws -> SourceStatus
    /// Writes the position to resume from (taken between polls, at a checkpoint barrier).
    func snapshotPosition(into writer: inout ByteWriter)
    /// Resumes from a position written by ``snapshotPosition(into:)``.
    mutating func restorePosition(_ bytes: [UInt8]) throws
    /// A checkpoint containing this reader's position completed (commit offsets here).
    mutating func checkpointCompleted(_ checkpointID: Int64) throws
    /// Back-pressure: downstream is full; stop fetching (e.g. pause Kafka partitions).
    mutating func pause()
    /// Back-pressure released.
    mutating func resume()
    mutating func close()
}

extension SourceReader {
    public mutating func open(context: SourceContext) throws {}
    public func snapshotPosition(into writer: inout ByteWriter) {}
    public mutating func restorePosition(_ bytes: [UInt8]) throws {}
    public mutating func checkpointCompleted(_ checkpointID: Int64) throws {}
    public mutating func pause() {}
    public mutating func resume() {}
    public mutating func close() {}
}

/// A source: how many parallel readers it has and how to make them.
public protocol Source: Sendable {
    associatedtype Reader: SourceReader
    /// Number of parallel readers (splits).
    var parallelism: Int { get }
    func makeReader(subtask: Int) throws -> Reader
}

/// Counts how often and how long a task was paused by back-pressure (shared with its writers and
/// the operators of its chain).
///
/// The paused time is the task's *input activity clock*: a timestamp assigner measures a split's
/// idleness on processing time minus the time its task was blocked by back-pressure, so a split
/// is not declared idle only because its task could not read while downstream was full (Flink's
/// `PausableRelativeClock`, which pauses idleness detection while the source is back-pressured).
public final class BackpressureHook: @unchecked Sendable {
    // @unchecked: used only on its task thread.
    public var onPause: () -> Void = {}
    public var onResume: () -> Void = {}
    public var pauses = 0
    /// Total nanoseconds this task spent blocked by back-pressure.
    public private(set) var backpressuredNanos: UInt64 = 0
    public init() {}

    /// Adds time the task spent blocked by back-pressure.
    @inlinable public func recordBackpressure(nanos: UInt64) { addBackpressure(nanos) }
    @usableFromInline func addBackpressure(_ nanos: UInt64) { backpressuredNanos &+= nanos }
}

/// A sink is an operator without outputs.
public typealias SinkOperator = StreamOperator
