import CMariaDB
public import StreamKitCapture

/// Reads a MariaDB server's binlog as a replica does (Connector/C's replication API on its own
/// connection) and hands each event to a closure. Owns the `MARIADB_RPL` handle, the connection
/// and the event buffer (reused for every event: row events point into it, so a body must not
/// keep them). Every call blocks: the capture's own thread only.
///
/// The session is set up as the server needs it: the binlog checksum it writes
/// (`@master_binlog_checksum`), GTID events as GTID events (`@mariadb_slave_capability=4`), the
/// start as a GTID state (`@slave_connect_state`, strict) and a heartbeat when idle
/// (`@master_heartbeat_period`), which keeps a quiet reader's reads returning so the capture can
/// confirm positions and stop.
public final class BinlogReader: @unchecked Sendable {
    // @unchecked: used by one thread (the capture's).
    /// Where the stream starts.
    public enum Start: Sendable, Equatable {
        /// After the transactions of a GTID state (`0-1-42,1-2-7`; empty: the oldest binlog).
        case gtid(String)
        /// A binlog file and position.
        case file(String, UInt64)
    }

    let connection: MySQLConnection
    let rpl: UnsafeMutablePointer<MARIADB_RPL>
    var event: UnsafeMutablePointer<MARIADB_RPL_EVENT>?
    /// The binlog file the stream is in (from ROTATE events).
    public private(set) var file = ""

    /// Connects with `serverID` (every reader of a server needs its own: a second connection with
    /// the same id evicts the first) and opens the binlog at `start`.
    public init(dsn: MySQLDSN, serverID: UInt32, start: Start, heartbeat: Duration) throws {
        let (s, a) = heartbeat.components
        let heartbeatNanos = max(1_000_000, s * 1_000_000_000 + a / 1_000_000_000)
        // Reads time out well after a missed heartbeat: a dead server is noticed, an idle one is not.
        connection = try MySQLConnection(dsn: dsn, readTimeout: UInt32(max(10, s * 5)))
        var setup = "SET @master_binlog_checksum = @@global.binlog_checksum, @mariadb_slave_capability = 4, "
            + "@master_heartbeat_period = \(heartbeatNanos)"
        if case let .gtid(state) = start {
            setup += ", @slave_connect_state = \(connection.quoteLiteral(state)), @slave_gtid_strict_mode = 1"
        }
        try connection.execute(setup)
        guard let r = streamkit_rpl_init(connection.handle) else { throw CaptureError(.client, "mariadb_rpl_init failed (out of memory)") }
        rpl = r
        var fileName = ""
        var position: UInt64 = 4
        if case let .file(f, p) = start { fileName = f; position = p }
        file = fileName
        let ok = fileName.withCString { streamkit_rpl_set_filename(r, $0, fileName.utf8.count) } == 0
            && streamkit_rpl_set_start(r, UInt(position)) == 0
            && streamkit_rpl_set_server_id(r, serverID) == 0
            && streamkit_rpl_set_flags(r, 0) == 0
        guard ok else {
            mariadb_rpl_close(r)
            throw CaptureError(.client, "setting the binlog reader's options failed")
        }
        guard mariadb_rpl_open(r) == 0 else {
            let e = failure(context: "opening the binlog")
            mariadb_rpl_close(r)
            throw e
        }
    }

    deinit {
        if let event { mariadb_free_rpl_event(event) }
        mariadb_rpl_close(rpl)
    }

