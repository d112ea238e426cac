public import StreamKitKafka

/// What a database plug-in gives the capture core.
///
/// The core (this module, no database client library) owns everything that does not depend on
/// the database: the neutral row and change model (``CapturedTable``, ``CaptureColumn``,
/// ``ColumnValue``), the Debezium envelope (``DebeziumChangeEncoder``, with transaction metadata
/// and heartbeats), the ack-gated ``PositionTracker`` and its durable state file
/// (``CaptureStateFile``), DBLog incremental snapshots (``IncrementalSnapshotProgress``,
/// ``SnapshotWindow``), the schema registry on `<prefix>.__schemas` (``SchemaRegistry``,
/// ``SchemaHistory``), reconnects (``ReconnectBackoff``), the lifecycle (``CaptureLifecycle``,
/// ``CaptureService``), metrics (``CaptureMetricsReporter``) and errors (``CaptureError``).
///
/// A database plug-in provides three things:
/// 1. a ``SourcePosition`` — where its log stands (PostgreSQL: `PostgresPosition`, LSN + index
///    in the transaction; MySQL: binlog file/offset or GTID set), and the ``SourceFields`` of its
///    `source` block (PostgreSQL: `PostgresSourceFields`);
/// 2. a ``ChangeLogReader`` — reads its log after a position and drives the core's
///    ``ChangeStream`` with neutral changes (`begin`, `insert`/`update`/`delete`/`truncate`,
///    signal-table rows, `commit`); the stream does the rest (skipping what Kafka acknowledged
///    before a restart, transaction metadata, DBLog windows, acknowledgement tracking);
/// 3. a ``SnapshotReader`` — table metadata and key-ordered chunks (PostgreSQL:
///    `PostgresSnapshotReader`).
///
/// The core also runs the session loop (``CaptureSessionLoop``: one session per connection,
/// reconnects with backoff, a stop during the wait) and schedules a session's periodic duties
/// (``CaptureSchedule``: confirm and save the acknowledged position, heartbeats, log retention).
/// Status: PostgreSQL's log reader is `PostgresCapture+Streaming` (pgoutput → ``ChangeStream``)
/// and MySQL's is `MySQLCapture+Streaming` (binlog events → ``ChangeStream``), extensions of their
/// captures rather than separate ``ChangeLogReader`` values; what a second
/// plug-in still writes itself is its session (connect, open the log at the position, read into
/// the stream) and the small glue that saves its position type.
public protocol CapturePlugin {
    associatedtype Position: SourcePosition
    associatedtype LogReader: ChangeLogReader where LogReader.Position == Position
    associatedtype TableReader: SnapshotReader
    /// Debezium's `source.connector` (`postgresql`, `mysql`).
    static var connector: String { get }
}

/// Reads a database's change log (blocking; the capture's own thread) into a ``ChangeStream``.
public protocol ChangeLogReader {
    associatedtype Position: SourcePosition
    /// Opens the log after `position`.
    mutating func open(after position: Position) throws
    /// Reads what arrives within `timeout` into `stream`; returns whether anything arrived.
    mutating func read(into stream: inout ChangeStream<Position>, producer: KafkaProducer, timeout: Duration) throws -> Bool
    /// The database may release its log up to `position` (every event before it is in Kafka).
    mutating func confirm(_ position: Position) throws
}

/// Reads tables for snapshots (blocking; the capture's own thread).
public protocol SnapshotReader {
    /// The table's metadata; nil when it does not exist.
    mutating func table(schema: String, name: String) throws -> CapturedTable?
    /// Up to `limit` rows in key order after `key` (text values; nil: from the start).
    mutating func chunk(of table: CapturedTable, after key: [String?]?, limit: Int) throws -> [[ColumnValue]]
}
