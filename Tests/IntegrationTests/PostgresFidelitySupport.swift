import Foundation
import StreamKit
import StreamKitKafka
import StreamKitCapture
import StreamKitPostgres

/// Names, roles and clean-up of the capture-fidelity tests (issue 12). Every object is unique per
/// test and dropped afterwards; the shared server's own settings are never changed.
struct FidelityNames {
    let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
    var table: String { "fid_\(suffix)" }
    var slot: String { "fid_slot_\(suffix)" }
    var publication: String { "fid_pub_\(suffix)" }
    var prefix: String { "fid\(suffix)" }
    var role: String { "fid_role_\(suffix)" }
    var changeLog: String { "fid_log_\(suffix)" }
    var topic: String { "\(prefix).public.\(table)" }
    var stateFile: String { NSTemporaryDirectory() + "fidelity-\(suffix).json" }

    /// Under CI a missing broker fails the tests instead of skipping them.
    static var runnable: Bool { KafkaTestSupport.reachable || ProcessInfo.processInfo.environment["CI"] == "true" }

    @discardableResult
    static func sql(_ s: String, _ parameters: [String?]? = nil) throws -> PostgresRows {
        let c = try PostgresConnection(dsn: Services.postgresDSN)
        return try parameters.map { try c.execute(s, $0) } ?? c.execute(s)
    }

    /// The shared DSN with `user` instead of its user (the services trust local connections).
    static func dsn(user: String) -> String {
        let dsn = Services.postgresDSN
        guard let scheme = dsn.range(of: "://") else { return dsn + " user=\(user)" }
        let rest = dsn[scheme.upperBound...]
        let hostPart = rest.firstIndex(of: "@").map { rest[rest.index(after: $0)...] } ?? rest
        return String(dsn[..<scheme.upperBound]) + user + "@" + hostPart
    }

    func configuration(snapshot: PostgresSnapshotMode = .initial, dsn: String = Services.postgresDSN) -> PostgresCaptureConfiguration {
        var c = PostgresCaptureConfiguration(dsn: dsn, slot: slot, publication: publication, topicPrefix: prefix, stateFile: stateFile)
        c.tables = [table]
        c.snapshot = snapshot
        c.signalTable = nil
        c.confirmInterval = .milliseconds(50)
        return c
    }

    func cleanUp() {
        // The capture's walsender may still be exiting: wait (bounded) until the slot is free, then drop it.
        for _ in 0..<100 {
            let left = (try? Self.sql("""
                SELECT CASE WHEN active THEN 'busy' ELSE pg_drop_replication_slot(slot_name)::text END FROM pg_replication_slots WHERE slot_name = '\(slot)'
                """).rows.count) ?? 0
            if left == 0 { break }
            usleep(100_000)
        }
        _ = try? Self.sql("SET client_min_messages = warning; DROP PUBLICATION IF EXISTS \(publication); DROP TABLE IF EXISTS \(table); DROP TABLE IF EXISTS \(changeLog) CASCADE; DROP FUNCTION IF EXISTS \(changeLog)_capture() CASCADE")
        if (try? Self.sql("SELECT 1 FROM pg_roles WHERE rolname = '\(role)'").rows.count) == 1 {
            _ = try? Self.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '\(role)'")
            _ = try? Self.sql("DROP OWNED BY \(role); DROP ROLE IF EXISTS \(role)")
        }
        try? FileManager.default.removeItem(atPath: stateFile)
        _ = try? KafkaAdmin(configuration: KafkaTestSupport.kafka).deleteTopics([topic, PostgresSchemaHistory.topic(prefix: prefix)])
    }
}

