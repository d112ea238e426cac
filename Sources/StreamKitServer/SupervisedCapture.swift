import Foundation
import Logging
import Synchronization
import StreamKit
import StreamKitKafka
import StreamKitCapture
import StreamKitPostgres
import StreamKitMySQL

/// A registered source's capture (PostgreSQL or MySQL), supervised: the blocking capture loop runs on its
/// own thread; when it fails (after its own reconnect attempts) it is started again from its
/// durable position (state file + replication slot) after a ``RestartBackoff`` wait, counting
/// restarts and keeping the last error (redacted). ``stop()`` asks it to stop gracefully: it
/// flushes Kafka and confirms its position before returning.
final class SupervisedCapture: Sendable {
    enum Phase: String, Sendable {
        case starting = "STARTING", running = "RUNNING", restarting = "RESTARTING", stopping = "STOPPING", stopped = "STOPPED"
    }

    private struct State {
        var capture: (any ChangeCapture)?
        var stopRequested = false
        var waitingToRestart = false
        var finished = false
        var restarts = 0
        var failures = 0
        var lastError: String?
        var task: Task<Void, Never>?
    }

    let id: String
    /// A new capture for each run (sharing ``metrics``).
    let makeCapture: @Sendable () -> any ChangeCapture
    let kafka: KafkaConfiguration
    let backoff: RestartBackoff
    let logger: Logger
    /// Shared by every run, so totals survive restarts.
    let metrics: CaptureMetrics
    let history = RateHistory()
    private let state = Mutex(State())

    convenience init(id: String, configuration: PostgresCaptureConfiguration, kafka: KafkaConfiguration, backoff: RestartBackoff, logger: Logger) {
        var logger = logger
        logger[metadataKey: "source.id"] = "\(id)"
        let metrics = PostgresCaptureMetrics()
        let runLogger = logger
        self.init(id: id, metrics: metrics, kafka: kafka, backoff: backoff, logger: logger) {
            PostgresCapture(configuration: configuration, kafka: kafka, metrics: metrics, logger: runLogger)
        }
    }

    convenience init(id: String, configuration: MySQLCaptureConfiguration, kafka: KafkaConfiguration, backoff: RestartBackoff, logger: Logger) {
        var logger = logger
        logger[metadataKey: "source.id"] = "\(id)"
        let metrics = MySQLCaptureMetrics()
        let runLogger = logger
        self.init(id: id, metrics: metrics, kafka: kafka, backoff: backoff, logger: logger) {
            MySQLCapture(configuration: configuration, kafka: kafka, metrics: metrics, logger: runLogger)
        }
    }

    private init(id: String, metrics: CaptureMetrics, kafka: KafkaConfiguration, backoff: RestartBackoff, logger: Logger,
                 makeCapture: @escaping @Sendable () -> any ChangeCapture) {
        self.id = id; self.metrics = metrics; self.kafka = kafka; self.backoff = backoff; self.logger = logger; self.makeCapture = makeCapture
    }

    /// WAL the PostgreSQL slot retains (nil: unknown or not PostgreSQL).
    var slotLagBytes: Int64? {
        guard let lag = (metrics as? PostgresCaptureMetrics)?.slotLagBytes.load(ordering: .relaxed), lag >= 0 else { return nil }
        return lag
    }

    /// Starts supervising (once).
    func start() {
        let task = Task.detached { [self] in await supervise() }
        state.withLock { $0.task = task }
    }

    /// Asks the capture to stop gracefully and waits until it did.
    func stop() async {
        let task: Task<Void, Never>? = state.withLock { s in
            s.stopRequested = true
            s.capture?.lifecycle.requestStop()
            return s.task
        }
        await task?.value
    }

    var isFinished: Bool { state.withLock { $0.finished } }

    var phase: Phase {
        state.withLock { s in
            if s.finished { return .stopped }
            if s.stopRequested { return .stopping }
            if s.waitingToRestart { return .restarting }
            switch s.capture?.lifecycle.state {
            case .streaming?: return .running
            case .reconnecting?: return .restarting
            case .stopping?: return .stopping
            case .failed?: return .restarting
            default: return s.restarts > 0 ? .restarting : .starting
            }
        }
    }

    var restarts: Int { state.withLock { $0.restarts } }
    var failures: Int { state.withLock { $0.failures } }
    var lastError: String? { state.withLock { $0.lastError } }

    /// Changes and snapshot rows published since the server started this source.
    var changesTotal: Int { metrics.changes.load(ordering: .relaxed) + metrics.snapshotRows.load(ordering: .relaxed) }

    /// Commit → acknowledged by Kafka, median over this source's transactions (seconds); 0 before any.
    var lagSeconds: Double { metrics.latency.count == 0 ? 0 : metrics.latencyMillis(percentile: 50) / 1000 }

    private func supervise() async {
        var attempt = 0
        while true {
            let capture = makeCapture()
            let go: Bool = state.withLock { s in
                guard !s.stopRequested else { return false }
                s.capture = capture
                s.waitingToRestart = false
                return true
            }
            guard go else { break }
            let started = ContinuousClock.now
            do {
                try await Self.runOnThread(capture)
                break   // asked to stop: it confirmed its position
            } catch {
                let message = LogRedaction.connectionString("\(error)")
                let stopping = state.withLock { s in
                    s.failures += 1
                    s.lastError = message
                    return s.stopRequested
                }
                if stopping { break }
                if ContinuousClock.now - started >= backoff.healthyAfter { attempt = 0 }
                attempt += 1
                let wait = backoff.delay(attempt: attempt)
                state.withLock { $0.restarts += 1; $0.waitingToRestart = true }
                logger.warning("capture failed: restarting", metadata: ["error.message": "\(message)", "restart.in": "\(wait)"])
                let deadline = ContinuousClock.now + wait
                while ContinuousClock.now < deadline, !state.withLock({ $0.stopRequested }) {
                    try? await Task.sleep(for: min(.milliseconds(100), deadline - ContinuousClock.now))
                }
            }
        }
        state.withLock { $0.finished = true; $0.waitingToRestart = false }
    }

    /// The blocking loop on a dedicated thread (never the concurrency pool).
    private static func runOnThread<C: ChangeCapture>(_ capture: C) async throws {
        try await CaptureService<C>.runOnThread(capture)
    }
}
