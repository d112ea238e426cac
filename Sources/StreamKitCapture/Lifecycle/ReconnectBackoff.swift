/// The wait before a reconnect: doubles from `initial` up to `maximum`, back to `initial` once a
/// session streamed again.
public struct ReconnectBackoff: Sendable {
    public let initial: Duration
    public let maximum: Duration
    public private(set) var current: Duration
    /// Consecutive failed attempts.
    public private(set) var failures = 0

    public init(initial: Duration = .milliseconds(500), maximum: Duration = .seconds(10)) {
        self.initial = initial; self.maximum = maximum; current = initial
    }

    /// A session made progress: the next loss starts counting again.
    public mutating func reset() { failures = 0; current = initial }

    /// Records a failure; returns the attempt number and how long to wait before it.
    public mutating func next() -> (attempt: Int, wait: Duration) {
        failures += 1
        defer { current = min(current * 2, maximum) }
        return (failures, current)
    }
}
