import Synchronization

/// The lifecycle of a running capture, one explicit ``StateMachine`` behind one lock (as
/// swift-kafka-client's consumer): the capture thread reports its progress (starting, streaming,
/// reconnecting, stopped, failed); any thread may ask it to stop. Side effects (logging,
/// flushing) happen in the capture after the lock is released.
public final class CaptureLifecycle: Sendable {
    /// Where a capture is.
    public enum State: Sendable, Equatable, CustomStringConvertible {
        case initial
        /// Connecting, setting up, snapshotting.
        case starting
        case streaming
        /// Lost the database; `attempt` of the allowed reconnects is next.
        case reconnecting(attempt: Int)
        /// Asked to stop: flushing Kafka and confirming the position.
        case stopping
        case stopped
        /// Gave up; `message` says why.
        case failed(message: String)

        public var description: String {
            switch self {
            case .initial: "initial"
            case .starting: "starting"
            case .streaming: "streaming"
            case let .reconnecting(attempt): "reconnecting (attempt \(attempt))"
            case .stopping: "stopping"
            case .stopped: "stopped"
            case let .failed(message): "failed: \(message)"
            }
        }
    }

    /// The transitions; every method returns what the caller must do, nothing here has effects.
    public struct StateMachine: Sendable {
        public private(set) var state: State = .initial
        /// A stop was asked for (it may arrive in any state, even before the capture starts).
        public private(set) var stopRequested = false

        public init() {}

        public enum StartAction: Sendable, Equatable {
            /// Run the capture.
            case run
            /// A stop was asked for before the start: return at once.
            case stopAtOnce
        }

        /// A run starts: the first one, or again after the last one stopped or failed (a stop
        /// asked of the last run does not carry over; one asked before the first run does).
        public mutating func start() -> StartAction {
            switch state {
            case .initial:
                if stopRequested { state = .stopped; return .stopAtOnce }
            case .stopped, .failed:
                stopRequested = false
            case .starting, .streaming, .reconnecting, .stopping:
                preconditionFailure("a capture runs on one thread at a time (state \(state))")
            }
            state = .starting
            return .run
        }

        /// The change stream is open.
        public mutating func streaming() {
            if case .stopping = state { return }
            state = .streaming
        }

        public enum ConnectionLostAction: Sendable, Equatable {
            /// Wait, then reconnect.
            case reconnect
            /// Stopping anyway: do not reconnect.
            case stop
            /// Out of attempts: fail.
            case fail
        }

        public mutating func connectionLost(attempt: Int, maximum: Int) -> ConnectionLostAction {
            if stopRequested { return .stop }
            guard attempt <= maximum else { return .fail }
            state = .reconnecting(attempt: attempt)
            return .reconnect
        }

        /// Returns whether this request changed anything (false when already stopping or done).
        public mutating func requestStop() -> Bool {
            guard !stopRequested else { return false }
            stopRequested = true
            switch state {
            case .starting, .streaming, .reconnecting: state = .stopping
            case .initial, .stopping, .stopped, .failed: break
            }
            return true
        }

        public mutating func finished(error: (any Error)?) {
            if let error { state = .failed(message: "\(error)") } else { state = .stopped }
        }
    }

    private let machine = Mutex(StateMachine())
    /// Mirrors `stopRequested` for the capture loop, which checks it per message (a relaxed load
    /// instead of a lock per change).
    private let stopFlag = Atomic<Bool>(false)

    public init() {}

    public var state: State { machine.withLock { $0.state } }

    /// Whether a stop was asked for.
    public var isStopRequested: Bool { stopFlag.load(ordering: .relaxed) }

    /// Asks the capture to stop gracefully: it stops streaming, waits for Kafka, confirms its
    /// position and returns. Safe from any thread, any number of times.
    public func requestStop() {
        if machine.withLock({ $0.requestStop() }) { stopFlag.store(true, ordering: .relaxed) }
    }

    /// Starts a run (see ``StateMachine/start()``).
    public func start() -> StateMachine.StartAction {
        machine.withLock { m in
            let action = m.start()
            stopFlag.store(m.stopRequested, ordering: .relaxed)
            return action
        }
    }

    /// Applies a transition under the lock.
    public func transition<R>(_ body: (inout StateMachine) -> R) -> R {
        machine.withLock { body(&$0) }
    }
}
