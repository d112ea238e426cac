import Foundation
import StreamKit
import StreamKitCapture
import StreamKitPostgres
import StreamKitMySQL

/// A registered source as `POST /api/v1/sources` takes it (validated) and the registry stores
/// it: the connection string is kept (the capture needs it) but only ever shown redacted.
struct SourceSpec: Codable, Sendable, Equatable {
    struct Options: Codable, Sendable, Equatable {
        var slot: String?
        var publication: String?
        var topic_prefix: String?
        var snapshot: String?
        var exclude_columns: [String]?
        var mask_columns: [String]?
        var skip_ops: [String]?
    }

    var db_type: String
    var connection_string: String
    var tables: [String]?
    var options: Options?

    /// Checks every field (errors name it) and fills in the defaults derived from `id`: slot,
    /// publication and topic prefix.
    mutating func validate(id: String) throws {
        guard db_type == "postgresql" || db_type == "mysql" else { throw ServerError.invalid("db_type", "must be postgresql or mysql") }
        let dsn = connection_string.trimmingCharacters(in: .whitespaces)
        guard !dsn.isEmpty else { throw ServerError.invalid("connection_string", "must not be empty") }
        guard !dsn.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw ServerError.invalid("connection_string", "must not contain control characters")
        }
        if isMySQL {
            do { _ = try MySQLDSN(parsing: dsn) } catch {
                throw ServerError.invalid("connection_string", "must be a mysql://user:password@host:port/database URL")
            }
        } else {
            guard dsn.hasPrefix("postgresql://") || dsn.hasPrefix("postgres://") || dsn.contains("=") else {
                throw ServerError.invalid("connection_string", "must be a postgresql:// URL or libpq key=value string")
            }
        }
        if let tables {
            guard !tables.isEmpty else { throw ServerError.invalid("tables", "must list at least one table when given") }
            for t in tables where !Self.isQualifiedName(t, parts: 1...2) {
                throw ServerError.invalid("tables", "'\(t)' is not a table name (table or schema.table)")
            }
        }
        var o = options ?? Options()
        let suffix = id.replacingOccurrences(of: "src_", with: "")
        if o.slot == nil { o.slot = "streamkit_\(suffix)" }
        if o.publication == nil { o.publication = "streamkit_\(suffix)" }
        if o.topic_prefix == nil { o.topic_prefix = "src\(suffix)" }
        for (field, value) in [("options.slot", o.slot!), ("options.publication", o.publication!)] {
            guard value.count <= 63, !value.isEmpty, value.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }) else {
                throw ServerError.invalid(field, "must be 1–63 characters of a–z, 0–9 and _")
            }
        }
        guard let prefix = o.topic_prefix, !prefix.isEmpty, prefix.count <= 200,
              prefix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == ".") }) else {
            throw ServerError.invalid("options.topic_prefix", "must be 1–200 characters of letters, digits, '.', '_' and '-'")
        }
        if let s = o.snapshot, PostgresSnapshotMode(rawValue: s) == nil {
            throw ServerError.invalid("options.snapshot", "must be initial or never")
        }
        for (field, columns) in [("options.exclude_columns", o.exclude_columns), ("options.mask_columns", o.mask_columns)] {
            for c in columns ?? [] where !Self.isQualifiedName(c, parts: 2...3) {
                throw ServerError.invalid(field, "'\(c)' is not table.column or schema.table.column")
            }
        }
        for op in o.skip_ops ?? [] where !["c", "u", "d", "t"].contains(op) {
            throw ServerError.invalid("options.skip_ops", "unknown operation '\(op)' (use c, u, d, t)")
        }
        options = o
        connection_string = dsn
    }

    static func isQualifiedName(_ s: String, parts: ClosedRange<Int>) -> Bool {
        let p = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.contains(p.count) && p.allSatisfy { !$0.isEmpty && $0.count <= 63 && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") } }
    }

    var isMySQL: Bool { db_type == "mysql" }

    /// The capture's state file in `stateDirectory`.
    func stateFile(stateDirectory: String) -> String {
        isMySQL ? mysqlConfiguration(stateDirectory: stateDirectory).stateFile : captureConfiguration(stateDirectory: stateDirectory).stateFile
    }

    /// A MySQL source's capture configuration (the replica server id is derived from the slot
    /// name, so it is stable across restarts and differs between sources).
    func mysqlConfiguration(stateDirectory: String) -> MySQLCaptureConfiguration {
        let o = options ?? Options()
        let slot = o.slot ?? "streamkit"
        let dsn = (try? MySQLDSN(parsing: connection_string)) ?? MySQLDSN(user: "", password: nil, host: "", port: 3306, database: "")
        var c = MySQLCaptureConfiguration(dsn: dsn, topicPrefix: o.topic_prefix ?? slot, stateFile: stateDirectory + "/\(slot).state.json")
        c.serverID = 100_000 + UInt32(slot.utf8.reduce(UInt32(2_166_136_261)) { ($0 ^ UInt32($1)) &* 16_777_619 } % 4_000_000)
        c.tables = tables
        c.snapshot = o.snapshot.flatMap(MySQLSnapshotMode.init(rawValue:)) ?? .initial
        c.excludedColumns = o.exclude_columns ?? []
        c.maskedColumns = o.mask_columns ?? []
        c.skippedOperations = Set(o.skip_ops ?? [])
        return c
    }

    /// The capture's configuration; its position lives in `stateDirectory`.
    func captureConfiguration(stateDirectory: String) -> PostgresCaptureConfiguration {
        let o = options ?? Options()
        let slot = o.slot ?? "streamkit"
        var c = PostgresCaptureConfiguration(dsn: connection_string, slot: slot, publication: o.publication ?? slot,
                                             topicPrefix: o.topic_prefix ?? slot, stateFile: stateDirectory + "/\(slot).state.json")
        c.tables = tables
        c.snapshot = o.snapshot.flatMap(PostgresSnapshotMode.init(rawValue:)) ?? .initial
        c.excludedColumns = o.exclude_columns ?? []
        c.maskedColumns = o.mask_columns ?? []
        c.skippedOperations = Set(o.skip_ops ?? [])
        return c
    }

    var redactedConnectionString: String { LogRedaction.connectionString(connection_string) }
}
