public import ArgumentParser  // the conformance below is public: Duration and the protocol are
import StreamKit

/// Every duration option of the CLI parses with one rule (StreamKit's `parseDuration`, also used
/// by window specs such as `hop:5m:1m`): a number, decimals allowed, and a unit, one of `ms`, `s`,
/// `m`, `h`, `d` — `250ms`, `1.5s`, `10s`, `5m`, `1h`. A bare number is an error (a unit is
/// required, except for `0`), so `--watermark-delay 10` can no longer silently mean 10 ms.
extension Duration: @retroactive ExpressibleByArgument {
    public init?(argument: String) {
        guard let d = try? parseDuration(argument) else { return nil }
        self = d
    }

    /// Defaults print as they are typed (`10s`, not `10.0 seconds`).
    public var defaultValueDescription: String { formattedForCommandLine }
}

extension Duration {
    /// The shortest exact command-line form: `500ms`, `2s`, `5m`, `1h`, or `1.5s`.
    var formattedForCommandLine: String {
        let ms = milliseconds
        if ms > 0 && ms % 3_600_000 == 0 { return "\(ms / 3_600_000)h" }
        if ms > 0 && ms % 60_000 == 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }
}

/// The help line every duration option ends with.
let durationHelp = "Durations take a number and a unit: ms, s, m or h, decimals allowed (500ms, 1.5s, 10s, 5m); a bare number other than 0 is rejected."
