import Synchronization
import Glibc
public import Logging

/// A streaming job: a name and a function that builds its dataflow graph.
///
/// ```swift
/// let job = Job("user-activity") { env in
///     env.source(FileSource(path: "events.ndjson", format: .debezium(Interaction.self)))
///         .assignTimestamps({ $0.tsMs }, watermark: .boundedOutOfOrderness(.seconds(2)), idleness: .seconds(30))
///         .keyBy { $0.userId }
///         .window(.sliding(size: .minutes(5), slide: .minutes(1)), allowedLateness: .seconds(10))
///         .aggregate(.count(), .sum(\.amount), .mean(\.amount), .max(\.amount)) { (count: $0, sum: $1, avg: $2, max: $3) }
///         .sink(...)
/// }
/// let result = try await job.run(parallelism: 2)
/// ```
public struct Job: Sendable {
    public let name: String
    let define: @Sendable (StreamEnvironment) throws -> Void

    public init(_ name: String, _ define: @escaping @Sendable (StreamEnvironment) throws -> Void) {
        self.name = name; self.define = define
    }

    /// Options of one run.
    public struct RunOptions: Sendable {
        /// Subtasks per keyed operator.
        public var parallelism: Int = 1
        /// Checkpointing; nil: none.
        public var checkpoints: CheckpointConfiguration?
        /// Resume from the latest complete checkpoint in `checkpoints.directory` when there is one.
        public var restore: Bool = false
        /// Max parallelism (key groups). Must stay the same across restores.
        public var maxParallelism: Int = 128
        /// Records per source poll.
        public var batchSize: Int = 4096
        /// Channel back-pressure policy.
        public var channelPolicy: HighLowWatermark = .default
        /// Test-only faults (see ``FaultInjection``); nil in production, where the source loop
        /// then checks one optional per batch and nothing per record.
        @_spi(Testing) public var faults: FaultInjection? = nil
        /// What a failure does (``RestartingJob``, used by ``Job/run(_:)`` and ``JobService``):
        /// `.none` ends the run with the failure; any other strategy builds the job again and
        /// restores it from its newest confirmed checkpoint (from the start without checkpoints).
        /// Default: `.none` (the CLI's default is ``RestartStrategy/longRunningDefault``).
        public var restartStrategy: RestartStrategy = .none
        /// Processing-time clock (ms); replace to drive time by hand in tests.
        public var processingTime: @Sendable () -> Int64 = { WallClock.millis() }
        /// Where the job logs its start, stop, checkpoints, restores and failures. Default: disabled.
        public var logger: Logger = .disabled
        /// How often the job's metrics (and its connectors') are copied into swift-metrics by a
        /// ``MetricsPublisher`` thread; nil: never. Default: 1 s. Without a bootstrapped
        /// swift-metrics backend the copies go to its no-op handlers.
        public var metricsInterval: Duration? = .seconds(1)
        public init(parallelism: Int = 1) { self.parallelism = parallelism }
    }

    /// Starts the job on dedicated threads and returns a handle to watch or stop it.
    public func start(_ options: RunOptions) throws -> RunningJob {
        try RunningJob(job: self, options: options)
    }

    /// Runs the job until its (bounded) sources finish, without blocking the concurrency pool.
    @discardableResult
    public func run(parallelism: Int = 1, checkpoints: CheckpointConfiguration? = nil, restore: Bool = false) async throws -> JobResult {
        var o = RunOptions(parallelism: parallelism)
        o.checkpoints = checkpoints; o.restore = restore
        return try await run(o)
    }

    /// Runs the job with `options` until its sources finish, restarting it after failures as
    /// ``RunOptions/restartStrategy`` says.
    @discardableResult
    public func run(_ options: RunOptions) async throws -> JobResult {
        try await RestartingJob(self, options: options).result()
    }
}

/// What a finished run reports.
public struct JobResult: Sendable {
    public let metrics: JobMetrics
    public let seconds: Double
    /// The checkpoint the run resumed from, if any.
    public let restoredCheckpoint: Int64?
    /// The newest checkpoint completed during the run (0: none).
    public let lastCheckpoint: Int64
    /// Whether the run ended by a graceful stop (``RunningJob/stop(checkpoint:timeout:)``, e.g. on
    /// SIGTERM) rather than by its sources finishing.
    public var stopped: Bool = false
    /// The final checkpoint the graceful stop took (nil: none, or checkpointing is off).
    public var finalCheckpoint: Int64? = nil
    /// Restarts after failures before this run (see ``RestartStrategy``); 0 for a first run.
    public var restarts: Int = 0
}

