public import ServiceLifecycle
import Synchronization

/// A job as a swift-service-lifecycle `Service`: ``run()`` starts the job on its dedicated threads
/// (never the concurrency pool) and returns when the job finishes, fails, or, after a graceful
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
    private let state = Mutex<(running: RunningJob?, result: Result<JobResult, any Error>?)>((nil, nil))

    /// - Parameter onStart: called with the running job once ``run()`` started it (e.g. to print progress).
    public init(_ job: Job, options: Job.RunOptions, checkpointOnShutdown: Bool? = nil,
                onStart: @escaping @Sendable (RunningJob) -> Void = { _ in }) {
        self.job = job; self.options = options
        self.checkpointOnShutdown = checkpointOnShutdown ?? (options.checkpoints != nil)
        self.onStart = onStart
    }

    /// The running job, once ``run()`` started it.
    public var running: RunningJob? { state.withLock { $0.running } }

    /// How the run ended, once ``run()`` returned (a failure to start included).
    public var result: Result<JobResult, any Error>? { state.withLock { $0.result } }

    public func run() async throws {
        let running: RunningJob
        do {
            running = try job.start(options)
        } catch {
            state.withLock { $0.result = .failure(error) }
            throw error
        }
        state.withLock { $0.running = running }
        onStart(running)
        let checkpoint = checkpointOnShutdown
        do {
            let r = try await withGracefulShutdownHandler {
                try await running.result()
            } onGracefulShutdown: {
                // The stop blocks (final checkpoint, then the tasks end): on a thread of its own.
                running.requestStop(checkpoint: checkpoint)
            }
            state.withLock { $0.result = .success(r) }
        } catch {
            state.withLock { $0.result = .failure(error) }
            throw error
        }
    }
}
