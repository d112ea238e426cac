public import Logging
import Glibc
import StreamKit

/// The outer loop of every log-based capture, run on the capture's own thread: one session per
/// database connection. A session that fails with a retriable error (the database restarted, the
/// network dropped) is quiesced — the plug-in waits for Kafka, saves the acknowledged position
/// and forgets the connection — and a new session starts from that position after a wait from
/// ``ReconnectBackoff``, up to `reconnectAttempts` consecutive attempts (a session that streamed
/// anything starts the count again). A stop asked through the ``CaptureLifecycle`` during the
/// wait ends the loop; a non-retriable error, or one past the last attempt, is thrown.
///
/// ```swift
/// var loop = CaptureSessionLoop(lifecycle: lifecycle, logger: logger, database: "PostgreSQL",
///                               reconnectAttempts: 60) { metrics.reconnects.add(1, ordering: .relaxed) }
/// try loop.run(until: stop, session: { streamed in try session(until: stop, streamed: &streamed) },
///              quiesce: { try quiesce() })
/// ```
public struct CaptureSessionLoop {
    public let lifecycle: CaptureLifecycle
    public let logger: Logger
    /// The database's name in log lines (`PostgreSQL`, `MariaDB`).
    public let database: String
    public var reconnectAttempts: Int
    public var backoff: ReconnectBackoff
    /// How often a wait checks `stop`.
    public var stopCheck: Duration = .milliseconds(50)
    /// Called before each new session after a lost one (count it in the plug-in's metrics).
    public let reconnecting: () -> Void

    public init(lifecycle: CaptureLifecycle, logger: Logger, database: String, reconnectAttempts: Int,
                backoff: ReconnectBackoff = ReconnectBackoff(), reconnecting: @escaping () -> Void) {
        self.lifecycle = lifecycle; self.logger = logger; self.database = database
        self.reconnectAttempts = reconnectAttempts; self.backoff = backoff; self.reconnecting = reconnecting
    }

    /// Runs sessions until one returns (a graceful stop), `stop` becomes true, or a failure is
    /// final. `session` sets its argument once it read anything from the log.
    public mutating func run(until stop: () -> Bool,
                             session: (_ streamed: inout Bool) throws -> Void,
                             quiesce: () throws -> Void) throws {
        while !stop() {
            var streamed = false
            do {
                try session(&streamed)
                return
            } catch where error.isRetriableCaptureFailure {
                if streamed { backoff.reset() }
                let (attempt, wait) = backoff.next()
                let maximum = reconnectAttempts
                switch lifecycle.transition({ $0.connectionLost(attempt: attempt, maximum: maximum) }) {
                case .fail: throw error
                case .stop: try quiesce(); return
                case .reconnect: break
                }
                logger.warning("lost \(database); reconnecting", metadata: [
                    LogMetadataKey.error: "\(error.captureMessage)", LogMetadataKey.errorCode: "\(error.captureCode)",
                    LogMetadataKey.attempt: "\(attempt) of \(maximum)", LogMetadataKey.wait: "\(wait)",
                ])
                try quiesce()
                let until = ContinuousClock.now + wait
                while ContinuousClock.now < until && !stop() {
                    usleep(UInt32(clamping: Swift.min(stopCheck, until - ContinuousClock.now).microseconds))
                }
                reconnecting()
            }
        }
    }
}

extension Duration {
    /// Whole microseconds (at least 0).
    fileprivate var microseconds: Int64 {
        let (s, a) = components
        return Swift.max(0, s * 1_000_000 + a / 1_000_000_000_000)
    }
}
