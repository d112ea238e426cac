/// How a failed job restarts (Flink's restart strategies). A restart builds the job again in the
/// same process and restores it from its latest confirmed checkpoint (see ``RestartingJob``).
///
/// The text form (the CLI's `--restart-strategy`, a REST request) is a name and `key=value`
/// pairs; durations use the one duration rule (``parseDuration(_:)``: `500ms`, `10s`, `5m`, `1h`):
///
///     none
///     fixed-delay:attempts=3,delay=10s
///     exponential-delay:initial=1s,max=1m,multiplier=2,jitter=0.1,attempts=10,reset=10m
///     failure-rate:max-failures=3,interval=5m,delay=10s
///
/// ```swift
/// var options = Job.RunOptions(parallelism: 2)
/// options.restartStrategy = try RestartStrategy(parsing: "fixed-delay:attempts=3,delay=10s")
/// ```
public enum RestartStrategy: Sendable, Hashable, CustomStringConvertible {
    /// A failure ends the job.
    case none
    /// Restart after `delay`, at most `attempts` times in the job's life.
    case fixedDelay(attempts: Int, delay: Duration)
    /// Restart after `initial`, then `multiplier` times longer each time up to `max`, each delay
    /// moved by up to ±`jitter` (a fraction) at random. After `attempts` restarts in a row the
    /// job fails; a run that lasted at least `reset` without failing starts the count and the
    /// delay afresh (Flink's `attempts-before-reset-backoff` and `reset-backoff-threshold`).
    case exponentialDelay(initial: Duration, max: Duration, multiplier: Double, jitter: Double, attempts: Int, reset: Duration)
    /// Restart after `delay` unless more than `maxFailures` failures fall within `interval`.
    case failureRate(maxFailures: Int, interval: Duration, delay: Duration)

    /// The default of `cdc-features pipeline` and `run`, for a long-running job: a transient
    /// outage (a broker or Redis restart) is ridden out with growing delays (1 s, 2 s, 4 s … 1 min),
    /// while a job failing 10 times in a row (about 5 minutes of failing) exits with the cause.
    public static let longRunningDefault = RestartStrategy.exponentialDelay(
        initial: .seconds(1), max: .seconds(60), multiplier: 2, jitter: 0.1, attempts: 10, reset: .seconds(600))

    /// The text form, as ``init(parsing:)`` reads it.
    public var description: String {
        switch self {
        case .none: return "none"
        case let .fixedDelay(attempts, delay): return "fixed-delay:attempts=\(attempts),delay=\(Self.format(delay))"
        case let .exponentialDelay(initial, max, multiplier, jitter, attempts, reset):
            return "exponential-delay:initial=\(Self.format(initial)),max=\(Self.format(max)),multiplier=\(Self.format(multiplier)),jitter=\(Self.format(jitter)),attempts=\(attempts),reset=\(Self.format(reset))"
        case let .failureRate(maxFailures, interval, delay):
            return "failure-rate:max-failures=\(maxFailures),interval=\(Self.format(interval)),delay=\(Self.format(delay))"
        }
    }

