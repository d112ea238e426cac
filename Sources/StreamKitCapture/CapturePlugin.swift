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
/// 2. a ``ChangeLogReader`` — opens its log after a position and hands over transactions of
///    neutral ``CapturedChange``s;
/// 3. a ``SnapshotReader`` — table metadata and key-ordered chunks (PostgreSQL:
///    `PostgresSnapshotReader`).
///
/// Status: PostgreSQL implements 1 and 3. Its log reader still lives in `PostgresCapture`
/// (`+Streaming`), where the per-transaction logic (skip what was acknowledged before a restart,
/// transaction metadata, signals, window dedupe, publishing) is written against pgoutput
/// messages; moving that logic into a core stream processor that consumes ``CapturedChange`` is
/// the step left before a MySQL plug-in needs nothing else.
public protocol CapturePlugin {
    associatedtype Position: SourcePosition
    associatedtype LogReader: ChangeLogReader where LogReader.Position == Position
    associatedtype TableReader: SnapshotReader
    /// Debezium's `source.connector` (`postgresql`, `mysql`).
    static var connector: String { get }
}

/// One neutral change of a table, as a log reader hands it over.
public enum CapturedChange: Sendable {
    case begin(transactionID: String, commitMicros: Int64)
    case insert(table: CapturedTable, after: [ColumnValue])
    case update(table: CapturedTable, before: [ColumnValue]?, after: [ColumnValue])
    case delete(table: CapturedTable, before: [ColumnValue])
    case truncate(table: CapturedTable)
    case commit(commitMicros: Int64)
}

/// Reads a database's change log from a position (blocking; the capture's own thread).
public protocol ChangeLogReader {
    associatedtype Position: SourcePosition
    /// Opens the log after `position`.
    mutating func open(after position: Position) throws
    /// The next change and its position, or nil when none arrived within `timeout`.
    mutating func next(timeout: Duration) throws -> (change: CapturedChange, position: Position)?
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
