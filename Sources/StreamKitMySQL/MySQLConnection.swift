import CMariaDB
import Foundation
public import StreamKitCapture

/// Owns one Connector/C connection (`MYSQL`) and closes it in `deinit`. Every call blocks: use it
/// from a dedicated thread (the capture thread, a tool, a test), never from the Swift concurrency
/// pool. The session is pinned to `utf8mb4` and UTC, so text values do not depend on the server's
/// or the account's defaults.
public final class MySQLConnection: @unchecked Sendable {
    // @unchecked: a connection is used by one thread at a time.
    let handle: UnsafeMutablePointer<MYSQL>
    public let dsn: MySQLDSN

    /// Connects; `readTimeout`: seconds a read may block (the binlog reader keeps it above the
    /// heartbeat period).
    public init(dsn: MySQLDSN, connectTimeout: UInt32 = 10, readTimeout: UInt32 = 30) throws {
        self.dsn = dsn
        guard let h = mysql_init(nil) else { throw CaptureError(.client, "mysql_init failed (out of memory)") }
        _ = streamkit_mysql_set_uint_option(h, MYSQL_OPT_CONNECT_TIMEOUT, connectTimeout)
        _ = streamkit_mysql_set_uint_option(h, MYSQL_OPT_READ_TIMEOUT, readTimeout)
        _ = streamkit_mysql_set_uint_option(h, MYSQL_OPT_WRITE_TIMEOUT, readTimeout)
        _ = mysql_options(h, MYSQL_SET_CHARSET_NAME, "utf8mb4")
        guard mysql_real_connect(h, dsn.host, dsn.user, dsn.password, dsn.database.isEmpty ? nil : dsn.database,
                                 dsn.port, nil, 0) != nil else {
            let e = Self.error(h, context: "cannot connect to \(dsn.redacted)")
            mysql_close(h)
            // Access denied (1044, 1045) and an unknown database (1049) do not go away by retrying.
            throw CaptureError(.connectionFailed, e.message, sqlState: e.sqlState, retriable: e.errno != 1045 && e.errno != 1044 && e.errno != 1049)
        }
        handle = h
        try execute("SET time_zone = '+00:00', NAMES utf8mb4")
    }

    deinit { mysql_close(handle) }

    /// Runs a statement and returns its rows as text (nil: NULL); statements without a result give no rows.
    @discardableResult
    public func query(_ sql: String) throws -> [[String?]] {
        let rc = sql.withCString { mysql_real_query(handle, $0, UInt(strlen($0))) }
        guard rc == 0 else { throw failure("query failed") }
        guard let result = mysql_store_result(handle) else {
            if mysql_field_count(handle) == 0 { return [] }
            throw failure("reading the result failed")
        }
        defer { mysql_free_result(result) }
        let n = Int(mysql_num_fields(result))
        var rows: [[String?]] = []
        while let row = mysql_fetch_row(result) {
            guard let lengths = mysql_fetch_lengths(result) else { break }
            var r: [String?] = []
            r.reserveCapacity(n)
            for i in 0..<n {
                if let p = row[i] {
                    r.append(String(decoding: UnsafeRawBufferPointer(start: p, count: Int(lengths[i])), as: UTF8.self))
                } else {
                    r.append(nil)
                }
            }
            rows.append(r)
        }
        return rows
    }

    /// Runs statements that return nothing.
    public func execute(_ sql: String) throws { try query(sql) }

    /// Runs a query and streams its rows (text, nil: NULL) to `body` without holding them all
    /// in memory (`mysql_use_result`); for snapshots of large tables.
    public func stream(_ sql: String, _ body: ([String?]) throws -> Void) throws {
        let rc = sql.withCString { mysql_real_query(handle, $0, UInt(strlen($0))) }
        guard rc == 0 else { throw failure("query failed") }
        guard let result = mysql_use_result(handle) else { throw failure("reading the result failed") }
        defer { mysql_free_result(result) }
        let n = Int(mysql_num_fields(result))
        var r: [String?] = Array(repeating: nil, count: n)
        while let row = mysql_fetch_row(result) {
            guard let lengths = mysql_fetch_lengths(result) else { break }
            for i in 0..<n {
                r[i] = row[i].map { String(decoding: UnsafeRawBufferPointer(start: $0, count: Int(lengths[i])), as: UTF8.self) }
            }
            try body(r)
        }
        if mysql_errno(handle) != 0 { throw failure("reading the rows failed") }
    }

    /// `'text'` with quotes and backslashes escaped for this connection's character set.
    public func quoteLiteral(_ s: String) -> String {
        let utf8 = Array(s.utf8)
        var out = [CChar](repeating: 0, count: utf8.count * 2 + 1)
        let n = utf8.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { mysql_real_escape_string(handle, &out, $0.baseAddress, UInt(utf8.count)) }
        }
        return "'" + String(decoding: out[0..<Int(n)].map { UInt8(bitPattern: $0) }, as: UTF8.self) + "'"
    }

    /// `` `name` `` with backticks doubled.
    public static func quoteIdentifier(_ s: String) -> String {
        "`" + s.replacingOccurrences(of: "`", with: "``") + "`"
    }

    /// The server's error number of the last call (0: none).
    public var errorNumber: UInt32 { mysql_errno(handle) }

    func failure(_ context: String) -> CaptureError {
        let e = Self.error(handle, context: context)
        return CaptureError(Self.isConnectionError(e.errno) ? .connectionLost : .query, e.message, sqlState: e.sqlState,
                            retriable: Self.isConnectionError(e.errno))
    }

    /// Client errors 2002–2013 and 2055 (cannot connect, gone away, lost), and the server
    /// shutting down (1053), are worth a reconnect.
    static func isConnectionError(_ errno: UInt32) -> Bool {
        (2002...2013).contains(errno) || errno == 2055 || errno == 1053 || errno == 1927
    }

    static func error(_ h: UnsafeMutablePointer<MYSQL>, context: String) -> (errno: UInt32, message: String, sqlState: String?) {
        let errno = mysql_errno(h)
        let text = String(cString: mysql_error(h))
        let state = String(cString: mysql_sqlstate(h))
        return (errno, "\(context): \(text) (error \(errno))", state == "00000" || state.isEmpty ? nil : state)
    }
}
