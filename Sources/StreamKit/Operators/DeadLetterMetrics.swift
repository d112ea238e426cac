import CoreMetrics
import Synchronization

/// Dead letters counted by reason code, in process and in swift-metrics
/// (`streamkit_dead_letters_total{reason}`, plus `output` when one is named). Only the bad-record
/// path touches it.
public final class DeadLetterMetrics: Sendable {
    private let counts = Mutex<[String: UInt64]>([:])
    /// The `output` label (e.g. the dead-letter topic); empty: no such label.
    public let output: String

    public init(output: String = "") { self.output = output }

    /// Counts one dead letter of class `code`.
    public func record(_ code: StreamKitError.Code) {
        counts.withLock { $0[code.rawValue, default: 0] += 1 }
        let dimensions = output.isEmpty ? [("reason", code.rawValue)] : [("reason", code.rawValue), ("output", output)]
        CoreMetrics.Counter(label: "streamkit_dead_letters_total", dimensions: dimensions).increment()
    }

    /// Dead letters of class `code` so far.
    public func count(_ code: StreamKitError.Code) -> UInt64 { counts.withLock { $0[code.rawValue] ?? 0 } }

    /// All counts by reason code.
    public var byReason: [String: UInt64] { counts.withLock { $0 } }

    /// All dead letters.
    public var total: UInt64 { counts.withLock { $0.values.reduce(0, +) } }
}
