import Foundation
import StreamKit

/// Addresses of the local services started by `scripts/services up` (overridable by environment).
enum Services {
    static var kafkaBrokers: String { ProcessInfo.processInfo.environment["KAFKA_BROKERS"] ?? "127.0.0.1:19092" }
    static var redisURL: String { ProcessInfo.processInfo.environment["REDIS_URL"] ?? "redis://127.0.0.1:16379" }
    static var postgresDSN: String { ProcessInfo.processInfo.environment["PG_DSN"] ?? "postgresql://postgres@127.0.0.1:15432/app" }

    /// Under CI (`CI=true`) every service is required: suites that need one run, and fail when it
    /// is down, instead of being skipped.
    static var requiredByCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// `host:port` of the first Kafka broker, Redis and PostgreSQL.
    static var kafkaAddress: String { kafkaBrokers.split(separator: ",").first.map(String.init) ?? "" }
    static var redisAddress: String { address(inURL: redisURL, defaultPort: 6379) }
    static var postgresAddress: String { address(inURL: postgresDSN, defaultPort: 5432) }

    /// `host:port` of a `scheme://[user[:password]@]host[:port][/…]` URL.
    static func address(inURL url: String, defaultPort: Int) -> String {
        var rest = Substring(url)
        if let r = rest.range(of: "://") { rest = rest[r.upperBound...] }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        return rest.contains(":") ? String(rest) : "\(rest):\(defaultPort)"
    }

    /// Whether a TCP connection to `host:port` (IPv4 literal or `localhost`) succeeds.
    static func tcpReachable(_ address: String) -> Bool {
        let parts = address.split(separator: ":")
        guard parts.count == 2, let port = UInt16(parts[1]) else { return false }
        let host = parts[0] == "localhost" ? "127.0.0.1" : String(parts[0])
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { return false }
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
