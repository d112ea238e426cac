/// The periodic duties of a streaming capture session, checked after every read from the log:
/// confirm the acknowledged position to the database (and save it), send a heartbeat, measure
/// how much log the database retains for the capture. The clock is the caller's (monotonic
/// nanoseconds), so the schedule is a plain value and testable.
public struct CaptureSchedule: Sendable {
    public struct Duties: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// Collect Kafka acknowledgements, confirm and save the position, report metrics.
        public static let confirm = Duties(rawValue: 1)
        /// Publish a heartbeat record (and run the heartbeat action query).
        public static let heartbeat = Duties(rawValue: 2)
        /// Measure the log the database retains (PostgreSQL: slot lag; MySQL: binlog behind).
        public static let measureLag = Duties(rawValue: 4)
    }

    let confirmNanos: UInt64
    let heartbeatNanos: UInt64?
    let lagNanos: UInt64
    var lastConfirm: UInt64
    var lastHeartbeat: UInt64
    var lastLag: UInt64?

    /// A session starting at `now`: the first confirm and heartbeat are one interval away; the
    /// log is measured at once.
    public init(confirm: Duration, heartbeat: Duration?, measureLag: Duration, now: UInt64) {
        confirmNanos = Self.nanos(confirm)
        heartbeatNanos = heartbeat.map { Swift.max(1_000_000, Self.nanos($0)) }
        lagNanos = Self.nanos(measureLag)
        lastConfirm = now; lastHeartbeat = now; lastLag = nil
    }

    /// The duties due at `now` (each is then scheduled one interval later).
    public mutating func due(now: UInt64) -> Duties {
        var duties: Duties = []
        if now &- lastConfirm >= confirmNanos { lastConfirm = now; duties.insert(.confirm) }
        if let heartbeatNanos, now &- lastHeartbeat >= heartbeatNanos { lastHeartbeat = now; duties.insert(.heartbeat) }
        if lastLag.map({ now &- $0 >= lagNanos }) ?? true { lastLag = now; duties.insert(.measureLag) }
        return duties
    }

    static func nanos(_ d: Duration) -> UInt64 {
        let (s, a) = d.components
        return UInt64(Swift.max(0, s)) &* 1_000_000_000 &+ UInt64(Swift.max(0, a / 1_000_000_000))
    }
}
