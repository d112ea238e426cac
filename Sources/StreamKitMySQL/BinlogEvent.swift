/// One binlog event as the capture needs it, decoded from the replication stream. Row events
/// point into the reader's buffer: they are valid only inside ``BinlogReader/next(_:)``'s body.
public enum BinlogEvent {
    /// A transaction (or a standalone DDL) starts: MariaDB's GTID event.
    case gtid(BinlogGTID, standalone: Bool)
    /// The transaction commits (InnoDB's XID event).
    case xid
    /// A statement: `BEGIN`/`COMMIT` for non-transactional engines, DDL otherwise.
    case query(database: String, statement: String, threadID: UInt32)
    /// The table definition the next row events use.
    case tableMap(BinlogTableMap)
    /// Row changes of a table: `kind`, the table id, the columns present (before and, for updates,
    /// after images) and the row images.
    case rows(BinlogRows)
    /// The stream moves to another binlog file.
    case rotate(file: String, position: UInt64)
    /// The server is alive; nothing happened for the heartbeat period.
    case heartbeat
    /// Anything else (format description, GTID list, binlog checkpoint, ...).
    case other(type: UInt8)
}

/// The header fields of an event the capture uses.
public struct BinlogEventHeader: Sendable {
    /// Seconds since the epoch when the statement started (the commit time for XID/GTID).
    public var timestamp: UInt32
    public var serverID: UInt32
    /// Position of the next event in the current binlog file (0 for artificial events).
    public var nextPosition: UInt32
    /// The event's size in bytes (header, body and checksum).
    public var length: UInt32 = 0

    /// Where the event starts in its binlog file.
    public var position: UInt64 { UInt64(nextPosition) >= UInt64(length) ? UInt64(nextPosition) - UInt64(length) : 0 }
}

/// A MariaDB global transaction id: `domain-server-sequence`.
public struct BinlogGTID: Sendable, Hashable, Codable, CustomStringConvertible {
    public var domain: UInt32
    public var server: UInt32
    public var sequence: UInt64
    public init(domain: UInt32, server: UInt32, sequence: UInt64) { self.domain = domain; self.server = server; self.sequence = sequence }
    public var description: String { "\(domain)-\(server)-\(sequence)" }

    /// Parses `domain-server-sequence`.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "-")
        guard parts.count == 3, let d = UInt32(parts[0]), let s = UInt32(parts[1]), let q = UInt64(parts[2]) else { return nil }
        self.init(domain: d, server: s, sequence: q)
    }
}

/// A rows event (WRITE/UPDATE/DELETE_ROWS v1) pointing into the reader's buffer.
public struct BinlogRows {
    public enum Kind: Sendable { case write, update, delete }
    public var kind: Kind
    public var tableID: UInt64
    public var columnCount: Int
    /// Columns present in the (before) image, one bit per column, LSB first.
    public var present: UnsafeRawBufferPointer
    /// Columns present in the after image of an update.
    public var presentAfter: UnsafeRawBufferPointer
    /// The row images.
    public var data: UnsafeRawBufferPointer
}