/// A job running on its threads.
///
/// Its lifecycle is one ``StateMachine`` behind `lock`: every event (a task ended or failed, a
/// stop or cancel was requested, a waiter arrived) is a mutating call that returns an action, and
/// the action's side effects (stopping the tasks, resuming waiters, taking the final checkpoint)
/// run after the lock is released.
public final class RunningJob: @unchecked Sendable {
    // @unchecked: `machine` is only touched under `lock`; everything else is immutable or thread-safe.
    public let metrics = JobMetrics()
    let control = JobControl()
    let coordinator: CheckpointCoordinator
    private let lock = ConditionLock()
    private var machine = StateMachine(tasks: [])
    private var gates: [any AnyObject & Cancellable] = []
    private let startNanos = MonotonicClock.nanos()
    /// The checkpoint the job resumed from.
    public let restoredCheckpoint: Int64?
    private let logger: Logger
    private let publisher: MetricsPublisher?

    init(job: Job, options: Job.RunOptions) throws {
        var logger = options.logger
        logger[metadataKey: LogMetadataKey.job] = "\(job.name)"
        self.logger = logger
        if let interval = options.metricsInterval {
            let bridge = JobMetricsBridge(metrics: metrics, job: job.name)
            let p = MetricsPublisher(interval: interval)
            p.add { bridge.publish() }
            publisher = p
        } else {
            publisher = nil
        }
        let env = StreamEnvironment(parallelism: options.parallelism)
        env.keyGroups = KeyGroups(maxParallelism: options.maxParallelism)
        env.batchSize = options.batchSize
        env.channelPolicy = options.channelPolicy
        try job.define(env)

        var store: CheckpointStore? = nil
        var restored: RestoredCheckpoint? = nil
        if let cp = options.checkpoints {
            store = CheckpointStore(directory: cp.directory, retain: cp.retain)
            if options.restore { restored = try RestoredCheckpoint.load(from: store!) }
        }
        if let restored, let mp = restored.metadata["max_parallelism"], Int(mp) != options.maxParallelism {
            throw StreamKitError(.checkpoint, "checkpoint \(restored.id) was taken with max parallelism \(mp); this run uses \(options.maxParallelism)")
        }
        restoredCheckpoint = restored?.id
        if let restored {
            metrics.restores.add(1)
            logger.info("restoring from checkpoint", metadata: [LogMetadataKey.checkpoint: "\(restored.id)"])
        } else if options.restore {
            logger.info("no complete checkpoint to restore: starting from the beginning")
        }
        coordinator = CheckpointCoordinator(store: store, control: control, metrics: metrics, firstID: (restored?.id ?? 0) + 1)
        coordinator.logger = logger
        coordinator.failAfterWritten = options.faults?.failAfterCheckpointWritten
        coordinator.metadata = ["job": job.name, "parallelism": "\(options.parallelism)", "max_parallelism": "\(options.maxParallelism)"]

        // Consumers of each node.
        let nodes = env.nodes
        var consumers = [[(node: Int, edge: GraphEdge, channelOffset: Int)]](repeating: [], count: nodes.count)
        var gateChannels = [Int](repeating: 0, count: nodes.count)
        for n in nodes {
            for e in n.inputs {
                var offset = 0
                if !e.isForward { offset = gateChannels[n.id]; gateChannels[n.id] += nodes[e.from].parallelism }
                consumers[e.from].append((n.id, e, offset))
            }
        }
        // Input gates of exchange-fed nodes.
        var nodeGates = [[AnyObject]](repeating: [], count: nodes.count)
        for n in nodes where n.makeGate != nil {
            nodeGates[n.id] = (0..<n.parallelism).map { s in
                n.makeGate!(gateChannels[n.id], env.channelPolicy, metrics.registerChannel("\(n.uid)[\(s)]"))
            }
        }
        gates = nodeGates.flatMap { $0 }.map { $0 as! any AnyObject & Cancellable }
        // One back-pressure hook per task (a source or gate-fed subtask and its chain).
        var hooks = [[BackpressureHook]](repeating: [], count: nodes.count)
        for n in nodes {
            if n.isSource || n.makeGate != nil {
                hooks[n.id] = (0..<n.parallelism).map { _ in BackpressureHook() }
            } else {
                let from = n.inputs[0].from
                hooks[n.id] = (0..<n.parallelism).map { hooks[from][$0] }
            }
        }
        // Build stages from the sinks up, so every output exists before its producer.
        var inputs = [[Any]](repeating: [], count: nodes.count)
        var taskBodies: [(String, () throws -> Void)] = []
        let gateControl = GateTaskControl(job: control, coordinator: coordinator, processingTime: options.processingTime)
        for n in nodes.reversed() {
            inputs[n.id] = Array(repeating: (), count: n.parallelism)
            for s in 0..<n.parallelism {
                func outputs(side: Bool) -> [Any] {
                    consumers[n.id].filter { $0.edge.fromSide == side }.map { c -> Any in
                        switch c.edge.partitioning {
                        case .forward: return inputs[c.node][s]
                        case let .exchange(makeWriter): return makeWriter(nodeGates[c.node], c.channelOffset + s, hooks[n.id][s])
                        }
                    }
                }
                let output = n.fanOut(outputs(side: false))
                let sideOutput: Any? = n.sideFanOut.map { $0(outputs(side: true)) }
                let opMetrics = metrics.registerOperator("\(n.uid)[\(s)]")
                let opContext = OperatorContext(subtask: s, parallelism: n.parallelism, keyGroups: env.keyGroups,
                                                metrics: opMetrics, jobMetrics: metrics, processingTime: options.processingTime)
                opContext.backpressure = hooks[n.id][s]
                var restore: OperatorRestore? = nil
                if let restored, let encoded = restored.stages[n.uid] {
                    restore = try OperatorRestore.gather(checkpointID: restored.id, encoded: encoded, subtask: s,
                                                         owned: opContext.ownedKeyGroups)
                }
                let ctx = BuildContext(subtask: s, parallelism: n.parallelism, operatorContext: opContext,
                                       restore: restore, hook: hooks[n.id][s], uid: n.uid)
                if let makeSource = n.makeSourceTask {
                    let control = SourceTaskControl(job: control, coordinator: coordinator, uid: n.uid, hook: hooks[n.id][s],
                                                    testHooks: SourceTestHooks(checkpointEveryRecords: options.checkpoints?.everyRecords,
                                                                               faults: options.faults))
                    taskBodies.append(("\(n.name)[\(s)]", try makeSource(ctx, output, sideOutput, control)))
                } else {
                    inputs[n.id][s] = try n.build!(ctx, output, sideOutput)
                    if let makeTask = n.makeGateTask {
                        taskBodies.append(("\(n.name)[\(s)]", makeTask(nodeGates[n.id][s], inputs[n.id][s], gateControl)))
                    }
                }
            }
        }
        coordinator.expectedAcks = taskBodies.count
        coordinator.failJob = { [weak self] error in self?.taskFailed(error) }
        // Task names identify threads and the tasks a stop waits for: two sinks may share a name
        // (two `file-sink`s), so a repeated name gets a `#n` suffix.
        var seen: [String: Int] = [:]
        taskBodies = taskBodies.map { name, body in
            let n = seen[name, default: 0] + 1
            seen[name] = n
            return (n == 1 ? name : "\(name)#\(n)", body)
        }
        machine = StateMachine(tasks: taskBodies.map(\.0))
        logger.info("job started", metadata: [
            "tasks": "\(taskBodies.count)", "parallelism": "\(options.parallelism)",
            "checkpoints": "\(options.checkpoints.map { $0.directory } ?? "off")",
        ])
        publisher?.start()
        final class Body: @unchecked Sendable { let run: () throws -> Void; init(_ r: @escaping () throws -> Void) { run = r } }
        for (name, task) in taskBodies {
            // @unchecked: each task body runs on exactly one thread.
            let body = Body(task)
            _ = startThread(name: name) { [self] in
                do { try body.run() } catch { taskFailed(error) }
                taskEnded(name)
            }
        }
        if let interval = options.checkpoints?.interval {
            let nanos = UInt64(interval.milliseconds) * 1_000_000
            _ = startThread(name: "checkpointer") { [self] in
                while true {
                    let next = lock.withLock { () -> StateMachine.PeriodicCheckpointAction in
                        if !machine.isFinished { _ = lock.wait(nanos: nanos) }
                        return machine.nextPeriodicCheckpoint()
                    }
                    switch next {
                    case .trigger: coordinator.trigger()
                    case .skip: continue
                    case .exit: return
                    }
                }
            }
        }
    }

