import Synchronization
import Logging

/// Where and how often a job checkpoints.
public struct CheckpointConfiguration: Sendable {
    /// The checkpoint directory (one folder per completed checkpoint, zstd compressed).
    public var directory: String
    /// Time between periodic checkpoints. Default: 10 s. nil: only on demand / at shutdown.
    public var interval: Duration?
    /// Test-only: also checkpoint every N records of each source subtask (deterministic). Default: off.
    @_spi(Testing) public var everyRecords: Int?
    /// Completed checkpoints to keep. Default: 3.
    public var retain: Int
    public init(directory: String, interval: Duration? = .seconds(10), retain: Int = 3) {
        self.directory = directory; self.interval = interval; self.everyRecords = nil; self.retain = retain
    }
    /// Test-only: checkpoints every `everyRecords` source records as well (deterministic).
    @_spi(Testing)
    public init(directory: String, interval: Duration? = .seconds(10), everyRecords: Int?, retain: Int = 3) {
        self.init(directory: directory, interval: interval, retain: retain)
        self.everyRecords = everyRecords
    }
}

/// Coordinates aligned checkpoints: sources inject barriers for a triggered id, every task
/// acknowledges with the snapshots of its chain, and when all have acknowledged the checkpoint is
/// written atomically and the tasks are told it completed.
///
/// **Confirmation.** A written checkpoint is not yet a restore point: two-phase-commit sinks (a
/// transactional ``KafkaSink``) commit its output only when their task is told it completed.
/// Every task reports (``notified(from:to:)``) once its chain has handled a completion; when all
/// have, the coordinator records the checkpoint as confirmed in the store
/// (``CheckpointStore/confirm(checkpointID:)``). A restore uses the newest *confirmed*
/// checkpoint, so a crash between a checkpoint's completion and its commits replays from the
/// previous one instead of skipping output that was never committed.
@usableFromInline
final class CheckpointCoordinator: @unchecked Sendable {
    // @unchecked: mutable state is guarded by `lock`; writes happen on the acknowledging thread
    // that completes a checkpoint, under `writeLock`.
    private let lock = ConditionLock()
    private let writeLock = ConditionLock()
    let store: CheckpointStore?
    let control: JobControl
    let metrics: JobMetrics
    var expectedAcks = 0 { didSet { tasksByNotified = [0: expectedAcks] } }
    private var nextID: Int64
    private var pending: [Int64: (snapshots: [String: [Int: [UInt8]]], acks: Int)] = [:]
    private(set) var lastCompleted: Int64 = 0
    private(set) var failure: (any Error)?
    /// Metadata written with each checkpoint (job name, parallelism, ...).
    var metadata: [String: String] = [:]
    /// The job's logger (set before the tasks start).
    var logger: Logger = .disabled
    /// Monotonic trigger time of the checkpoint in flight.
    private var triggeredNanos: UInt64 = 0
    /// Tasks by the newest completion they handled (0: none yet; `Int64.max`: ended after their
    /// end of input, having committed everything).
    private var tasksByNotified: [Int64: Int] = [:]
    /// The newest checkpoint every task handled the completion of (recorded in the store).
    private(set) var confirmed: Int64 = 0
    private var confirmedWritten: Int64 = 0
    /// The newest checkpoint recorded as confirmed in the store (under `lock`): a restore point.
    private var durablyConfirmed: Int64 = 0
    /// Test-only (``FaultInjection/failAfterCheckpointWritten``): the run's n-th written
    /// checkpoint fails the job before any task hears of it.
    var failAfterWritten: Int? = nil
    private var written = 0
    /// Fails the job (set by ``RunningJob``); used by the injected fault only.
    var failJob: (@Sendable (any Error) -> Void)? = nil

    init(store: CheckpointStore?, control: JobControl, metrics: JobMetrics, firstID: Int64) {
        self.store = store; self.control = control; self.metrics = metrics; self.nextID = firstID
    }

    /// Starts a new checkpoint (sources inject its barrier before their next batch). Returns its id,
    /// or nil when no checkpoint store is configured or one is still in flight.
    @discardableResult @usableFromInline
    func trigger() -> Int64? {
        guard store != nil else { return nil }
        return lock.withLock {
            if !pending.isEmpty { return nil }   // one checkpoint in flight at a time
            let id = nextID
            nextID += 1
            pending[id] = ([:], 0)
            triggeredNanos = MonotonicClock.nanos()
            control.triggeredCheckpoint.store(id, ordering: .releasing)
            return id
        }
    }

