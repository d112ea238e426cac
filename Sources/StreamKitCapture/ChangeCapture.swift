import StreamKit

/// A change capture that runs on the calling (dedicated) thread until it is asked to stop:
/// PostgreSQL's log-based, trigger and polling captures. ``CaptureService`` runs one as a
/// swift-service-lifecycle `Service`.
public protocol ChangeCapture: AnyObject, Sendable {
    /// Blocks until `stop` returns true or ``lifecycle`` is asked to stop (then returns after
    /// confirming what Kafka acknowledged) or an error occurs (then throws; a restart resumes from
    /// the last acknowledged position).
    func run(until stop: @escaping @Sendable () -> Bool) throws
    /// The capture's lifecycle state and stop switch.
    var lifecycle: CaptureLifecycle { get }
    /// The capture's metrics as one JSON object (for status files and logs).
    func metricsJSON() -> String
}
