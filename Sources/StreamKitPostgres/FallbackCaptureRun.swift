import StreamKit
import StreamKitCapture
import Logging

/// The run of a fallback capture (trigger or polling), shared by both: start the lifecycle, run
/// `body` until `stop` (or the lifecycle's stop request), report the metrics once more, and end
/// the lifecycle with the outcome — logged with the DSN's password redacted.
enum FallbackCaptureRun {
    static func run(kind: String, dsn: String, lifecycle: CaptureLifecycle, logger: Logger,
                    report: () -> Void, until stop: @escaping @Sendable () -> Bool,
                    _ body: (@escaping @Sendable () -> Bool) throws -> Void) throws {
        let stop: @Sendable () -> Bool = { lifecycle.isStopRequested || stop() }
        guard lifecycle.start() == .run else { return }
        logger.info("\(kind) capture starting", metadata: [LogMetadataKey.dsn: "\(LogRedaction.connectionString(dsn))"])
        do {
            try body(stop)
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