    /// Parses the text form. Missing keys take Flink's defaults (fixed-delay: attempts=3,
    /// delay=10s; exponential-delay: those of ``longRunningDefault``; failure-rate:
    /// max-failures=3, interval=5m, delay=10s). Errors name the strategy and the key.
    public init(parsing text: String) throws {
        let name: Substring, rest: Substring
        if let colon = text.firstIndex(of: ":") {
            name = text[..<colon]; rest = text[text.index(after: colon)...]
        } else {
            name = text[...]; rest = ""
        }
        var pairs: [String: String] = [:]
        for part in rest.split(separator: ",", omittingEmptySubsequences: true) {
            guard let eq = part.firstIndex(of: "="), eq != part.startIndex else {
                throw StreamKitError(.configuration, "restart strategy '\(text)': '\(part)' is not key=value")
            }
            let key = String(part[..<eq]).trimmingSpaces, value = String(part[part.index(after: eq)...]).trimmingSpaces
            if pairs[key] != nil { throw StreamKitError(.configuration, "restart strategy '\(name)': '\(key)' is given twice") }
            pairs[key] = value
        }
        var fields = Fields(strategy: String(name), pairs: pairs)
        switch name {
        case "none":
            self = .none
        case "fixed-delay":
            self = .fixedDelay(attempts: try fields.count("attempts", default: 3, minimum: 0),
                               delay: try fields.duration("delay", default: .seconds(10)))
        case "exponential-delay":
            guard case let .exponentialDelay(i, m, mul, j, a, r) = Self.longRunningDefault else { preconditionFailure() }
            let initial = try fields.duration("initial", default: i)
            let max = try fields.duration("max", default: m)
            let multiplier = try fields.number("multiplier", default: mul)
            let jitter = try fields.number("jitter", default: j)
            let attempts = try fields.count("attempts", default: a, minimum: 0)
            let reset = try fields.duration("reset", default: r)
            guard multiplier >= 1 else { throw fields.error("multiplier", "must be at least 1") }
            guard jitter >= 0 && jitter <= 1 else { throw fields.error("jitter", "must be between 0 and 1") }
            guard max >= initial else { throw fields.error("max", "must not be shorter than initial (\(Self.format(initial)))") }
            guard initial > .zero else { throw fields.error("initial", "must be longer than 0") }
            self = .exponentialDelay(initial: initial, max: max, multiplier: multiplier, jitter: jitter, attempts: attempts, reset: reset)
        case "failure-rate":
            let maxFailures = try fields.count("max-failures", default: 3, minimum: 1)
            let interval = try fields.duration("interval", default: .seconds(300))
            guard interval > .zero else { throw fields.error("interval", "must be longer than 0") }
            self = .failureRate(maxFailures: maxFailures, interval: interval, delay: try fields.duration("delay", default: .seconds(10)))
        default:
            throw StreamKitError(.configuration, "unknown restart strategy '\(name)': use none, fixed-delay:attempts=3,delay=10s, exponential-delay:initial=1s,max=1m,multiplier=2,jitter=0.1, or failure-rate:max-failures=3,interval=5m,delay=10s")
        }
        if let unknown = fields.unused.sorted().first {
            throw StreamKitError(.configuration, "restart strategy '\(name)' has no key '\(unknown)'" + (fields.known.isEmpty ? "" : " (it has: \(fields.known.joined(separator: ", ")))"))
        }
    }

    /// The key=value pairs of one strategy, read typed; errors name the strategy and the key.
    private struct Fields {
        let strategy: String
        let pairs: [String: String]
        var known: [String] = []
        var unused: Set<String> { Set(pairs.keys).subtracting(known) }
        init(strategy: String, pairs: [String: String]) { self.strategy = strategy; self.pairs = pairs }

        func error(_ key: String, _ text: String) -> StreamKitError {
            StreamKitError(.configuration, "restart strategy \(strategy): \(key) \(text)")
        }
        mutating func duration(_ key: String, default value: Duration) throws -> Duration {
            known.append(key)
            guard let text = pairs[key] else { return value }
            do { return try parseDuration(text) } catch {
                throw self.error(key, "'\(text)' is not a duration (e.g. 500ms, 10s, 5m, 1h)")
            }
        }
        mutating func count(_ key: String, default value: Int, minimum: Int) throws -> Int {
            known.append(key)
            guard let text = pairs[key] else { return value }
            if text == "unlimited" { return Int.max }
            guard let n = Int(text), n >= minimum else {
                throw self.error(key, "'\(text)' is not a whole number of at least \(minimum) (or 'unlimited')")
            }
            return n
        }
        mutating func number(_ key: String, default value: Double) throws -> Double {
            known.append(key)
            guard let text = pairs[key] else { return value }
            guard let n = Double(text), n.isFinite else { throw self.error(key, "'\(text)' is not a number") }
            return n
        }
    }

    static func format(_ d: Duration) -> String {
        let ms = d.milliseconds
        if ms > 0 && ms % 3_600_000 == 0 { return "\(ms / 3_600_000)h" }
        if ms > 0 && ms % 60_000 == 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }
    static func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x)
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
