public import StreamKitCapture

/// Settings of a log-based PostgreSQL capture (logical replication with `pgoutput`).
public struct PostgresCaptureConfiguration: Sendable {
    /// libpq connection string or URL (`postgresql://user@host:port/db`).
    public var dsn: String
    /// The logical replication slot (created when missing).
    public var slot: String
    /// The publication (created when missing: for `tables`, or for all tables).
    public var publication: String
    /// Topic prefix and Debezium `source.name`: changes of `schema.table` go to `<prefix>.<schema>.<table>`.
    public var topicPrefix: String
    /// Tables to capture (`schema.table` or `table` for `public`); nil: every table of the publication.
    public var tables: [String]?
    /// Read the existing rows first (`op: "r"`) when the slot is created. Default: `.initial`.
    public var snapshot: PostgresSnapshotMode = .initial
    /// Send a tombstone (null value, same key) after each delete. Default: true.
    public var tombstonesOnDelete = true
    /// Where the capture keeps its own position (last published commit, snapshot done): a restart
    /// resumes from it, so transactions the slot re-delivers are not published twice (the slot's
    /// confirmed LSN can go back after a PostgreSQL restart).
    public var stateFile: String
    /// How often the position confirmed to PostgreSQL and the state file are brought up to the
    /// events Kafka has acknowledged. Default: 200 ms.
    public var confirmInterval: Duration = .milliseconds(200)
    /// How often the slot lag is measured. Default: 5 s.
    public var slotLagInterval: Duration = .seconds(5)
    /// Slot lag (WAL retained) above which a warning is logged. Default: 1 GiB.
    public var slotLagWarningBytes: Int64 = 1 << 30
    /// Rows per snapshot fetch. Default: 10 000.
    public var snapshotFetchSize = 10_000
    /// Debezium's `message.key.columns`: the Kafka key columns of some tables (instead of the
    /// primary key; also for a table without one). A table without a primary key, a replica
    /// identity index or an entry here has a null key, and its updates are `u` events. A
    /// configured column outside the replica identity needs `REPLICA IDENTITY FULL`, so that
    /// deletes and updates of an unchanged TOASTed value carry it in the old row. Default: none.
    public var messageKeyColumns = MessageKeyColumns()
    /// Columns left out of the events: `schema.table.column` or `table.column` (in `public`).
    public var excludedColumns: [String] = []
    /// Columns whose values are replaced by `"***"` (NULL stays null): same naming.
    public var maskedColumns: [String] = []
    /// Operations not published (Debezium's `skipped.operations`): any of `c`, `u`, `d`, `t`.
    /// Snapshot reads (`r`) are controlled by `snapshot`.
    public var skippedOperations: Set<String> = []
    /// Debezium's `heartbeat.interval.ms`: every interval a heartbeat record (key
    /// `{"serverName": prefix}`, value `{"ts_ms": ...}`) goes to `<heartbeatTopicPrefix>.<prefix>`,
    /// so consumers see the capture is alive while the tables are quiet. nil (default): none.
    public var heartbeatInterval: Duration? = nil
    /// Debezium's `topic.heartbeat.prefix`. Default: `__debezium-heartbeat`.
    public var heartbeatTopicPrefix = "__debezium-heartbeat"
    /// Debezium's `heartbeat.action.query`: SQL run on every heartbeat (e.g. an `UPDATE` of a
    /// one-row heartbeat table in the captured database), so the slot keeps moving when the
    /// captured tables are idle while other databases of the server write WAL.
    public var heartbeatActionQuery: String? = nil
    /// Debezium's `provide.transaction.metadata`: `BEGIN`/`END` events on `<prefix>.transaction`
    /// (key `{"id"}`; `END` has the event counts per table), and every change's `transaction`
    /// block `{id, total_order, data_collection_order}`. Default: false (`transaction` is null).
    public var transactionMetadata = false
    /// Consecutive failed reconnects (PostgreSQL restart, network loss) before the capture gives
    /// up and throws. The wait doubles from 0.5 s to 10 s. 0: fail on the first loss. Default: 60.
    public var reconnectAttempts = 60
    /// The signal table (Debezium's `signal.data.collection`), created when missing and added to
    /// the publication. A row `(id, type, data)` of type `execute-snapshot` with data
    /// `{"data-collections": ["schema.table", ...]}` starts an incremental snapshot of those tables
    /// while streaming goes on (`cdc-features capture snapshot` writes one); the capture also
    /// writes its snapshot-window markers here. Tables added to `tables` between runs are
    /// snapshotted the same way. nil: no signals, and tables added later get no snapshot.
    public var signalTable: String? = "public.streamkit_signal"
    /// Rows per incremental-snapshot chunk (Debezium's `incremental.snapshot.chunk.size`). Default: 1024.
    public var incrementalChunkSize = 1024
    /// How long the capture's producer lets events wait to fill a record batch per partition
    /// (librdkafka's `linger.ms`; a `linger.ms` in the Kafka configuration overrides it). Fewer,
    /// larger batches cost the broker and every consumer much less: on Tansu at 20K changes/s,
    /// 2 ms batches left the consumers behind (commit → feature p99 0.2–0.8 s), 10 ms batches
    /// kept them current (p99 50–150 ms). Adds up to this delay to commit → Kafka at low rates.
    /// Default: 10 ms.
    public var producerLinger: Duration = .milliseconds(10)

    public init(dsn: String, slot: String, publication: String, topicPrefix: String, stateFile: String) {
        self.dsn = dsn; self.slot = slot; self.publication = publication; self.topicPrefix = topicPrefix; self.stateFile = stateFile
    }
}

/// Whether a new slot starts with a snapshot of the existing rows.
public enum PostgresSnapshotMode: String, Sendable, CaseIterable {
    case initial, never
}

