public import ServiceLifecycle
import Synchronization

/// A job as a swift-service-lifecycle `Service`: ``run()`` starts the job on its dedicated threads
/// (never the concurrency pool), restarts it after failures as its
/// ``Job/RunOptions/restartStrategy`` says (``RestartingJob``), and returns when the job
/// finishes, fails for good, or, after a graceful
/// shutdown of its `ServiceGroup` (e.g. SIGTERM), stops: with checkpointing on, after a final
/// checkpoint, so a restore continues where this run stopped. Cancelling `run()` cancels the job.
///
/// ```swift
/// let service = JobService(job, options: options)
/// let group = ServiceGroup(configuration: .init(
///     services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup,
///                      failureTerminationBehavior: .gracefullyShutdownGroup)],
///     gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
/// try await group.run()
/// let result = try service.result!.get()
/// ```
public final class JobService: Service, Sendable {
    public let job: Job
    public let options: Job.RunOptions
    /// Take a final checkpoint on graceful shutdown. Default: when checkpointing is on.
    public let checkpointOnShutdown: Bool
    private let onStart: @Sendable (RunningJob) -> Void
    private let state = Mutex<(job: RestartingJob?, result: Result<JobResult, any Error>?)>((nil, nil))

    /// - Parameter onStart: called with the running job once ``run()`` started it, and again after
    ///   each restart (``Job/RunOptions/restartStrategy``), e.g. to print progress.
    public init(_ job: Job, options: Job.RunOptions, checkpointOnShutdown: Bool? = nil,
                onStart: @escaping @Sendable (RunningJob) -> Void = { _ in }) {
        self.job = job; self.options = options
        self.checkpointOnShutdown = checkpointOnShutdown ?? (options.checkpoints != nil)
        self.onStart = onStart
    }

    /// The running job (the current attempt), once ``run()`` started it.
    public var running: RunningJob? { state.withLock { $0.job?.running } }

    /// The job with its restart strategy, once ``run()`` began.
    public var restarting: RestartingJob? { state.withLock { $0.job } }

    /// How the run ended, once ``run()`` returned (a failure to start included).
    public var result: Result<JobResult, any Error>? { state.withLock { $0.result } }

    public func run() async throws {
        let restarting = RestartingJob(job, options: options, onStart: onStart)
        state.withLock { $0.job = restarting }
        let checkpoint = checkpointOnShutdown
        do {
            let r = try await withGracefulShutdownHandler {
                try await restarting.result()
            } onGracefulShutdown: {
                // The stop blocks (final checkpoint, then the tasks end): on a thread of its own.
                restarting.requestStop(checkpoint: checkpoint)
            }
            state.withLock { $0.result = .success(r) }
        } catch {
            state.withLock { $0.result = .failure(error) }
            throw error
        }
    }
}
