import Synchronization
import Glibc

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
        /// Failure injection for tests: the sources fail after this many records.
        public var failAfterRecords: Int? = nil
        /// Failure injection for tests: the injected failure also waits until a checkpoint of
        /// this run completed (so a restore has one, however fast the sources are).
        public var failAfterACheckpoint: Bool = false
        /// Processing-time clock (ms); replace to drive time by hand in tests.
        public var processingTime: @Sendable () -> Int64 = { WallClock.millis() }
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

    /// Runs the job with `options` until its sources finish.
    @discardableResult
    public func run(_ options: RunOptions) async throws -> JobResult {
        let running = try start(options)
        return try await running.result()
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
}

/// A job running on its threads.
public final class RunningJob: @unchecked Sendable {
    // @unchecked: mutable state is guarded by `lock`.
    public let metrics = JobMetrics()
    let control = JobControl()
    let coordinator: CheckpointCoordinator
    private let lock = ConditionLock()
    private var gates: [any AnyObject & Cancellable] = []
    private var running = 0
    /// Names of the task threads that have not ended yet (for diagnostics of a stuck stop).
    private var runningTasks: Set<String> = []
    private var firstError: (any Error)?
    private var finished = false
    private var continuations: [CheckedContinuation<JobResult, any Error>] = []
    private let startNanos = MonotonicClock.nanos()
    private var endNanos: UInt64 = 0
    /// The checkpoint the job resumed from.
    public let restoredCheckpoint: Int64?

