import StreamKitCapture

/// The capture's own durable position (the state file).
struct MySQLCaptureState: Codable, Equatable {
    /// The GTID state after the last transaction Kafka acknowledged in full (`0-1-42,...`); a
    /// restart connects with it. Empty with `file`: not streamed yet.
    var gtids = ""
    /// The binlog file and position after that transaction (for `source`, status and ordering).
    var file = ""
    var position: UInt64 = 0
    var snapshotDone = false
    /// The next transaction, when Kafka acknowledged only its first `partialEvents` events:
    /// a re-delivery of it publishes only the rest.
    var partialGTID = ""
    var partialEvents = 0
    var incremental = IncrementalSnapshotProgress()
    /// The configured tables (`db.table`) the last run captured (nil: all, or not recorded yet):
    /// a table configured since is snapshotted incrementally.
    var tables: [String]?

    init() {}

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        gtids = try c.decodeIfPresent(String.self, forKey: .gtids) ?? ""
        file = try c.decodeIfPresent(String.self, forKey: .file) ?? ""
        position = try c.decodeIfPresent(UInt64.self, forKey: .position) ?? 0
        snapshotDone = try c.decodeIfPresent(Bool.self, forKey: .snapshotDone) ?? false
        partialGTID = try c.decodeIfPresent(String.self, forKey: .partialGTID) ?? ""
        partialEvents = try c.decodeIfPresent(Int.self, forKey: .partialEvents) ?? 0
        incremental = try c.decodeIfPresent(IncrementalSnapshotProgress.self, forKey: .incremental) ?? IncrementalSnapshotProgress()
        tables = try c.decodeIfPresent([String].self, forKey: .tables)
    }

    static func load(_ path: String) -> MySQLCaptureState? { CaptureStateFile.load(MySQLCaptureState.self, from: path) }
    func save(_ path: String) throws { try CaptureStateFile.save(self, to: path) }

    var hasPosition: Bool { !file.isEmpty || !gtids.isEmpty }
}
