import Testing
import StreamKit

/// The text form of restart strategies and the decisions of ``RestartBackoff``, driven by hand.
@Suite struct RestartStrategyTests {
    @Test func parsesEveryStrategyAndPrintsItBack() throws {
        #expect(try RestartStrategy(parsing: "none") == .none)
        #expect(try RestartStrategy(parsing: "fixed-delay:attempts=3,delay=10s") == .fixedDelay(attempts: 3, delay: .seconds(10)))
        #expect(try RestartStrategy(parsing: "exponential-delay:initial=1s,max=1m,multiplier=2,jitter=0.1")
                == .exponentialDelay(initial: .seconds(1), max: .seconds(60), multiplier: 2, jitter: 0.1, attempts: 10, reset: .seconds(600)))
        #expect(try RestartStrategy(parsing: "failure-rate:max-failures=3,interval=5m,delay=10s")
                == .failureRate(maxFailures: 3, interval: .seconds(300), delay: .seconds(10)))
        #expect(try RestartStrategy(parsing: "fixed-delay:attempts=unlimited,delay=500ms") == .fixedDelay(attempts: .max, delay: .milliseconds(500)))
        for s in [RestartStrategy.none, .fixedDelay(attempts: 2, delay: .milliseconds(1500)), .longRunningDefault,
                  .failureRate(maxFailures: 1, interval: .seconds(60), delay: .zero)] {
            #expect(try RestartStrategy(parsing: s.description) == s, "\(s) round-trips")
        }
    }

    @Test func errorsNameTheStrategyAndTheKey() {
        func message(_ text: String) -> String {
            do { _ = try RestartStrategy(parsing: text); return "no error" } catch { return "\(error)" }
        }
        #expect(message("fixed-delay:attempts=3,delay=10").contains("delay"), "a duration needs a unit (the one duration rule)")
        #expect(message("fixed-delay:attempts=-1").contains("attempts"))
        #expect(message("fixed-delay:tries=3").contains("no key 'tries'"))
        #expect(message("exponential-delay:jitter=2").contains("jitter"))
        #expect(message("exponential-delay:initial=1m,max=1s").contains("max"))
        #expect(message("failure-rate:max-failures=0").contains("max-failures"))
        #expect(message("sometimes").contains("unknown restart strategy 'sometimes'"))
        #expect(message("fixed-delay:attempts").contains("key=value"))
    }

    @Test func fixedDelayAllowsItsAttemptsThenStops() {
        var b = RestartBackoff(.fixedDelay(attempts: 2, delay: .seconds(3)))
        var rng = SplitMix64(seed: 1)
        #expect(b.onFailure(atNanos: 1, runNanos: 1, random: &rng) == .seconds(3))
        #expect(b.onFailure(atNanos: 2, runNanos: 1, random: &rng) == .seconds(3))
        #expect(b.onFailure(atNanos: 3, runNanos: 1, random: &rng) == nil)
        var none = RestartBackoff(.none)
        #expect(none.onFailure(atNanos: 1, runNanos: 1, random: &rng) == nil)
    }

    @Test func exponentialDelayGrowsToItsMaxWithinTheJitterAndResetsAfterAHealthyRun() {
        let s = RestartStrategy.exponentialDelay(initial: .seconds(1), max: .seconds(8), multiplier: 2, jitter: 0.1, attempts: 6, reset: .seconds(60))
        var b = RestartBackoff(s)
        var rng = SplitMix64(seed: 7)
        let bases: [Double] = [1, 2, 4, 8, 8, 8]
        for base in bases {
            let d = b.onFailure(atNanos: 0, runNanos: 1_000_000_000, random: &rng)!
            let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
            #expect(seconds >= base * 0.9 - 1e-9 && seconds <= base * 1.1 + 1e-9, "\(seconds) within ±10% of \(base)")
        }
        #expect(b.onFailure(atNanos: 0, runNanos: 1_000_000_000, random: &rng) == nil, "six attempts in a row, then exhausted")
        // A run of at least `reset` starts afresh: the delay is back at `initial`.
        let d = b.onFailure(atNanos: 0, runNanos: 61_000_000_000, random: &rng)!
        #expect(d >= .milliseconds(900) && d <= .milliseconds(1100))
        var noJitter = RestartBackoff(.exponentialDelay(initial: .milliseconds(100), max: .seconds(1), multiplier: 3, jitter: 0, attempts: 9, reset: .seconds(60)))
        let delays = (0..<4).map { _ in noJitter.onFailure(atNanos: 0, runNanos: 0, random: &rng)! }
        #expect(delays == [.milliseconds(100), .milliseconds(300), .milliseconds(900), .seconds(1)])
    }

    @Test func failureRateCountsFailuresWithinTheInterval() {
        var b = RestartBackoff(.failureRate(maxFailures: 2, interval: .seconds(10), delay: .seconds(1)))
        var rng = SplitMix64(seed: 3)
        let s: UInt64 = 1_000_000_000
        #expect(b.onFailure(atNanos: 1 * s, runNanos: s, random: &rng) == .seconds(1))
        #expect(b.onFailure(atNanos: 5 * s, runNanos: s, random: &rng) == .seconds(1))
        // The first failure left the interval: two within it, still allowed.
        #expect(b.onFailure(atNanos: 12 * s, runNanos: s, random: &rng) == .seconds(1))
        // Three within ten seconds (5, 12, 14): exhausted.
        #expect(b.onFailure(atNanos: 14 * s, runNanos: s, random: &rng) == nil)
    }
}
