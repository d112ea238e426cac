extension RunningJob {
    /// The lifecycle of a running job, without locks or side effects (the shape of
    /// swift-kafka-client's `KafkaConsumer.StateMachine`): ``RunningJob`` keeps one behind its lock,
    /// feeds it every event, and performs the returned action after releasing the lock.
    ///
    /// ```
    /// running ──stop(checkpoint: true)──▶ finalCheckpoint ──checkpoint ended──▶ stopping ──last task ended──▶ finished
    ///    │  └──stop(checkpoint: false) / cancel / task failed──────────────────────▲                             ▲
    ///    └──last task ended (bounded sources done)────────────────────────────────────────────────────────────────┘
    /// ```
    struct StateMachine {
        typealias Waiter = CheckedContinuation<JobResult, any Error>

        /// How a run ended.
        struct Outcome {
            /// The first failure (a task's error, or "cancelled"); nil: success.
            var error: (any Error)?
            var endNanos: UInt64
            /// Ended by a graceful stop rather than by its sources finishing.
            var stopped: Bool
            /// The final checkpoint of a graceful stop.
            var finalCheckpoint: Int64?
        }

        /// Tasks still running and the callers waiting for the end.
        struct Live {
            var tasks: Set<String>
            var waiters: [Waiter] = []
        }

        /// Why the tasks were told to stop.
        struct Stop {
            /// The first failure (task error or cancel); nil for a graceful stop.
            var error: (any Error)?
            var graceful: Bool
            var finalCheckpoint: Int64?
        }

        enum State {
            /// Every task runs; nothing asked the job to stop.
            case running(Live)
            /// A graceful stop is taking its final checkpoint; the tasks still run.
            case finalCheckpoint(Live)
            /// The tasks were told to stop and are ending.
            case stopping(Live, Stop)
            /// Every task ended.
            case finished(Outcome)
        }

        private(set) var state: State

        init(tasks: [String]) {
            state = .running(Live(tasks: Set(tasks)))
        }

        var isFinished: Bool { if case .finished = state { return true } else { return false } }
        var isTakingFinalCheckpoint: Bool { if case .finalCheckpoint = state { return true } else { return false } }
        var outcome: Outcome? { if case let .finished(o) = state { return o } else { return nil } }

        // MARK: actions

        enum StopTasksAction { case none, stopTasks }
        enum TaskEndedAction { case none, finish(waiters: [Waiter], Outcome) }
        enum AwaitAction { case none, resume(Outcome) }
        enum GracefulStopAction { case takeFinalCheckpoint, stopTasks, waitUntilFinished }
        enum GraceExpiredAction { case none, failWaiters([Waiter], stuckTasks: [String]) }
        enum PeriodicCheckpointAction { case trigger, skip, exit }

        // MARK: events

        /// A task threw: the first error fails the run and stops the others.
        mutating func taskFailed(_ error: any Error) -> StopTasksAction {
            switch state {
            case let .running(live), let .finalCheckpoint(live):
                state = .stopping(live, Stop(error: error, graceful: false))
                return .stopTasks
            case .stopping(let live, var stop):
                if stop.error == nil { stop.error = error }
                state = .stopping(live, stop)
                return .none
            case .finished:
                return .none
            }
        }

        /// A task's thread ended; the last one finishes the run.
        mutating func taskEnded(_ name: String, now: UInt64) -> TaskEndedAction {
            switch state {
            case var .running(live):
                live.tasks.remove(name)
                guard live.tasks.isEmpty else { state = .running(live); return .none }
                // Every source finished on its own: a success.
                let o = Outcome(error: nil, endNanos: now, stopped: false, finalCheckpoint: nil)
                state = .finished(o)
                return .finish(waiters: live.waiters, o)
            case var .finalCheckpoint(live):
                live.tasks.remove(name)
                guard live.tasks.isEmpty else { state = .finalCheckpoint(live); return .none }
                // The sources finished while the stop was checkpointing: the run is complete anyway.
                let o = Outcome(error: nil, endNanos: now, stopped: false, finalCheckpoint: nil)
                state = .finished(o)
                return .finish(waiters: live.waiters, o)
            case .stopping(var live, let stop):
                live.tasks.remove(name)
                guard live.tasks.isEmpty else { state = .stopping(live, stop); return .none }
                let o = Outcome(error: stop.error, endNanos: now, stopped: stop.graceful, finalCheckpoint: stop.finalCheckpoint)
                state = .finished(o)
                return .finish(waiters: live.waiters, o)
            case .finished:
                preconditionFailure("task \(name) ended after the job finished")
            }
        }

        /// A caller waits for the end: queued, or resumed at once when the run already finished.
        mutating func awaitResult(_ waiter: Waiter) -> AwaitAction {
            switch state {
            case var .running(live):
                live.waiters.append(waiter); state = .running(live); return .none
            case var .finalCheckpoint(live):
                live.waiters.append(waiter); state = .finalCheckpoint(live); return .none
            case .stopping(var live, let stop):
                live.waiters.append(waiter); state = .stopping(live, stop); return .none
            case let .finished(o):
                return .resume(o)
            }
        }

        /// Cancel: the run fails with `error` (unless it already failed) and the tasks stop.
        mutating func cancel(_ error: any Error) -> StopTasksAction {
            switch state {
            case let .running(live), let .finalCheckpoint(live):
                state = .stopping(live, Stop(error: error, graceful: false))
                return .stopTasks
            case .stopping(let live, var stop):
                if stop.error == nil { stop.error = error }
                state = .stopping(live, stop)
                return .stopTasks
            case .finished:
                return .none
            }
        }

        /// A graceful stop: with `checkpoint`, the final checkpoint first; a second request waits.
        mutating func stopRequested(checkpoint: Bool) -> GracefulStopAction {
            switch state {
            case let .running(live):
                if checkpoint { state = .finalCheckpoint(live); return .takeFinalCheckpoint }
                state = .stopping(live, Stop(error: nil, graceful: true))
                return .stopTasks
            case .finalCheckpoint, .stopping, .finished:
                return .waitUntilFinished
            }
        }

        /// The final checkpoint completed (`id`) or could not be taken (nil): now the tasks stop.
        mutating func finalCheckpointEnded(_ id: Int64?) -> StopTasksAction {
            switch state {
            case let .finalCheckpoint(live):
                state = .stopping(live, Stop(error: nil, graceful: true, finalCheckpoint: id))
                return .stopTasks
            case .running, .stopping, .finished:
                // Cancelled, failed or finished meanwhile: that path already stopped the tasks.
                return .none
            }
        }

        /// The grace period of a cancel expired: waiters get an error naming the tasks still running.
        mutating func cancelGraceExpired() -> GraceExpiredAction {
            switch state {
            case .stopping(var live, let stop):
                guard !live.waiters.isEmpty else { return .none }
                let waiters = live.waiters
                live.waiters = []
                state = .stopping(live, stop)
                return .failWaiters(waiters, stuckTasks: live.tasks.sorted())
            case .running, .finalCheckpoint, .finished:
                return .none
            }
        }

        /// The periodic checkpointer woke up: checkpoints only while running, none during a final one.
        func nextPeriodicCheckpoint() -> PeriodicCheckpointAction {
            switch state {
            case .running: return .trigger
            case .finalCheckpoint: return .skip
            case .stopping, .finished: return .exit
            }
        }
    }
}
