/// The decisions of one ``RestartStrategy`` over a job's life: fed each failure (with the
/// monotonic time it happened and how long the failed run had lasted), it answers with the delay
/// before the next restart, or nil when the strategy is exhausted. A value without locks or
/// clocks of its own, so tests drive it by hand.
///
/// ```swift
/// var backoff = RestartBackoff(.fixedDelay(attempts: 2, delay: .seconds(1)))
/// backoff.onFailure(atNanos: now, runNanos: 5_000_000_000, random: &rng)   // .seconds(1)
/// ```
public struct RestartBackoff: Sendable {
    public let strategy: RestartStrategy
    /// Restarts granted so far (all of them, for ``RestartStrategy/fixedDelay(attempts:delay:)``;
    /// since the last reset, for ``RestartStrategy/exponentialDelay(initial:max:multiplier:jitter:attempts:reset:)``).
    public private(set) var attempts = 0
    /// The un-jittered delay the next exponential restart waits.
    private var nextDelay: Duration? = nil
    /// Failure times within the failure-rate interval (monotonic nanoseconds).
    private var failures: [UInt64] = []

    public init(_ strategy: RestartStrategy) { self.strategy = strategy }

    /// A run failed at `atNanos` (monotonic) after running `runNanos`: the delay before the
    /// restart, or nil when the strategy allows no more restarts.
    public mutating func onFailure<R: RandomNumberGenerator>(atNanos now: UInt64, runNanos: UInt64, random: inout R) -> Duration? {
        switch strategy {
        case .none:
            return nil
        case let .fixedDelay(maxAttempts, delay):
            guard attempts < maxAttempts else { return nil }
            attempts += 1
            return delay
        case let .exponentialDelay(initial, maxDelay, multiplier, jitter, maxAttempts, reset):
            if runNanos >= Self.nanos(reset) { attempts = 0; nextDelay = nil }
            guard attempts < maxAttempts else { return nil }
            attempts += 1
            let base = nextDelay ?? initial
            let grown = Double(Self.nanos(base)) * multiplier
            nextDelay = grown >= Double(Self.nanos(maxDelay)) ? maxDelay : .nanoseconds(Int64(grown))
            guard jitter > 0 else { return base }
            // Uniform in [base·(1−jitter), base·(1+jitter)], never above max·(1+jitter).
            let factor = 1 + jitter * (Double(random.next() >> 11) / Double(1 << 53) * 2 - 1)
            return .nanoseconds(Int64((Double(Self.nanos(base)) * factor).rounded()))
        case let .failureRate(maxFailures, interval, delay):
            let window = Self.nanos(interval)
            failures.append(now)
            failures.removeAll { now &- $0 > window }
            guard failures.count <= maxFailures else { return nil }
            attempts += 1
            return delay
        }
    }

    static func nanos(_ d: Duration) -> UInt64 {
        let (s, a) = d.components
        return UInt64(clamping: s) &* 1_000_000_000 &+ UInt64(clamping: a / 1_000_000_000)
    }
}