    // MARK: events → actions

    private func taskFailed(_ error: any Error) {
        let action = lock.withLock { machine.taskFailed(error) }
        if case .stopTasks = action {
            if let e = error as? StreamKitError, e.code == .cancelled {
                logger.notice("job cancelled")
            } else {
                logger.error("job failed", metadata: [LogMetadataKey.error: "\(error)"])
            }
        }
        run(action)
    }

    private func taskEnded(_ name: String) {
        let action = lock.withLock { () -> StateMachine.TaskEndedAction in
            let a = machine.taskEnded(name, now: MonotonicClock.nanos())
            if case .finish = a { lock.broadcast() }
            return a
        }
        switch action {
        case .none: break
        case let .finish(waiters, outcome):
            publisher?.stop()
            logger.log(level: outcome.error == nil ? .info : .notice, "job stopped", metadata: [
                "seconds": "\(Double(outcome.endNanos &- startNanos) / 1e9)",
                "source_records": "\(metrics.sourceRecords.current)",
                "last_checkpoint": "\(coordinator.lastCompleted)",
            ])
            let result = makeResult(outcome)
            for w in waiters { w.resume(with: result) }
        }
    }

    private func run(_ action: StateMachine.StopTasksAction) {
        switch action {
        case .none: break
        case .stopTasks: stopTasks()
        }
    }

