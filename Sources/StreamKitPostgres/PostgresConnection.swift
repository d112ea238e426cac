import CLibPQ
import Glibc
import StreamKit
import StreamKitCapture

/// The rows of a simple query, in text form.
public struct PostgresRows: Sendable {
    public var columns: [String]
    public var rows: [[String?]]
    /// The command tag (`INSERT 0 1`, `SELECT 3`, ...).
    public var commandTag: String

    /// The value of `column` in row `row` (nil: NULL or no such column).
    public func value(_ row: Int, _ column: String) -> String? {
        guard row < rows.count, let c = columns.firstIndex(of: column) else { return nil }
        return rows[row][c]
    }
}

/// Owns one libpq connection (`PGconn`) and frees it in `deinit`. Every call blocks: use it from a
/// dedicated thread (the capture thread, a tool, a test), never from the Swift concurrency pool.
///
/// A replication connection (`replication: true`, conninfo `replication=database`) accepts the
/// replication commands (`CREATE_REPLICATION_SLOT`, `START_REPLICATION`, ...) besides simple SQL;
/// after ``startCopyBoth(_:)`` it streams CopyData with ``readCopyData(timeout:)`` and
/// ``sendCopyData(_:)``.
public final class PostgresConnection: @unchecked Sendable {
    // @unchecked: a connection is used by one thread at a time.
    private let conn: OpaquePointer
    /// The DSN with any password removed (for messages and logs).
    public let redactedDSN: String

    /// The session settings every connection of the capture pins right after connecting
    /// (``init(dsn:replication:pinSession:)``): they decide the text form of values — in query
    /// results and in what `pgoutput` sends, since the walsender formats values with its own
    /// session's settings — and must not depend on what an administrator set on the role or
    /// the database (`ALTER ROLE ... SET DateStyle = 'SQL, DMY'` would turn dates into
    /// `26/05/2085`). The JDBC driver Debezium uses pins the same ones.
    public static let pinnedSettings: [(name: String, value: String)] = [
        ("DateStyle", "ISO, YMD"),          // 2024-03-01 13:14:15.123456, BC years as "... BC"
        ("IntervalStyle", "postgres"),      // 1 year 2 mons 3 days 04:05:06
        ("TimeZone", "UTC"),                // timestamptz text with offset +00
        ("extra_float_digits", "3"),        // float4/float8: the shortest text that reads back exactly
        ("client_encoding", "UTF8"),
        ("bytea_output", "hex"),            // \x0a0b
        ("lc_monetary", "C"),               // money: 12.34 without a locale's currency symbol
    ]

    /// The `SET` statements of ``pinnedSettings``.
    static let pinSQL = pinnedSettings.map { "SET \($0.name) = '\($0.value)'" }.joined(separator: "; ")

    /// `pinSession`: set ``pinnedSettings`` (the default; only tests that look at a role's own
    /// settings pass false).
    public init(dsn: String, replication: Bool = false, pinSession: Bool = true) throws {
        redactedDSN = Self.redact(dsn)
        let conninfo = replication ? Self.withReplication(dsn) : dsn
        guard let c = PQconnectdb(conninfo) else { throw CaptureError(.client, "PQconnectdb failed (out of memory)") }
        guard PQstatus(c) == CONNECTION_OK else {
            let message = Self.message(c)
            PQfinish(c)
            throw CaptureError(.connectionFailed, "cannot connect to PostgreSQL at \(redactedDSN): \(message) — check the server is up and the DSN's host, port, user and database",
                               retriable: true)
        }
        conn = c
        if pinSession { try execute(Self.pinSQL) }
    }

    deinit { PQfinish(conn) }

