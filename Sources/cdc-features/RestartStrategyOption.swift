import ArgumentParser
import StreamKit

/// The help of `--restart-strategy` (`pipeline`, `run`).
let restartStrategyHelp = """
    What a failure does: none | fixed-delay:attempts=N,delay=D | exponential-delay:initial=D,max=D,multiplier=X,jitter=F[,attempts=N][,reset=D] | failure-rate:max-failures=N,interval=D,delay=D. \
    A restart rebuilds the job in this process from its newest confirmed checkpoint (from the start without --checkpoint-dir); \
    when the strategy is exhausted the command exits non-zero with the cause. \
    Default: \(RestartStrategy.longRunningDefault) (rides out outages of a few minutes, then fails).
    """

/// Parses `--restart-strategy` with StreamKit's one rule (errors name the strategy and the key).
func parseRestartStrategy(_ text: String) throws -> RestartStrategy {
    do { return try RestartStrategy(parsing: text) } catch let e as StreamKitError {
        throw ValidationError(e.message)
    }
}
