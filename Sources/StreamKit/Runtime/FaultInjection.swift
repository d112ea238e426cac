/// Test-only faults of a run (``Job/RunOptions/faults``): the sources fail on purpose so a test
/// can check recovery. Behind `@_spi(Testing)`: production code cannot set it, and a run without
/// it checks one optional per source batch and nothing per record.
///
/// ```swift
/// @_spi(Testing) import StreamKit
/// var options = Job.RunOptions(parallelism: 2)
/// options.faults = FaultInjection(failAfterRecords: 9_000, afterACheckpoint: true)
/// ```
@_spi(Testing)
public struct FaultInjection: Sendable {
    /// Each source subtask fails after it read this many records (checked between batches).
    public var failAfterRecords: Int
    /// The failure also waits until a checkpoint of this run completed (so a restore has one,
    /// however fast the sources are).
    public var afterACheckpoint: Bool
    /// Fails the job right after checkpoint number `n` of a run (1: the run's first) was written
    /// to the store, before any task is told it completed — the moment a process crash would
    /// leave a completed checkpoint whose two-phase-commit sinks never committed. nil: never.
    public var failAfterCheckpointWritten: Int?
    /// Under a ``RestartStrategy``: how many runs (attempts) fail; the runs after them get no
    /// faults. Default: all.
    public var failingAttempts: Int = .max

    public init(failAfterRecords: Int, afterACheckpoint: Bool = false) {
        self.failAfterRecords = failAfterRecords; self.afterACheckpoint = afterACheckpoint
    }

    /// A fault between a checkpoint's completion and the notification of its tasks (see
    /// ``failAfterCheckpointWritten``).
    public init(failAfterCheckpointWritten n: Int) {
        self.failAfterRecords = 0; self.afterACheckpoint = false; self.failAfterCheckpointWritten = n
    }
}

/// The test hooks of a run's source tasks: deterministic checkpoints every N records
/// (`CheckpointConfiguration.everyRecords`) and ``FaultInjection``. nil unless a test set one.
@usableFromInline
struct SourceTestHooks: Sendable {
    let checkpointEveryRecords: Int
    let faults: FaultInjection?

    init?(checkpointEveryRecords: Int?, faults: FaultInjection?) {
        let every = checkpointEveryRecords ?? 0
        if every <= 0 && faults == nil { return nil }
        self.checkpointEveryRecords = every; self.faults = faults
    }

    /// The per-subtask counters of one source task.
    @usableFromInline
    func start(completedCheckpoint: Int64) -> SourceTestRun {
        SourceTestRun(hooks: self, completedAtStart: completedCheckpoint)
    }
}

/// One source subtask's test counters; touched only by its thread, once per batch.
@usableFromInline
final class SourceTestRun {
    let hooks: SourceTestHooks
    let completedAtStart: Int64
    @usableFromInline var records = 0
    var nextCheckpoint: Int

    init(hooks: SourceTestHooks, completedAtStart: Int64) {
        self.hooks = hooks; self.completedAtStart = completedAtStart; nextCheckpoint = hooks.checkpointEveryRecords
    }

    /// Before a poll: triggers the deterministic checkpoint when its record count was reached.
    @usableFromInline
    func beforePoll(coordinator: CheckpointCoordinator) {
        if hooks.checkpointEveryRecords > 0 && records >= nextCheckpoint {
            nextCheckpoint += hooks.checkpointEveryRecords
            coordinator.trigger()
        }
    }

    /// After a batch: throws the injected failure when it is due.
    @usableFromInline
    func afterBatch(completedCheckpoint: Int64) throws {
        guard let f = hooks.faults, f.failAfterRecords > 0, records >= f.failAfterRecords,
              !f.afterACheckpoint || completedCheckpoint > completedAtStart else { return }
        throw StreamKitError(.cancelled, "injected failure after \(records) records")
    }
}