    /// Runs one or more SQL statements (simple query protocol); returns the last result's rows.
    @discardableResult
    public func execute(_ sql: String) throws -> PostgresRows {
        guard let res = PQexec(conn, sql) else { throw CaptureError(.connectionLost, "PQexec: \(Self.message(conn))", retriable: true) }
        defer { PQclear(res) }
        switch PQresultStatus(res) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return Self.rows(res)
        default:
            throw queryError(sql, res)
        }
    }

    /// Runs a parameterised statement (`$1`, `$2`, ... as text).
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?]) throws -> PostgresRows {
        var cStrings: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { for p in cStrings { free(p) } }
        let res = cStrings.withUnsafeMutableBufferPointer { buf in
            buf.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buf.count) { values in
                PQexecParams(conn, sql, Int32(parameters.count), nil, values, nil, nil, 0)
            }
        }
        guard let res else { throw CaptureError(.connectionLost, "PQexecParams: \(Self.message(conn))", retriable: true) }
        defer { PQclear(res) }
        switch PQresultStatus(res) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK: return Self.rows(res)
        default: throw queryError(sql, res)
        }
    }

    /// Sends a command that switches the connection into CopyBoth mode (`START_REPLICATION ...`).
    public func startCopyBoth(_ command: String) throws {
        guard let res = PQexec(conn, command) else { throw CaptureError(.connectionLost, "PQexec: \(Self.message(conn))", retriable: true) }
        defer { PQclear(res) }
        guard PQresultStatus(res) == PGRES_COPY_BOTH else {
            throw CaptureError(.replication, "\(Self.firstLine(command)): \(Self.resultMessage(res))", sqlState: Self.sqlState(res), retriable: true)
        }
    }

    /// The next CopyData message, or nil when none arrived within `timeout`. Throws when the
    /// server ended the stream or the connection failed.
    public func readCopyData(timeout: Duration) throws -> [UInt8]? {
        var deadline: UInt64? = nil
        while true {
            var buf: UnsafeMutablePointer<CChar>? = nil
            let n = PQgetCopyData(conn, &buf, 1)
            if n > 0, let buf {
                defer { PQfreemem(buf) }
                return [UInt8](UnsafeRawBufferPointer(start: buf, count: Int(n)))
            }
            if n == -1 {
                // The stream ended: collect the final result for its message.
                var text = "replication stream ended"
                while let res = PQgetResult(conn) {
                    if PQresultStatus(res) != PGRES_COMMAND_OK { text += ": " + Self.resultMessage(res) }
                    PQclear(res)
                }
                throw CaptureError(.connectionLost, text, retriable: true)
            }
            if n == -2 { throw CaptureError(.connectionLost, "replication stream: \(Self.message(conn))", retriable: true) }
            // n == 0: nothing buffered; wait for the socket.
            let now = MonotonicClock.nanos()
            if deadline == nil { deadline = now &+ UInt64(timeout.milliseconds) * 1_000_000 }
            guard now < deadline! else { return nil }
            var pfd = pollfd(fd: PQsocket(conn), events: Int16(POLLIN), revents: 0)
            let waitMillis = Int32(min(Int64((deadline! &- now) / 1_000_000) + 1, 1000))
            let r = poll(&pfd, 1, waitMillis)
            if r < 0 && errno != EINTR { throw CaptureError(.client, "poll: \(String(cString: strerror(errno)))", retriable: true) }
            if r > 0 && PQconsumeInput(conn) == 0 {
                throw CaptureError(.connectionLost, "replication stream: \(Self.message(conn))", retriable: true)
            }
        }
    }

    /// Sends one CopyData message (e.g. a standby status update) and flushes it.
    public func sendCopyData(_ bytes: [UInt8]) throws {
        let ok = bytes.withUnsafeBufferPointer { b in
            b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) { PQputCopyData(conn, $0, Int32(b.count)) }
        }
        guard ok == 1 else { throw CaptureError(.connectionLost, "PQputCopyData: \(Self.message(conn))", retriable: true) }
        while true {
            let f = PQflush(conn)
            if f == 0 { return }
            if f < 0 { throw CaptureError(.connectionLost, "PQflush: \(Self.message(conn))", retriable: true) }
            var pfd = pollfd(fd: PQsocket(conn), events: Int16(POLLOUT), revents: 0)
            _ = poll(&pfd, 1, 1000)
        }
    }

    /// Whether a failed result means the connection or the server went away (a reconnect may
    /// succeed): the connection is broken, or SQLSTATE class 08 (connection exception), 57
    /// (operator intervention: shutdown, restart) or 53 (insufficient resources).
    private func isTransient(_ res: OpaquePointer) -> Bool {
        if PQstatus(conn) == CONNECTION_BAD { return true }
        guard let state = Self.sqlState(res) else { return false }
        return state.hasPrefix("08") || state.hasPrefix("57") || state.hasPrefix("53")
    }

    /// A failed statement: ``CaptureError/Code/connectionLost`` when the connection or server went
    /// away, else ``CaptureError/Code/query``, with the SQLSTATE.
    private func queryError(_ sql: String, _ res: OpaquePointer) -> CaptureError {
        let transient = isTransient(res)
        return CaptureError(transient ? .connectionLost : .query, "\(Self.firstLine(sql)): \(Self.resultMessage(res))",
                            sqlState: Self.sqlState(res), retriable: transient)
    }

    /// The SQLSTATE of a failed result.
    static func sqlState(_ res: OpaquePointer) -> String? {
        guard let code = PQresultErrorField(res, Int32(UInt8(ascii: "C"))) else { return nil }
        return String(cString: code)
    }

    /// Whether the connection is still usable.
    public var isConnected: Bool { PQstatus(conn) == CONNECTION_OK }

    /// Escapes an identifier (`"my table"`).
    public func quoteIdentifier(_ name: String) -> String {
        guard let p = PQescapeIdentifier(conn, name, name.utf8.count) else { return "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        defer { PQfreemem(p) }
        return String(cString: p)
    }

    /// Escapes a string literal (`'it''s'`).
    public func quoteLiteral(_ value: String) -> String {
        guard let p = PQescapeLiteral(conn, value, value.utf8.count) else { return "'" + value.replacingOccurrences(of: "'", with: "''") + "'" }
        defer { PQfreemem(p) }
        return String(cString: p)
    }

    /// The server's backend process id (for tests that terminate a connection).
    public var backendPID: Int32 { PQbackendPID(conn) }

    // MARK: helpers

    static func rows(_ res: OpaquePointer) -> PostgresRows {
        let nf = Int(PQnfields(res)), nt = Int(PQntuples(res))
        let columns = (0..<nf).map { String(cString: PQfname(res, Int32($0))) }
        var rows: [[String?]] = []
        rows.reserveCapacity(nt)
        for r in 0..<nt {
            rows.append((0..<nf).map { c in
                PQgetisnull(res, Int32(r), Int32(c)) == 1 ? nil : String(cString: PQgetvalue(res, Int32(r), Int32(c)))
            })
        }
        return PostgresRows(columns: columns, rows: rows, commandTag: String(cString: PQcmdStatus(res)))
    }

    static func message(_ conn: OpaquePointer) -> String {
        String(cString: PQerrorMessage(conn)).trimmingTrailingNewlines()
    }

    static func resultMessage(_ res: OpaquePointer) -> String {
        let m = String(cString: PQresultErrorMessage(res)).trimmingTrailingNewlines()
        return m.isEmpty ? String(cString: PQresStatus(PQresultStatus(res))) : m
    }

    static func firstLine(_ sql: String) -> String {
        let line = sql.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? sql
        return line.count > 120 ? String(line.prefix(120)) + "…" : line
    }

    /// Adds `replication=database` to a URL or key/value DSN.
    static func withReplication(_ dsn: String) -> String {
        if dsn.hasPrefix("postgres://") || dsn.hasPrefix("postgresql://") {
            return dsn + (dsn.contains("?") ? "&" : "?") + "replication=database"
        }
        return dsn + " replication=database"
    }

    /// Removes the password from a URL (`postgresql://user:secret@host`) or key/value DSN
    /// (`password=secret`): ``LogRedaction/connectionString(_:)``.
    public static func redact(_ dsn: String) -> String {
        LogRedaction.connectionString(dsn)
    }
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var s = Substring(self)
        while let last = s.last, last == "\n" || last == "\r" { s = s.dropLast() }
        return String(s)
    }
}
