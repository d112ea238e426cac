import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization
import StreamKit

/// Runs a ``ChangeCapture`` as a `Service`: the capture's blocking loop gets its own thread (never
/// the Swift concurrency pool); graceful shutdown (SIGTERM/SIGINT in a `ServiceGroup`) or task
/// cancellation asks it to stop, and `run()` returns once it stopped streaming, flushed Kafka and
/// confirmed its position. Every second (and at the end) the capture's metrics JSON goes to
/// `statusPath` when one is given.
///
/// ```swift
/// let capture = PostgresCapture(configuration: c, kafka: kafka, logger: logger)
/// let group = ServiceGroup(configuration: .init(services: [CaptureService(capture, logger: logger)],
///                                               gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
/// try await group.run()
/// ```
public struct CaptureService<Capture: ChangeCapture>: Service {
    public let capture: Capture
    public let statusPath: String?
    let logger: Logger

    public init(_ capture: Capture, statusPath: String? = nil, logger: Logger) {
        self.capture = capture; self.statusPath = statusPath; self.logger = logger
    }

    public func run() async throws {
        let capture = self.capture
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await Self.runOnThread(capture) }
                    if let statusPath {
                        group.addTask {
                            while !Task.isCancelled {
                                try? capture.metricsJSON().write(toFile: statusPath, atomically: true, encoding: .utf8)
                                try? await Task.sleep(for: .seconds(1))
                            }
                        }
                    }
                    defer { if let statusPath { try? capture.metricsJSON().write(toFile: statusPath, atomically: true, encoding: .utf8) } }
                    try await group.next()   // the capture returned or threw
                    group.cancelAll()
                }
            } onCancel: {
                capture.lifecycle.requestStop()
            }
        } onGracefulShutdown: {
            capture.lifecycle.requestStop()
        }
        logger.info("capture stopped", metadata: [LogMetadataKey.captureState: "\(capture.lifecycle.state)"])
    }

    /// The blocking loop on a dedicated thread (never the concurrency pool); resumes when it returns.
    public static func runOnThread(_ capture: Capture) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let thread = Thread {
                ThreadName.setCurrent("capture")
                DataPathScheduling.applyToCurrentThread()
                do {
                    try capture.run(until: { false })
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.start()
        }
    }
}
