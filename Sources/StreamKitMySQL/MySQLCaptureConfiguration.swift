public import StreamKitCapture

/// Settings of a log-based MariaDB/MySQL capture (the binlog, read as a replica).
public struct MySQLCaptureConfiguration: Sendable {
    /// `mysql://user:password@host:port/database`: the capture user needs `REPLICATION SLAVE,
    /// BINLOG MONITOR, SELECT`. The database is the default for tables named without one.
    public var dsn: MySQLDSN
    /// Topic prefix and Debezium `source.name`: changes of `db.table` go to `<prefix>.<db>.<table>`.
    public var topicPrefix: String
    /// Tables to capture (`db.table`, or `table` in the DSN's database); nil: every table outside
    /// the system databases.
    public var tables: [String]?
    /// Read the existing rows first (`op: "r"`) when there is no saved position. Default: `.initial`.
    public var snapshot: MySQLSnapshotMode = .initial
    /// The replica server id the capture reads the binlog with (unique per reader of a server).
    public var serverID: UInt32 = 5401
    /// Where the capture keeps its position (GTID state, file/pos, the acknowledged part of a
    /// transaction, snapshot done).
    public var stateFile: String
    public var decimalHandling: MySQLDecimalHandling = .precise
    public var tombstonesOnDelete = true
    public var messageKeyColumns = MessageKeyColumns()
    /// `db.table.column` or `table.column` (in the DSN's database).
    public var excludedColumns: [String] = []
    public var maskedColumns: [String] = []
    public var skippedOperations: Set<String> = []
    public var transactionMetadata = false
    public var heartbeatInterval: Duration? = nil
    public var heartbeatTopicPrefix = "__debezium-heartbeat"
    /// SQL run on every heartbeat (needs a user allowed to run it).
    public var heartbeatActionQuery: String? = nil
    /// Consecutive failed reconnects before the capture gives up (wait 0.5 s doubling to 10 s).
    public var reconnectAttempts = 60
    /// How often the acknowledged position is saved. Default: 200 ms.
    public var confirmInterval: Duration = .milliseconds(200)
    /// The server's binlog heartbeat when idle. The reader blocks in the binlog read, so this is
    /// also how soon after a burst Kafka's acknowledgement of its last transactions is seen (the
    /// position saved, the commit → acknowledged latency recorded): as the PostgreSQL capture's
    /// 50 ms read timeout. Default: 50 ms (with 1 s, a bench's last acknowledgements waited
    /// ≈ 0.6 s for the heartbeat).
    public var binlogHeartbeat: Duration = .milliseconds(50)
    public var producerLinger: Duration = .milliseconds(10)
    /// Rows per snapshot batch handed to Kafka between polls.
    public var snapshotFetchSize = 10_000
    /// The signal table (Debezium's `signal.data.collection`; `db.table`, or `table` in the DSN's
    /// database), created when missing (InnoDB, in the binlog). A row `(id, 'execute-snapshot',
    /// '{"data-collections": ["db.table", ...]}')` starts an incremental snapshot of those tables
    /// while streaming goes on; the capture writes its snapshot-window markers here and sees them
    /// in the binlog, so its user needs `INSERT, DELETE` on it (and `CREATE` to create it). Tables
    /// added to `tables` between runs are snapshotted the same way. nil: no signals, and tables
    /// added later get no snapshot.
    public var signalTable: String? = "streamkit_signal"
    /// Rows per incremental-snapshot chunk (Debezium's `incremental.snapshot.chunk.size`). Default: 1024.
    public var incrementalChunkSize = 1024

    public init(dsn: MySQLDSN, topicPrefix: String, stateFile: String) {
        self.dsn = dsn; self.topicPrefix = topicPrefix; self.stateFile = stateFile
    }

    /// `db.table` of a configured name.
    public func qualified(_ name: String) -> (schema: String, name: String) {
        let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
        return parts.count == 2 ? (parts[0], parts[1]) : (dsn.database, parts[0])
    }
}

/// Whether a capture without a saved position starts with a snapshot of the existing rows.
public enum MySQLSnapshotMode: String, Sendable, CaseIterable {
    case initial, never
}