/// The README's value rules, decoded the way a consumer would (independently of the capture's
/// code), into what PostgreSQL prints for the original value in a pinned session.
enum FidelityDecode {
    /// The top-level fields of an envelope's `after` object as raw JSON tokens (strings still
    /// quoted): numbers keep their exact text (`-0`, all digits).
    static func afterTokens(_ value: [UInt8]) -> [String: String] {
        let s = Array(value)
        let marker = Array(#""after":{"#.utf8)
        guard var i = (0...(s.count - marker.count)).first(where: { Array(s[$0..<$0 + marker.count]) == marker }).map({ $0 + marker.count }) else { return [:] }
        var out: [String: String] = [:]
        func string() -> String {
            let start = i
            i += 1
            while s[i] != UInt8(ascii: "\"") { if s[i] == UInt8(ascii: "\\") { i += 1 }; i += 1 }
            i += 1
            return String(decoding: s[start..<i], as: UTF8.self)
        }
        while i < s.count, s[i] != UInt8(ascii: "}") {
            if s[i] == UInt8(ascii: ",") { i += 1 }
            let key = string().dropFirst().dropLast()
            i += 1   // ':'
            let token: String
            if s[i] == UInt8(ascii: "\"") { token = string() } else {
                let start = i
                while s[i] != UInt8(ascii: ","), s[i] != UInt8(ascii: "}") { i += 1 }
                token = String(decoding: s[start..<i], as: UTF8.self)
            }
            out[String(key)] = token
        }
        return out
    }

    /// A JSON string token's text, by RFC 8259's escapes (decoded here, scalar by scalar).
    static func unquoted(_ token: String) -> String? {
        let u = Array(token.unicodeScalars)
        guard u.count >= 2, u.first == "\"", u.last == "\"" else { return nil }
        var out = String.UnicodeScalarView()
        var i = 1
        func hex4() -> UInt32? {
            guard i + 4 <= u.count - 1, let v = UInt32(String(String.UnicodeScalarView(u[i..<i + 4])), radix: 16) else { return nil }
            i += 4
            return v
        }
        while i < u.count - 1 {
            let c = u[i]; i += 1
            guard c == "\\" else { out.append(c); continue }
            let e = u[i]; i += 1
            switch e {
            case "\"", "\\", "/": out.append(e)
            case "b": out.append("\u{8}")
            case "f": out.append("\u{C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "u":
                guard var v = hex4() else { return nil }
                if (0xD800..<0xDC00).contains(v), u[i] == "\\", u[i + 1] == "u" {
                    i += 2
                    guard let lo = hex4() else { return nil }
                    v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(v) else { return nil }
                out.append(scalar)
            default: return nil
            }
        }
        return String(out)
    }

    /// timestamptz: `[±]Y...Y-MM-DDTHH:MM:SS.ffffffZ` (astronomical years) → PostgreSQL's
    /// `DateStyle ISO`, `TimeZone UTC` text (`0044-03-15 12:00:00+00 BC`); `infinity` stays.
    static func timestamptzText(_ iso: String) -> String? {
        if iso == "infinity" || iso == "-infinity" { return iso }
        var s = Substring(iso)
        var sign: Int64 = 1
        if s.first == "-" { sign = -1; s = s.dropFirst() } else if s.first == "+" { s = s.dropFirst() }
        guard let dash = s.firstIndex(of: "-"), let year = Int64(s[..<dash]), s.hasSuffix("Z") else { return nil }
        let rest = s[s.index(after: dash)...].dropLast()   // MM-DDTHH:MM:SS.ffffff
        guard rest.count == 21 else { return nil }
        let astronomical = sign * year
        let bc = astronomical <= 0
        var y = String(bc ? 1 - astronomical : astronomical)
        while y.count < 4 { y = "0" + y }
        let date = rest.prefix(5), time = rest.dropFirst(6).prefix(8)
        var frac = String(rest.suffix(6))
        while frac.hasSuffix("0") { frac.removeLast() }
        return "\(y)-\(date) \(time)\(frac.isEmpty ? "" : "." + frac)+00\(bc ? " BC" : "")"
    }
}

/// A seeded generator (the runtime's SplitMix64): the property tests are deterministic.
struct FidelityRandom {
    var generator: SplitMix64
    init(seed: UInt64) { generator = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { generator.next() }
    mutating func int(_ range: ClosedRange<Int64>) -> Int64 {
        range.lowerBound &+ Int64(bitPattern: next() % UInt64(bitPattern: range.upperBound &- range.lowerBound &+ 1))
    }
    mutating func chance(_ percent: UInt64) -> Bool { next() % 100 < percent }
    mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
}
