/// Where the incremental snapshots stand (DBLog-style chunks between watermarks).
public struct IncrementalSnapshotProgress: Codable, Equatable, Sendable {
    /// Tables (`schema.table`) waiting for a snapshot.
    public var queue: [String] = []
    /// The table being snapshotted.
    public var current: String? = nil
    /// Text values of the primary key of the last row of the last published chunk (nil: from the start).
    public var lastKey: [String?]? = nil
    public var chunks = 0

    public init() {}

    public var isIdle: Bool { current == nil && queue.isEmpty }
    /// Tables waiting for or in an incremental snapshot.
    public var pending: Int { queue.count + (current == nil ? 0 : 1) }

    /// Queues `table` unless it is queued or in progress; returns whether it was added.
    @discardableResult
    public mutating func enqueue(_ table: String) -> Bool {
        guard current != table && !queue.contains(table) else { return false }
        queue.append(table)
        return true
    }

    /// Starts the next queued table when none is in progress; returns the table in progress.
    public mutating func startNext() -> String? {
        if current == nil, !queue.isEmpty {
            current = queue.removeFirst()
            lastKey = nil
        }
        return current
    }

    /// The table in progress is done (or skipped).
    public mutating func finishCurrent() { current = nil; lastKey = nil }
}