    @usableFromInline func acknowledge(_ collector: SnapshotCollector) {
        var complete: [String: [Int: [UInt8]]]? = nil
        let id = collector.checkpointID
        lock.withLock {
            guard var entry = pending[id] else { return }
            for (stage, subtasks) in collector.snapshots {
                for (s, bytes) in subtasks { entry.snapshots[stage, default: [:]][s] = bytes }
            }
            entry.acks += 1
            if entry.acks >= expectedAcks {
                complete = entry.snapshots
                pending[id] = nil
            } else {
                pending[id] = entry
            }
        }
        guard let snapshots = complete, let store else { return }
        writeLock.withLock {
            do {
                var files: [String: [UInt8]] = [:]
                var size = 0
                for (stage, subtasks) in snapshots {
                    for (s, bytes) in subtasks { files["\(stage)@\(s)"] = bytes; size += bytes.count }
                }
                var meta = metadata
                meta[CheckpointStore.confirmationKey] = CheckpointStore.confirmationByNotification
                try store.write(checkpointID: id, files: files, metadata: meta)
                written += 1
                if let n = failAfterWritten, written == n {
                    // The injected crash: the checkpoint is on disk, no task hears of it.
                    logger.notice("injected failure after writing checkpoint", metadata: [LogMetadataKey.checkpoint: "\(id)"])
                    failJob?(StreamKitError(.cancelled, "injected failure after checkpoint \(id) was written, before its completion was announced"))
                    return
                }
                // Announced to the tasks before a waiter (a graceful stop) wakes up: a stop that
                // follows the completion must find it when the tasks end, or the final checkpoint
                // is never confirmed. A task may so hear of it before `lastCompleted` moves; the
                // confirmation is therefore evaluated again here.
                control.completedCheckpoint.store(id, ordering: .releasing)
                let (started, confirm) = lock.withLock { () -> (UInt64, Int64?) in
                    lastCompleted = id
                    lock.broadcast()
                    return (triggeredNanos, advanceConfirmed())
                }
                if let confirm { writeConfirmed(confirm) }
                let nanos = MonotonicClock.nanos() &- started
                metrics.checkpointDuration.record(micros: nanos / 1000)
                metrics.checkpointBytes.set(Int64(size))
                metrics.checkpointsCompleted.add(1)
                logger.info("checkpoint completed", metadata: [
                    LogMetadataKey.checkpoint: "\(id)", "bytes": "\(size)", "duration_ms": "\(Double(nanos) / 1e6)",
                ])
            } catch {
                lock.withLock { failure = error; lock.broadcast() }
                logger.error("checkpoint failed", metadata: [LogMetadataKey.checkpoint: "\(id)", LogMetadataKey.error: "\(error)"])
            }
        }
    }

    /// Waits until checkpoint `id` completed (true) or `timeoutNanos` passed (false).
    func waitForCompletion(of id: Int64, timeoutNanos: UInt64) -> Bool {
        let deadline = MonotonicClock.nanos() &+ timeoutNanos
        return lock.withLock {
            while lastCompleted < id && failure == nil {
                let now = MonotonicClock.nanos()
                if now >= deadline { return false }
                _ = lock.wait(nanos: Swift.min(deadline - now, 50_000_000))
            }
            return lastCompleted >= id
        }
    }

    /// Waits until checkpoint `id` is recorded as a restore point (every task handled its
    /// completion: sinks committed) — true — or `timeoutNanos` passed or a checkpoint failed.
    func waitForRestorePoint(_ id: Int64, timeoutNanos: UInt64) -> Bool {
        let deadline = MonotonicClock.nanos() &+ timeoutNanos
        return lock.withLock {
            while durablyConfirmed < id && failure == nil {
                let now = MonotonicClock.nanos()
                if now >= deadline { return false }
                _ = lock.wait(nanos: Swift.min(deadline - now, 50_000_000))
            }
            return durablyConfirmed >= id
        }
    }

    /// A task's chain handled the completion of checkpoint `new` (its previous report: `old`;
    /// `Int64.max`: the task ended after its end of input). When every task is past a checkpoint,
    /// it is recorded as confirmed.
    @usableFromInline
    func notified(from old: Int64, to new: Int64) {
        let confirm = lock.withLock { () -> Int64? in
            if let n = tasksByNotified[old] { tasksByNotified[old] = n > 1 ? n - 1 : nil }
            tasksByNotified[new, default: 0] += 1
            return advanceConfirmed()
        }
        guard let id = confirm else { return }
        writeLock.withLock { writeConfirmed(id) }
    }

    /// The newest checkpoint every task is past, when it moved (under `lock`).
    private func advanceConfirmed() -> Int64? {
        let low = Swift.min(tasksByNotified.keys.min() ?? 0, lastCompleted)
        guard low > confirmed else { return nil }
        confirmed = low
        return low
    }

    /// Records `id` as confirmed in the store (under `writeLock`).
    private func writeConfirmed(_ id: Int64) {
        guard let store, id > confirmedWritten else { return }
        do {
            try store.confirm(checkpointID: id)
            confirmedWritten = id
            lock.withLock { durablyConfirmed = Swift.max(durablyConfirmed, id); lock.broadcast() }
        } catch {
            // Not fatal: a restore then uses an older confirmed checkpoint (replays more).
            logger.error("recording a confirmed checkpoint failed", metadata: [LogMetadataKey.checkpoint: "\(id)", LogMetadataKey.error: "\(error)"])
        }
    }

    /// Drops a checkpoint that can no longer complete (a task finished before its barrier).
    func abortPending() { lock.withLock { pending.removeAll() } }
}

/// A restored checkpoint: snapshots by stage uid and subtask.
struct RestoredCheckpoint {
    let id: Int64
    let metadata: [String: String]
    let stages: [String: [Int: [UInt8]]]

    /// The newest confirmed checkpoint (``CheckpointStore/restorePoint()``); newer, unconfirmed
    /// ones are discarded (their output may never have been committed, and this run replaces them).
    static func load(from store: CheckpointStore) throws -> RestoredCheckpoint? {
        let handle = try store.restorePoint()
        try store.discard(newerThan: handle?.id ?? 0)
        guard let handle else { return nil }
        var stages: [String: [Int: [UInt8]]] = [:]
        for name in handle.list() {
            guard let at = name.lastIndex(of: "@"), let s = Int(name[name.index(after: at)...]) else { continue }
            stages[String(name[..<at]), default: [:]][s] = try handle.read(file: name)
        }
        return RestoredCheckpoint(id: handle.id, metadata: handle.metadata, stages: stages)
    }
}