    /// Tells every task to stop: the source loops check the flag between batches, the gate tasks wake up cancelled.
    private func stopTasks() {
        control.stopRequested.store(true, ordering: .releasing)
        for g in gates { g.cancel() }
    }

    private func makeResult(_ outcome: StateMachine.Outcome) -> Result<JobResult, any Error> {
        if let error = outcome.error { return .failure(error) }
        var r = JobResult(metrics: metrics, seconds: Double(outcome.endNanos &- startNanos) / 1e9,
                          restoredCheckpoint: restoredCheckpoint, lastCheckpoint: coordinator.lastCompleted)
        r.stopped = outcome.stopped
        r.finalCheckpoint = outcome.finalCheckpoint
        return .success(r)
    }

    private func waitForFinish() -> StateMachine.Outcome {
        lock.withLock {
            while true {
                if let o = machine.outcome { return o }
                lock.wait()
            }
        }
    }

    // MARK: public API

    /// Whether every task ended.
    public var isFinished: Bool { lock.withLock { machine.isFinished } }

    /// Waits (blocking this thread) until every task ended; throws the first task failure.
    public func waitUntilFinished() throws -> JobResult {
        try makeResult(waitForFinish()).get()
    }

    /// Waits without blocking the concurrency pool. Cancelling the waiting task stops the job: the
    /// wait throws once every task ended, or after `cancelGrace` with the names of the tasks still
    /// running (a thread stuck in a blocking call cannot be interrupted, only reported).
    public func result(cancelGrace: Duration = .seconds(15)) async throws -> JobResult {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<JobResult, any Error>) in
                switch lock.withLock({ machine.awaitResult(c) }) {
                case .none: break
                case let .resume(outcome): c.resume(with: makeResult(outcome))
                }
            }
        } onCancel: {
            cancel(grace: cancelGrace)
        }
    }

    /// Stops the job with a "cancelled" error (no final checkpoint). Waiters of ``result(cancelGrace:)``
    /// are released after `grace` even if some task does not end.
    public func cancel(grace: Duration = .seconds(15)) {
        switch lock.withLock({ machine.cancel(StreamKitError(.cancelled, "job cancelled")) }) {
        case .none:
            return
        case .stopTasks:
            stopTasks()
        }
        let nanos = UInt64(grace.milliseconds) * 1_000_000
        _ = startThread(name: "cancel-watch") { [self] in
            let deadline = MonotonicClock.nanos() &+ nanos
            let action = lock.withLock { () -> StateMachine.GraceExpiredAction in
                while !machine.isFinished {
                    let now = MonotonicClock.nanos()
                    if now >= deadline { break }
                    _ = lock.wait(nanos: deadline &- now)
                }
                return machine.cancelGraceExpired()
            }
            switch action {
            case .none: break
            case let .failWaiters(waiters, stuck):
                let error = StreamKitError(.cancelled, "job cancelled, but these tasks did not stop within \(grace): \(stuck.joined(separator: ", "))")
                for w in waiters { w.resume(throwing: error) }
            }
        }
    }

    /// Triggers a checkpoint now; returns its id (nil when checkpointing is off or one is in flight).
    @discardableResult
    public func triggerCheckpoint() -> Int64? { coordinator.trigger() }

    /// Waits until checkpoint `id` completed.
    public func waitForCheckpoint(_ id: Int64, timeout: Duration = .seconds(30)) -> Bool {
        coordinator.waitForCompletion(of: id, timeoutNanos: UInt64(timeout.milliseconds) * 1_000_000)
    }

    /// Waits until checkpoint `id` is a restore point: completed, every task handled its completion
    /// (sinks committed) and that is recorded in the store, so a restore after a crash — even
    /// kill -9 right after this returns — starts from it or later (a savepoint's promise).
    public func waitForRestorePoint(_ id: Int64, timeout: Duration = .seconds(30)) -> Bool {
        coordinator.waitForRestorePoint(id, timeoutNanos: UInt64(timeout.milliseconds) * 1_000_000)
    }

    /// Stops the job (graceful shutdown, e.g. on SIGTERM) and waits, blocking this thread, until
    /// every task ended: with `checkpoint`, first takes a final checkpoint so a restore continues
    /// exactly where this run stopped. Windows are not flushed. Returns the final checkpoint (also
    /// when another caller's stop took it), nil when none was taken.
    @discardableResult
    public func stop(checkpoint: Bool = true, timeout: Duration = .seconds(60)) -> Int64? {
        switch lock.withLock({ machine.stopRequested(checkpoint: checkpoint) }) {
        case .takeFinalCheckpoint:
            let id = takeFinalCheckpoint(timeout: timeout)
            run(lock.withLock { machine.finalCheckpointEnded(id) })
        case .stopTasks:
            stopTasks()
        case .waitUntilFinished:
            break
        }
        return waitForFinish().finalCheckpoint
    }

    /// Starts ``stop(checkpoint:timeout:)`` on a thread of its own and returns at once (for callers
    /// on the concurrency pool, e.g. a graceful-shutdown handler).
    public func requestStop(checkpoint: Bool = true, timeout: Duration = .seconds(60)) {
        _ = startThread(name: "graceful-stop") { [self] in _ = stop(checkpoint: checkpoint, timeout: timeout) }
    }

    /// Triggers the final checkpoint (another may be in flight: retries until ours is accepted) and
    /// waits for it while the stop is still graceful (a cancel or a task failure ends the wait).
    private func takeFinalCheckpoint(timeout: Duration) -> Int64? {
        let deadline = MonotonicClock.nanos() &+ UInt64(timeout.milliseconds) * 1_000_000
        var stillTaking: Bool { lock.withLock { machine.isTakingFinalCheckpoint } }
        var id: Int64? = nil
        while id == nil && MonotonicClock.nanos() < deadline && stillTaking {
            id = coordinator.trigger()
            if id == nil { usleep(5000) }
        }
        guard let id else { return nil }
        while MonotonicClock.nanos() < deadline && stillTaking {
            let sliceStart = MonotonicClock.nanos()
            if coordinator.waitForCompletion(of: id, timeoutNanos: 100_000_000) { return id }
            // An early `false` is not a time-out: the checkpoint failed.
            if MonotonicClock.nanos() &- sliceStart < 90_000_000 { return nil }
        }
        return nil
    }
}

/// Things that can be cancelled when a job stops.
protocol Cancellable: AnyObject { func cancel() }
extension InputGate: Cancellable {}
