import StreamKitCapture

/// The capture's own durable position.
struct PostgresCaptureState: Codable, Equatable {
    var slot: String
    /// End LSN of the last transaction whose events Kafka acknowledged (0: none yet).
    var lsn: UInt64 = 0
    var snapshotDone = false
    /// The first transaction after `lsn` that Kafka acknowledged only in part: its commit LSN and
    /// how many of its events (in order) were acknowledged. A re-delivery of it publishes only the rest.
    var partialLSN: UInt64 = 0
    var partialEvents = 0
    /// Incremental snapshots: tables waiting, the one in progress and the last key published.
    var incremental = IncrementalSnapshotProgress()
    /// The commit LSN of the transaction before the first one not fully acknowledged: the first
    /// element of `source.sequence` of the events published after a restart, so that the sequence
    /// of an event published again equals the first time's (consumers drop repeats by it).
    var sequenceBase: UInt64?

    init(slot: String, lsn: UInt64 = 0, snapshotDone: Bool = false) {
        self.slot = slot; self.lsn = lsn; self.snapshotDone = snapshotDone
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        slot = try c.decode(String.self, forKey: .slot)
        lsn = try c.decodeIfPresent(UInt64.self, forKey: .lsn) ?? 0
        snapshotDone = try c.decodeIfPresent(Bool.self, forKey: .snapshotDone) ?? false
        partialLSN = try c.decodeIfPresent(UInt64.self, forKey: .partialLSN) ?? 0
        partialEvents = try c.decodeIfPresent(Int.self, forKey: .partialEvents) ?? 0
        incremental = try c.decodeIfPresent(IncrementalSnapshotProgress.self, forKey: .incremental) ?? IncrementalSnapshotProgress()
        sequenceBase = try c.decodeIfPresent(UInt64.self, forKey: .sequenceBase)
    }

    static func load(_ path: String) -> PostgresCaptureState? {
        CaptureStateFile.load(PostgresCaptureState.self, from: path)
    }

    func save(_ path: String) throws {
        try CaptureStateFile.save(self, to: path)
    }

    /// The durable position: after the transaction ending at `lsn`, or inside the partly
    /// published one.
    var position: PostgresPosition {
        partialLSN >= lsn && partialEvents > 0 ? PostgresPosition(lsn: partialLSN, event: partialEvents) : PostgresPosition(lsn: lsn)
    }

}
