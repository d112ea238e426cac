import StreamKit
import StreamKitCapture
import Logging

/// The run of a fallback capture (trigger or polling), shared by both: start the lifecycle, run
/// `body` until `stop` (or the lifecycle's stop request), report the metrics once more, and end
/// the lifecycle with the outcome — logged with the DSN's password redacted. A lost connection
/// (a retriable failure) runs `body` again after a wait (the core's ``CaptureSessionLoop``): it
/// resumes from the change log or the saved position, as a restart would (at least once).
enum FallbackCaptureRun {
    static func run(kind: String, dsn: String, lifecycle: CaptureLifecycle, logger: Logger, metrics: FallbackCaptureMetrics,
                    reconnectAttempts: Int, report: () -> Void, until stop: @escaping @Sendable () -> Bool,
                    _ body: (@escaping @Sendable () -> Bool) throws -> Void) throws {
        let stop: @Sendable () -> Bool = { lifecycle.isStopRequested || stop() }
        guard lifecycle.start() == .run else { return }
        logger.info("\(kind) capture starting", metadata: [LogMetadataKey.dsn: "\(LogRedaction.connectionString(dsn))"])
        do {
            var loop = CaptureSessionLoop(lifecycle: lifecycle, logger: logger, database: "PostgreSQL",
                                          reconnectAttempts: reconnectAttempts) { metrics.reconnects.add(1, ordering: .relaxed) }
            try loop.run(until: stop, session: { streamed in
                // A session that published anything or ran a minute was healthy: the attempts count again.
                let changes = metrics.changes.load(ordering: .relaxed), started = ContinuousClock.now
                defer { streamed = metrics.changes.load(ordering: .relaxed) > changes || ContinuousClock.now - started > .seconds(60) }
                try body(stop)
            }, quiesce: {})
            report()
            lifecycle.transition { $0.finished(error: nil) }
            logger.info("\(kind) capture stopped")
        } catch {
            report()
            lifecycle.transition { $0.finished(error: error) }
            logger.error("\(kind) capture failed", metadata: [LogMetadataKey.errorCode: "\(error.captureCode)", LogMetadataKey.error: "\(error.captureMessage)"])
            throw error
        }
    }
}
