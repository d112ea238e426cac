import StreamKit

/// A change capture that runs on the calling (dedicated) thread until `stop` returns true:
/// ``PostgresCapture``, ``TriggerCapture``, ``PollingCapture``.
public protocol ChangeCapture: AnyObject, Sendable {
    /// Blocks until `stop` returns true (then returns after confirming what Kafka acknowledged)
    /// or an error occurs (then throws; a restart resumes from the last acknowledged position).
    func run(until stop: @escaping @Sendable () -> Bool) throws
    /// The capture's metrics as one JSON object (for status files and logs).
    func metricsJSON() -> String
}

extension PostgresCapture: ChangeCapture {
    public func metricsJSON() -> String { metrics.json() }
}

extension TriggerCapture: ChangeCapture {
    public func metricsJSON() -> String { metrics.json() }
}

extension PollingCapture: ChangeCapture {
    public func metricsJSON() -> String { metrics.json() }
}
