/// Where a running backfill is: what was read of the history and when it should end.
public struct BackfillProgress: Sendable {
    /// Events read so far.
    public var events: Int64
    /// Share of the input read, 0…1 (bytes of a file, records of a topic); nil when unknown.
    public var fraction: Double?
    /// Seconds since the start.
    public var seconds: Double
    /// The last report of a run: the training set is written (`fraction` 1, ETA 0).
    public var finished = false
    /// Events per second so far.
    public var eventsPerSecond: Double { seconds > 0 ? Double(events) / seconds : 0 }
    /// Estimated seconds left (from the fraction read and the elapsed time); nil when unknown.
    public var etaSeconds: Double? {
        guard let f = fraction, f > 0.001 else { return nil }
        return seconds * (1 - f) / f
    }

    public init(events: Int64, fraction: Double?, seconds: Double) {
        self.events = events; self.fraction = fraction; self.seconds = seconds
    }

    /// One line for a terminal: `backfill: 42.0% (840,000 events, 1,210,000 events/s, ETA 1.4 s)`.
    public var line: String {
        var s = "backfill: "
        if let f = fraction { s += String(Int(f * 1000) / 10) + "." + String(Int(f * 1000) % 10) + "% (" } else { s += "(" }
        s += "\(events) events, \(Int(eventsPerSecond)) events/s"
        if finished { s += ", done" } else if let eta = etaSeconds { s += ", ETA \(Int(eta.rounded())) s" }
        return s + ")"
    }
}
