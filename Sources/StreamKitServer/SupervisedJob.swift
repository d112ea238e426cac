import Foundation
import Logging
import Synchronization
import StreamKit
import StreamKitKafka
import StreamKitRedis
import StreamKitJobs

/// A started example job, supervised: it runs with periodic checkpoints in its own folder of the
/// data directory; when it fails it is built again and restored from its latest complete
/// checkpoint after a ``RestartBackoff`` wait. ``stop()`` takes a final checkpoint first.
final class SupervisedJob: Sendable {
    enum Phase: String, Sendable {
        case starting = "STARTING", running = "RUNNING", restarting = "RESTARTING", stopping = "STOPPING"
        case stopped = "STOPPED", finished = "FINISHED", failed = "FAILED"
    }

    private struct State {
        var running: RunningJob?
        var stopRequested = false
        var waitingToRestart = false
        var done: Phase?
        var restarts = 0
        var lastError: String?
        var lastCheckpoint: Int64?
        var task: Task<Void, Never>?
    }

    let id: String
    /// Builds the job (again for every restart).
    let build: @Sendable () throws -> Job
    let options: Job.RunOptions
    let backoff: RestartBackoff
    let logger: Logger
    let history = RateHistory()
    /// Records read by earlier runs (a restart starts a new `RunningJob` with fresh metrics).
    private let recordsBefore = Atomic<Int>(0)
    private let state = Mutex(State())

    init(id: String, options: Job.RunOptions, backoff: RestartBackoff, logger: Logger, build: @escaping @Sendable () throws -> Job) {
        self.id = id; self.build = build; self.options = options; self.backoff = backoff; self.logger = logger
    }

    /// Builds the job once (to report bad arguments before anything is stored).
    static func check(_ spec: JobSpec, context: JobContext) throws {
        do {
            _ = try ExampleJobs.make(spec.job, arguments: spec.args ?? [:], context: context)
        } catch let e as StreamKitError {
            throw ServerError.invalid("args", e.message)
        }
    }

    func start() {
        let task = Task.detached { [self] in await supervise() }
        state.withLock { $0.task = task }
    }

    /// Stops the job with a final checkpoint and waits until it ended.
    func stop() async {
        let (task, running): (Task<Void, Never>?, RunningJob?) = state.withLock { s in
            s.stopRequested = true
            return (s.task, s.running)
        }
        running?.requestStop(checkpoint: true)
        await task?.value
    }

    /// Triggers a checkpoint and waits for it (off the concurrency pool); its id.
    func savepoint() async throws -> Int64 {
        guard let running = state.withLock({ $0.stopRequested ? nil : $0.running }) else {
            throw ServerError(.conflict, "job '\(id)' is not running")
        }
        let id: Int64? = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var taken: Int64? = nil
                for _ in 0..<50 {
                    if let cp = running.triggerCheckpoint() { taken = cp; break }
                    Thread.sleep(forTimeInterval: 0.1)   // another checkpoint is in flight
                }
                if let cp = taken, running.waitForRestorePoint(cp, timeout: .seconds(60)) { continuation.resume(returning: cp) }
                else { continuation.resume(returning: nil) }
            }
        }
        guard let id else { throw ServerError(.conflict, "job '\(self.id)' could not complete a checkpoint (stopping or failing)") }
        state.withLock { $0.lastCheckpoint = id }
        return id
    }

    var phase: Phase {
        state.withLock { s in
            if let done = s.done { return done }
            if s.stopRequested { return .stopping }
            if s.waitingToRestart { return .restarting }
            return s.running == nil ? .starting : .running
        }
    }

    var isFinished: Bool { state.withLock { $0.done != nil } }
    var restarts: Int { state.withLock { $0.restarts } }
    var lastError: String? { state.withLock { $0.lastError } }
    var running: RunningJob? { state.withLock { $0.running } }

    var recordsTotal: Int { recordsBefore.load(ordering: .relaxed) + Int(running?.metrics.sourceRecords.current ?? 0) }

    /// The newest complete checkpoint in the job's folder.
    var lastCheckpoint: Int64? {
        let known = state.withLock { $0.lastCheckpoint }
        guard let dir = options.checkpoints?.directory,
              let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return known }
        let ids = names.compactMap { $0.hasPrefix("chk-") ? Int64($0.dropFirst(4)) : nil }
        return [ids.max(), known].compactMap { $0 }.max()
    }

    private func supervise() async {
        var attempt = 0
        var restore = false
        var outcome: Phase = .stopped
        while true {
            var o = options
            o.restore = restore || hasCheckpoint
            let running: RunningJob
            do {
                running = try build().start(o)
            } catch {
                if record(error) { break }
                attempt += 1
                await waitBeforeRestart(attempt: attempt)
                continue
            }
            let go = state.withLock { s in
                s.running = running
                s.waitingToRestart = false
                return !s.stopRequested
            }
            if !go { running.requestStop(checkpoint: true) }
            let started = ContinuousClock.now
            do {
                let result = try await running.result()
                if let cp = result.finalCheckpoint { state.withLock { $0.lastCheckpoint = cp } }
                outcome = result.stopped || state.withLock({ $0.stopRequested }) ? .stopped : .finished
                break
            } catch {
                recordsBefore.add(Int(running.metrics.sourceRecords.current), ordering: .relaxed)
                if record(error) { break }
                if ContinuousClock.now - started >= backoff.healthyAfter { attempt = 0 }
                attempt += 1
                restore = true
                await waitBeforeRestart(attempt: attempt)
            }
        }
        state.withLock { $0.done = outcome; $0.waitingToRestart = false }
    }

    private var hasCheckpoint: Bool { lastCheckpoint != nil }

    /// Keeps the error; returns whether the job is stopping anyway.
    private func record(_ error: any Error) -> Bool {
        let message = LogRedaction.connectionString("\(error)")
        logger.warning("job failed", metadata: ["job.id": "\(id)", "error.message": "\(message)"])
        return state.withLock { s in
            s.lastError = message
            return s.stopRequested
        }
    }

    private func waitBeforeRestart(attempt: Int) async {
        let wait = backoff.delay(attempt: attempt)
        state.withLock { $0.restarts += 1; $0.waitingToRestart = true; $0.running = nil }
        let deadline = ContinuousClock.now + wait
        while ContinuousClock.now < deadline, !state.withLock({ $0.stopRequested }) {
            try? await Task.sleep(for: min(.milliseconds(100), deadline - ContinuousClock.now))
        }
    }
}
