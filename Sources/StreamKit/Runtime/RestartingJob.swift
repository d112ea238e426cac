import CoreMetrics
import Synchronization
import Logging

/// A job under its ``RestartStrategy`` (Flink's failover with a restart strategy): each attempt
/// is a ``RunningJob``; when one fails, the strategy says whether and after how long to build the
/// job again in this process, restored from its newest confirmed checkpoint (with checkpointing
/// off, from the start). When the strategy is exhausted, ``result()`` throws an error naming the
/// strategy and the last failure. A graceful stop or a cancel is never restarted.
///
/// Restarts and failures are metrics: `streamkit_job_restarts_total{job}`,
/// `streamkit_job_failures_total{job,code}` and `streamkit_job_last_failure_timestamp_seconds{job}`.
///
/// ```swift
/// var options = Job.RunOptions(parallelism: 2)
/// options.checkpoints = CheckpointConfiguration(directory: "/var/lib/job/checkpoints", interval: .seconds(5))
/// options.restartStrategy = try RestartStrategy(parsing: "fixed-delay:attempts=3,delay=10s")
/// let result = try await RestartingJob(job, options: options).result()
/// ```
public final class RestartingJob: Sendable {
    public let job: Job
    public let options: Job.RunOptions
    /// Restarts so far (also `streamkit_job_restarts_total`).
    public let restarts = Counter()
    private let onStart: @Sendable (RunningJob) -> Void
    private let state = Mutex(State())
    private let restartCounter: CoreMetrics.Counter
    private let lastFailureGauge: CoreMetrics.Gauge

    private struct State {
        var running: RunningJob?
        /// A graceful stop was requested (with a final checkpoint or not): no more restarts.
        var stop: Bool?
        var cancelled = false
        var lastFailure: (any Error)?
        /// The wait before a restart.
        var delayWaiter: CheckedContinuation<Void, Never>?
        var delayGeneration = 0
        var delayDone = false
    }

    /// - Parameter onStart: called with each attempt's running job once it started.
    public init(_ job: Job, options: Job.RunOptions, onStart: @escaping @Sendable (RunningJob) -> Void = { _ in }) {
        self.job = job; self.options = options; self.onStart = onStart
        restartCounter = CoreMetrics.Counter(label: "streamkit_job_restarts_total", dimensions: [("job", job.name)])
        lastFailureGauge = CoreMetrics.Gauge(label: "streamkit_job_last_failure_timestamp_seconds", dimensions: [("job", job.name)])
    }

    /// The current attempt, once started.
    public var running: RunningJob? { state.withLock { $0.running } }
    /// The newest failure of an attempt, if any.
    public var lastFailure: (any Error)? { state.withLock { $0.lastFailure } }

    /// Runs attempts until one ends without failing (its sources finished, or a graceful stop),
    /// the strategy is exhausted, or the calling task is cancelled (which cancels the job).
    public func result() async throws -> JobResult {
        var backoff = RestartBackoff(options.restartStrategy)
        var random = SystemRandomNumberGenerator()
        var restore = options.restore
        var attempt = 0
        var logger = options.logger
        logger[metadataKey: LogMetadataKey.job] = "\(job.name)"
        while true {
            var o = options
            o.restore = restore
            if let f = o.faults, attempt >= f.failingAttempts { o.faults = nil }
            let started = MonotonicClock.nanos()
            let failure: any Error
            do {
                let running = try job.start(o)
                let stopNow = state.withLock { s -> Bool? in s.running = running; return s.stop }
                if let checkpoint = stopNow { running.requestStop(checkpoint: checkpoint) }
                onStart(running)
                var r = try await running.result()
                r.restarts = attempt
                return r
            } catch {
                // A job that cannot even be built the first time (bad configuration) is not retried.
                if attempt == 0 && state.withLock({ $0.running == nil }) { throw error }
                failure = error
            }
            let (stopping, previous) = state.withLock { s -> (Bool, RunningJob?) in
                s.lastFailure = failure
                return (s.stop != nil || s.cancelled, s.running)
            }
            if stopping || Task.isCancelled { throw failure }
            let now = MonotonicClock.nanos()
            recordFailure(failure)
            guard let delay = backoff.onFailure(atNanos: now, runNanos: now &- started, random: &random) else {
                if case .none = options.restartStrategy { throw failure }
                logger.error("job failed and its restart strategy is exhausted", metadata: [
                    "restart_strategy": "\(options.restartStrategy)", "restarts": "\(attempt)", LogMetadataKey.error: "\(failure)",
                ])
                throw StreamKitError(.state, "job \(job.name) failed and its restart strategy (\(options.restartStrategy)) is exhausted after \(attempt) restart\(attempt == 1 ? "" : "s"); last failure: \(failure)")
            }
            // Restore once any attempt has (or had) a checkpoint to restore.
            if options.checkpoints != nil, let p = previous, p.restoredCheckpoint != nil || p.coordinator.lastCompleted > 0 {
                restore = true
            }
            logger.warning("job failed: restarting", metadata: [
                LogMetadataKey.error: "\(failure)", "restart_in_ms": "\(delay.milliseconds)", "attempt": "\(attempt + 1)",
                "restore": "\(restore)", "restart_strategy": "\(options.restartStrategy)",
            ])
            await wait(delay)
            if state.withLock({ $0.stop != nil || $0.cancelled }) || Task.isCancelled { throw failure }
            attempt += 1
            restarts.add(1)
            restartCounter.increment()
        }
    }

    /// Stops the current attempt gracefully (see ``RunningJob/requestStop(checkpoint:timeout:)``)
    /// and prevents further restarts; a wait before a restart ends at once.
    public func requestStop(checkpoint: Bool = true) {
        let running = state.withLock { s -> RunningJob? in
            if s.stop == nil { s.stop = checkpoint }
            return s.running
        }
        running?.requestStop(checkpoint: checkpoint)
        wakeDelay(generation: nil)
    }

    private func recordFailure(_ error: any Error) {
        let code = (error as? StreamKitError)?.code.rawValue ?? "other"
        CoreMetrics.Counter(label: "streamkit_job_failures_total", dimensions: [("job", job.name), ("code", code)]).increment()
        lastFailureGauge.record(Double(WallClock.millis()) / 1000)
    }

    /// Waits `delay`, or less when the job is stopped or the calling task cancelled.
    private func wait(_ delay: Duration) async {
        let generation = state.withLock { s -> Int in s.delayGeneration += 1; s.delayDone = false; return s.delayGeneration }
        let timer = Task { [self] in
            try? await Task.sleep(for: delay)
            wakeDelay(generation: generation)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.delayDone || s.stop != nil || s.cancelled { return true }
                    s.delayWaiter = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            state.withLock { $0.cancelled = true }
            wakeDelay(generation: nil)
        }
        timer.cancel()
    }

    /// Ends the current wait (`generation` nil: whichever is current).
    private func wakeDelay(generation: Int?) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let generation, generation != s.delayGeneration { return nil }
            s.delayDone = true
            defer { s.delayWaiter = nil }
            return s.delayWaiter
        }
        waiter?.resume()
    }
}
