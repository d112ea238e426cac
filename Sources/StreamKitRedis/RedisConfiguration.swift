public import Logging
import StreamKit

/// How to reach a Redis server and how hard to try.
///
/// ```swift
/// var config = try RedisConfiguration(url: "redis://:secret@127.0.0.1:6379/2")
/// config.ioTimeout = .seconds(2)
/// let connection = try RedisConnection(config)
/// ```
///
/// The password is never part of ``description`` or of any error message.
public struct RedisConfiguration: Sendable, CustomStringConvertible {
    /// Host name or IP address. Default: `127.0.0.1`.
    public var host: String = "127.0.0.1"
    /// TCP port. Default: `6379`.
    public var port: Int = 6379
    /// Database index selected after connecting (`SELECT`). Default: `0`.
    public var database: Int = 0
    /// ACL user name for `AUTH user password` (Redis 6+). Default: nil (`AUTH password`).
    public var username: String? = nil
    /// Password sent with `AUTH` after connecting. Default: nil (no `AUTH`). Never logged.
    public var password: String? = nil
    /// Time allowed to establish the TCP connection. Default: 2 s.
    public var connectTimeout: Duration = .seconds(2)
    /// Socket send/receive timeout of each command or pipeline round trip; a timeout is an I/O
    /// error (the connection is dropped and re-established). Default: 10 s.
    public var ioTimeout: Duration = .seconds(10)
    /// Reconnect attempts after an I/O error (or a failed connect) before giving up with a
    /// retriable ``StreamKitError``. Default: 8.
    public var maxReconnectAttempts: Int = 8
    /// Delay before the first reconnect attempt; doubled after each failure. Default: 50 ms.
    public var reconnectBackoff: Duration = .milliseconds(50)
    /// Upper bound of the reconnect delay. Default: 2 s.
    public var maxReconnectBackoff: Duration = .seconds(2)
    /// `CLIENT SETNAME` sent after connecting (shows in `CLIENT LIST`). Default: `streamkit`.
    public var clientName: String? = "streamkit"
    /// Where connections log connects, reconnects, script loads and errors (never the password).
    /// Default: disabled.
    public var logger: Logger = .disabled

    /// Defaults: `127.0.0.1:6379`, database 0, no password.
    public init() {}

    /// Parses `redis://[[user]:password@]host[:port][/db]`. The password may be percent-encoded.
    public init(url: String) throws {
        var rest = Substring(url)
        guard rest.hasPrefix("redis://") else {
            throw StreamKitError(.configuration, "Redis URL must start with redis:// (got \(Self.redact(url)))")
        }
        rest = rest.dropFirst("redis://".count)
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                let user = userInfo[..<colon]
                if !user.isEmpty { username = Self.percentDecode(user) }
                password = Self.percentDecode(userInfo[userInfo.index(after: colon)...])
            } else if !userInfo.isEmpty {
                password = Self.percentDecode(userInfo)   // redis://password@host (legacy form)
            }
        }
        var hostPort = rest
        if let slash = rest.firstIndex(of: "/") {
            hostPort = rest[..<slash]
            let db = rest[rest.index(after: slash)...]
            if !db.isEmpty {
                guard let d = Int(db), d >= 0 else {
                    throw StreamKitError(.configuration, "Redis URL database must be a number (got \(Self.redact(url)))")
                }
                database = d
            }
        }
        if let colon = hostPort.lastIndex(of: ":") {
            guard let p = Int(hostPort[hostPort.index(after: colon)...]), p > 0, p < 65536 else {
                throw StreamKitError(.configuration, "Redis URL port must be 1–65535 (got \(Self.redact(url)))")
            }
            port = p
            hostPort = hostPort[..<colon]
        }
        if !hostPort.isEmpty { host = String(hostPort) }
    }

    /// `redis://host:port/db`, with the password shown as `***`.
    public var description: String {
        let auth = password == nil ? "" : "\(username ?? ""):***@"
        return "redis://\(auth)\(host):\(port)/\(database)"
    }

    static func redact(_ url: String) -> String {
        guard let at = url.lastIndex(of: "@"), url.hasPrefix("redis://") else { return url }
        return "redis://***" + url[at...]
    }

    static func percentDecode(_ s: Substring) -> String {
        guard s.contains("%") else { return String(s) }
        var out: [UInt8] = []
        var u = Array(s.utf8)[...]
        while let c = u.first {
            u = u.dropFirst()
            if c == UInt8(ascii: "%"), u.count >= 2, let v = UInt8(String(decoding: u.prefix(2), as: UTF8.self), radix: 16) {
                out.append(v); u = u.dropFirst(2)
            } else { out.append(c) }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
