public import StreamKitJSON

/// A position in a database's change log, as a capture keeps it durable: PostgreSQL's LSN (plus
/// the index of an event inside a transaction), MySQL's binlog file/offset or GTID set.
/// Positions are ordered: the capture only moves its durable position forward.
public protocol SourcePosition: Sendable, Comparable, Codable, CustomStringConvertible {}

/// The connector-specific part of a change's Debezium `source` block, supplied by the plug-in:
/// the core writes `version, connector, name, ts_ms, snapshot, db, schema, table` and the
/// schema version; ``writeFields(to:)`` adds the rest (PostgreSQL: `sequence, txId, lsn, xmin`;
/// MySQL: `file, pos, row, gtid, server_id, thread`).
public protocol SourceFields {
    /// Commit time (ms since the epoch) or snapshot time.
    var tsMillis: Int64 { get }
    /// `"true"`, `"last"`, `"false"`, `"incremental"` (Debezium's snapshot marker).
    var snapshot: String { get }
    /// Writes the connector's own fields into the open `source` object.
    func writeFields(to writer: inout JSONWriter)
}