    /// Blocks for the next event (a heartbeat arrives after the heartbeat period when the server
    /// is idle) and passes it to `body`, with its header.
    public func next<R>(_ body: (BinlogEventHeader, BinlogEvent) throws -> R) throws -> R {
        guard let e = mariadb_rpl_fetch(rpl, event) else {
            event = nil   // freed by the library
            throw failure(context: "reading the binlog")
        }
        event = e
        let p = e.pointee
        let header = BinlogEventHeader(timestamp: p.timestamp, serverID: p.server_id, nextPosition: p.next_event_pos, length: p.event_length)
        let type = UInt8(truncatingIfNeeded: p.event_type.rawValue)
        switch type {
        case 162:   // GTID
            let g = p.event.gtid
            return try body(header, .gtid(BinlogGTID(domain: g.domain_id, server: p.server_id, sequence: g.sequence_nr),
                                          standalone: g.flags & 1 != 0))
        case 16:
            return try body(header, .xid)
        case 2:
            let q = p.event.query
            return try body(header, .query(database: Self.string(q.database), statement: Self.string(q.statement), threadID: q.thread_id))
        case 19:
            let headerLength = Int(rpl.pointee.fd_header_len == 0 ? 19 : rpl.pointee.fd_header_len)
            let start = Int(p.raw_data_ofs) + headerLength
            let end = Int(p.raw_data_size) - (rpl.pointee.use_checksum != 0 ? 4 : 0)
            guard let raw = p.raw_data, end >= start else { throw CaptureError(.malformedLog, "TABLE_MAP event without a body") }
            let map = try BinlogTableMap(body: UnsafeRawBufferPointer(start: raw + start, count: end - start))
            return try body(header, .tableMap(map))
        case 23, 24, 25:
            let rows = p.event.rows
            let bitmapBytes = (Int(rows.column_count) + 7) / 8
            let kind: BinlogRows.Kind = type == 23 ? .write : type == 24 ? .update : .delete
            guard let present = rows.column_bitmap, let data = rows.row_data else {
                throw CaptureError(.malformedLog, "rows event without column bitmap or rows")
            }
            let after = kind == .update ? rows.column_update_bitmap.map { UnsafeRawBufferPointer(start: $0, count: bitmapBytes) } : nil
            let r = BinlogRows(kind: kind, tableID: rows.table_id, columnCount: Int(rows.column_count),
                               present: UnsafeRawBufferPointer(start: present, count: bitmapBytes),
                               presentAfter: after ?? UnsafeRawBufferPointer(start: present, count: bitmapBytes),
                               data: UnsafeRawBufferPointer(start: data, count: Int(rows.row_data_size)))
            return try body(header, .rows(r))
        case 166, 167, 168, 169, 170, 171, 30, 31, 32:
            throw CaptureError(.configuration, "compressed or v2 row events (type \(type)) are not supported: set log_bin_compress=OFF")
        case 4:
            let r = p.event.rotate
            file = Self.string(r.filename)
            return try body(header, .rotate(file: file, position: r.position))
        case 27:
            return try body(header, .heartbeat)
        default:
            return try body(header, .other(type: type))
        }
    }

    static func string(_ s: MARIADB_STRING) -> String {
        guard let p = s.str, s.length > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: Int(s.length)), as: UTF8.self)
    }

    func failure(context: String) -> CaptureError {
        let errno = mysql_errno(connection.handle)
        let message = String(cString: mysql_error(connection.handle))
        let rplMessage = withUnsafeBytes(of: rpl.pointee.error_msg) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let text = message.isEmpty ? rplMessage : message
        if errno == 1236 {
            // The server cannot serve the position: purged binlogs, or a GTID it does not know.
            return CaptureError(.replication, "\(context): the server cannot send the binlog from the capture's position (\(text), error 1236) — "
                                + "the binlog it needs was purged or the GTID is unknown; capture it again from a snapshot: remove the state file and run with --snapshot initial")
        }
        if errno == 4052 || errno == 1201 {
            return CaptureError(.replication, "\(context): \(text) (error \(errno)) — another reader uses the same server id; give each capture its own --server-id",
                                retriable: true)
        }
        let retriable = errno == 0 || MySQLConnection.isConnectionError(errno)
        return CaptureError(retriable ? .connectionLost : .replication, "\(context): \(text.isEmpty ? "connection lost" : text) (error \(errno))",
                            retriable: retriable)
    }
}