    init(job: Job, options: Job.RunOptions) throws {
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
        coordinator = CheckpointCoordinator(store: store, control: control, metrics: metrics, firstID: (restored?.id ?? 0) + 1)
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
                var restore: OperatorRestore? = nil
                if let restored, let encoded = restored.stages[n.uid] {
                    restore = try OperatorRestore.gather(checkpointID: restored.id, encoded: encoded, subtask: s,
                                                         owned: opContext.ownedKeyGroups)
                }
                let ctx = BuildContext(subtask: s, parallelism: n.parallelism, operatorContext: opContext,
                                       restore: restore, hook: hooks[n.id][s], uid: n.uid)
                if let makeSource = n.makeSourceTask {
                    let control = SourceTaskControl(job: control, coordinator: coordinator, uid: n.uid, hook: hooks[n.id][s],
                                                    checkpointEveryRecords: options.checkpoints?.everyRecords ?? 0,
                                                    failAfterRecords: options.failAfterRecords ?? 0,
                                                    failAfterACheckpoint: options.failAfterACheckpoint)
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
        running = taskBodies.count
        runningTasks = Set(taskBodies.map(\.0))
        final class Body: @unchecked Sendable { let run: () throws -> Void; init(_ r: @escaping () throws -> Void) { run = r } }
        for (name, task) in taskBodies {
            // @unchecked: each task body runs on exactly one thread.
            let body = Body(task)
            _ = startThread(name: name) { [self] in
                do { try body.run() } catch { fail(error) }
                taskEnded(name)
            }
        }
        if let interval = options.checkpoints?.interval {
            let nanos = UInt64(interval.milliseconds) * 1_000_000
            _ = startThread(name: "checkpointer") { [self] in
                while !isFinished {
                    lock.withLock { if !finished { _ = lock.wait(nanos: nanos) } }
                    if isFinished || control.stopRequested.load(ordering: .relaxed) { break }
                    coordinator.trigger()
                }
            }
        }
    }

    private var isFinished: Bool { lock.withLock { finished } }

    private func fail(_ error: any Error) {
        lock.withLock { if firstError == nil { firstError = error } }
        cancelAll()
    }

    private func cancelAll() {
        control.stopRequested.store(true, ordering: .releasing)
        for g in gates { g.cancel() }
    }

    private func taskEnded(_ name: String) {
        let waiters: [CheckedContinuation<JobResult, any Error>] = lock.withLock {
            running -= 1
            runningTasks.remove(name)
            guard running == 0 else { return [] }
            finished = true
            endNanos = MonotonicClock.nanos()
            lock.broadcast()
            let w = continuations; continuations = []
            return w
        }
        for w in waiters { resume(w) }
    }

    private func resume(_ c: CheckedContinuation<JobResult, any Error>) {
        if let e = lock.withLock({ firstError }) { c.resume(throwing: e) } else { c.resume(returning: currentResult()) }
    }

    private func currentResult() -> JobResult {
        lock.withLock {
            JobResult(metrics: metrics, seconds: Double((finished ? endNanos : MonotonicClock.nanos()) &- startNanos) / 1e9,
                      restoredCheckpoint: restoredCheckpoint, lastCheckpoint: coordinator.lastCompleted)
        }
    }

    /// Waits (blocking this thread) until every task ended; throws the first task failure.
    public func waitUntilFinished() throws -> JobResult {
        lock.withLock { while !finished { lock.wait() } }
        if let e = lock.withLock({ firstError }) { throw e }
        return currentResult()
    }

    /// Waits without blocking the concurrency pool. Cancelling the waiting task stops the job: the
    /// wait throws once every task ended, or after `cancelGrace` with the names of the tasks still
    /// running (a thread stuck in a blocking call cannot be interrupted, only reported).
    public func result(cancelGrace: Duration = .seconds(15)) async throws -> JobResult {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<JobResult, Error>) in
                let done = lock.withLock { () -> Bool in
                    if finished { return true }
                    continuations.append(c); return false
                }
                if done { resume(c) }
            }
        } onCancel: {
            cancel(grace: cancelGrace)
        }
    }

    /// Stops the job with a "cancelled" error (no final checkpoint). Waiters of ``result(cancelGrace:)``
    /// are released after `grace` even if some task does not end.
    public func cancel(grace: Duration = .seconds(15)) {
        if isFinished { return }
        fail(StreamKitError(.cancelled, "job cancelled"))
        let nanos = UInt64(grace.milliseconds) * 1_000_000
        _ = startThread(name: "cancel-watch") { [self] in
            let deadline = MonotonicClock.nanos() &+ nanos
            let waiters: [CheckedContinuation<JobResult, any Error>] = lock.withLock {
                while !finished {
                    let now = MonotonicClock.nanos()
                    if now >= deadline { break }
                    _ = lock.wait(nanos: deadline &- now)
                }
                if finished { return [] }
                let w = continuations; continuations = []
                return w
            }
            if waiters.isEmpty { return }
            let stuck = lock.withLock { runningTasks.sorted().joined(separator: ", ") }
            let error = StreamKitError(.cancelled, "job cancelled, but these tasks did not stop within \(grace): \(stuck)")
            for w in waiters { w.resume(throwing: error) }
        }
    }

    /// Triggers a checkpoint now; returns its id (nil when checkpointing is off or one is in flight).
    @discardableResult
    public func triggerCheckpoint() -> Int64? { coordinator.trigger() }

    /// Waits until checkpoint `id` completed.
    public func waitForCheckpoint(_ id: Int64, timeout: Duration = .seconds(30)) -> Bool {
        coordinator.waitForCompletion(of: id, timeoutNanos: UInt64(timeout.milliseconds) * 1_000_000)
    }

    /// Stops the job (graceful shutdown, e.g. on SIGTERM): with `checkpoint`, first takes a final
    /// checkpoint so a restore continues exactly where this run stopped. Windows are not flushed.
    @discardableResult
    public func stop(checkpoint: Bool = true, timeout: Duration = .seconds(60)) -> Int64? {
        var id: Int64? = nil
        if checkpoint {
            // Another checkpoint may be in flight: retry until ours is accepted.
            let deadline = MonotonicClock.nanos() &+ UInt64(timeout.milliseconds) * 1_000_000
            while id == nil && MonotonicClock.nanos() < deadline && !isFinished {
                id = coordinator.trigger()
                if id == nil { usleep(5000) }
            }
            if let id, !waitForCheckpoint(id, timeout: timeout) { return nil }
        }
        cancelAll()
        lock.withLock { while !finished { lock.wait() } }
        return id
    }
}

/// Things that can be cancelled when a job stops.
protocol Cancellable: AnyObject { func cancel() }
extension InputGate: Cancellable {}
