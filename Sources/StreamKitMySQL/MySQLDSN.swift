public import StreamKitCapture

/// A MariaDB/MySQL connection URL: `mysql://user:password@host:port/database` (user and password
/// percent-decoded; port 3306 when missing; `mariadb://` accepted too).
public struct MySQLDSN: Sendable, Equatable {
    public var user: String
    public var password: String?
    public var host: String
    public var port: UInt32
    public var database: String

    public init(user: String, password: String?, host: String, port: UInt32, database: String) {
        self.user = user; self.password = password; self.host = host; self.port = port; self.database = database
    }

    /// Parses the URL; an error names what is wrong (never the password).
    public init(parsing url: String) throws {
        var rest = Substring(url)
        if rest.hasPrefix("mysql://") { rest = rest.dropFirst(8) } else if rest.hasPrefix("mariadb://") { rest = rest.dropFirst(10) } else {
            throw CaptureError(.configuration, "the DSN must start with mysql:// (mysql://user:password@host:port/database)")
        }
        let slash = rest.firstIndex(of: "/")
        let authority = slash.map { rest[..<$0] } ?? rest
        var db = slash.map { rest[rest.index(after: $0)...] } ?? ""
        if let q = db.firstIndex(of: "?") { db = db[..<q] }
        var hostPort = authority
        user = "root"; password = nil
        if let at = authority.lastIndex(of: "@") {
            let info = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            if let colon = info.firstIndex(of: ":") {
                user = Self.decode(info[..<colon]); password = Self.decode(info[info.index(after: colon)...])
            } else {
                user = Self.decode(info)
            }
        }
        if let colon = hostPort.lastIndex(of: ":") {
            guard let p = UInt32(hostPort[hostPort.index(after: colon)...]) else {
                throw CaptureError(.configuration, "the DSN's port is not a number (mysql://user:password@host:port/database)")
            }
            host = String(hostPort[..<colon]); port = p
        } else {
            host = String(hostPort); port = 3306
        }
        if host.isEmpty { host = "127.0.0.1" }
        database = Self.decode(db)
    }

    /// The URL with the password replaced by `***` (for logs and errors).
    public var redacted: String {
        "mysql://\(user)\(password == nil ? "" : ":***")@\(host):\(port)/\(database)"
    }

    static func decode(_ s: Substring) -> String {
        guard s.contains("%") else { return String(s) }
        var bytes: [UInt8] = []
        var i = s.utf8.startIndex
        let u = s.utf8
        while i < u.endIndex {
            let c = u[i]
            if c == UInt8(ascii: "%"), let h1 = u.index(i, offsetBy: 1, limitedBy: u.endIndex), h1 < u.endIndex,
               let h2 = u.index(i, offsetBy: 2, limitedBy: u.endIndex), h2 < u.endIndex,
               let v = UInt8(String(decoding: [u[h1], u[h2]], as: UTF8.self), radix: 16) {
                bytes.append(v); i = u.index(i, offsetBy: 3)
            } else {
                bytes.append(c); i = u.index(after: i)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
