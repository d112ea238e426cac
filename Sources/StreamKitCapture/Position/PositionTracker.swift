/// The ack-gated position of a capture: a position becomes durable only after Kafka acknowledged
/// every event before it.
///
/// Every event sent is tagged 1, 2, 3, ...; ``acknowledgedThrough`` is the highest tag such that
/// every tag up to it was acknowledged (deliveries complete out of order across partitions).
/// Each finished transaction is a ``PendingCommit`` spanning its tags; once all of them are
/// acknowledged, its end position may be confirmed to the database and written to the state file.
/// One thread (the capture's) owns a tracker: it is a value, not shared.
public struct PositionTracker<Position: Comparable & Sendable> {
    /// A finished transaction whose events Kafka has not acknowledged in full yet.
    public struct PendingCommit: Sendable {
        /// Tags of its first and last event sent in this run (`lastTag < firstTag`: none sent).
        public var firstTag: UInt64, lastTag: UInt64
        /// Where the transaction starts (PostgreSQL: its commit LSN, as Begin names it) and where
        /// streaming resumes after it (PostgreSQL: the end LSN of its commit record).
        public var begin: Position, end: Position
        /// Commit time, µs since the Unix epoch (for commit → acknowledged latency).
        public var commitMicros: Int64
        /// Events of it acknowledged before a restart (not sent again in this run).
        public var prefix: Int
        /// The incremental-snapshot progress made by it, durable with it.
        public var incremental: IncrementalSnapshotProgress?

        public init(firstTag: UInt64, lastTag: UInt64, begin: Position, end: Position, commitMicros: Int64, prefix: Int,
                    incremental: IncrementalSnapshotProgress? = nil) {
            self.firstTag = firstTag; self.lastTag = lastTag; self.begin = begin; self.end = end
            self.commitMicros = commitMicros; self.prefix = prefix; self.incremental = incremental
        }
    }

    /// The tag the next event gets.
    public private(set) var nextTag: UInt64 = 1
    /// Every tag up to this one was acknowledged.
    public private(set) var acknowledgedThrough: UInt64 = 0
    private var acknowledged = Set<UInt64>()
    private var pending: [PendingCommit] = []
    private var head = 0

    public init() {}

    /// Tags the next event sent.
    public mutating func nextEventTag() -> UInt64 {
        defer { nextTag += 1 }
        return nextTag
    }

    /// A transaction finished streaming.
    public mutating func finished(_ commit: PendingCommit) { pending.append(commit) }

    /// Records Kafka's delivery reports; returns how many failed (never acknowledged: the durable
    /// position stops before them).
    public mutating func record(_ deliveries: [(tag: UInt64, ok: Bool)]) -> Int {
        var failed = 0
        for d in deliveries {
            guard d.ok else { failed += 1; continue }
            if d.tag == acknowledgedThrough + 1 {
                acknowledgedThrough += 1
                while acknowledged.remove(acknowledgedThrough + 1) != nil { acknowledgedThrough += 1 }
            } else if d.tag > acknowledgedThrough {
                acknowledged.insert(d.tag)
            }
        }
        return failed
    }

    /// Removes the finished transactions Kafka acknowledged in full, oldest first, passing each to `body`.
    public mutating func takeAcknowledged(_ body: (PendingCommit) -> Void) {
        while head < pending.count, pending[head].lastTag <= acknowledgedThrough {
            body(pending[head])
            head += 1
        }
        if head > 1024 { pending.removeFirst(head); head = 0 }
    }

    /// The oldest finished transaction not yet acknowledged in full.
    public var oldestPending: PendingCommit? { head < pending.count ? pending[head] : nil }

    /// Nothing is waiting for Kafka: no unacknowledged event, no pending transaction.
    public var isIdle: Bool { head == pending.count && acknowledgedThrough == nextTag - 1 }

    /// Events acknowledged among those tagged from `firstTag` on.
    public func acknowledgedEvents(from firstTag: UInt64) -> Int {
        acknowledgedThrough >= firstTag ? Int(acknowledgedThrough - firstTag + 1) : 0
    }

    /// After a lost session: events sent but never acknowledged are dropped from the tracking
    /// (the next session sends them again from the durable position).
    public mutating func forgetUnacknowledged() {
        nextTag = acknowledgedThrough + 1
        acknowledged.removeAll()
        pending.removeAll(); head = 0
    }
}
