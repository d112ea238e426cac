internal import Synchronization

/// How far the readers of a bounded input got: units (bytes of a file, records of a topic) read
/// so far out of a known total, shared by the reader threads and read by a progress reporter.
public final class ReadProgress: Sendable {
    let done = Atomic<Int64>(0)
    /// Units to read in all (0: unknown).
    public let total: Int64
    /// `"bytes"` or `"records"`.
    public let unit: String
    public init(total: Int64, unit: String) { self.total = total; self.unit = unit }
    /// Units read so far.
    public var completed: Int64 { done.load(ordering: .relaxed) }
    /// Adds `n` units read.
    public func add(_ n: Int64) { done.add(n, ordering: .relaxed) }
}
