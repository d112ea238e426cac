/// Exponential restart delays of a supervised capture or job: `initial`, doubling per consecutive
/// failure up to `maximum`. A run that lasted `healthyAfter` resets the count.
public struct RestartBackoff: Sendable, Equatable {
    /// Default: 0.5 s.
    public var initial: Duration
    /// Default: 30 s.
    public var maximum: Duration
    /// Default: 60 s.
    public var healthyAfter: Duration

    public init(initial: Duration = .milliseconds(500), maximum: Duration = .seconds(30), healthyAfter: Duration = .seconds(60)) {
        self.initial = initial; self.maximum = maximum; self.healthyAfter = healthyAfter
    }

    /// The wait before restart number `attempt` (1-based) of a run of consecutive failures.
    public func delay(attempt: Int) -> Duration {
        var d = initial
        var n = 1
        while n < attempt, d < maximum { d = d * 2; n += 1 }
        return min(d, maximum)
    }
}
