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
        _ = try? Self.sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '\(slot)'")
        _ = try? Self.sql("SET client_min_messages = warning; DROP PUBLICATION IF EXISTS \(publication); DROP TABLE IF EXISTS \(table); DROP TABLE IF EXISTS \(changeLog) CASCADE; DROP FUNCTION IF EXISTS \(changeLog)_capture() CASCADE")
        if (try? Self.sql("SELECT 1 FROM pg_roles WHERE rolname = '\(role)'").rows.count) == 1 {
            _ = try? Self.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '\(role)'")
            _ = try? Self.sql("DROP OWNED BY \(role); DROP ROLE IF EXISTS \(role)")
        }
        try? FileManager.default.removeItem(atPath: stateFile)
        _ = try? KafkaAdmin(configuration: KafkaTestSupport.kafka).deleteTopics([topic, PostgresSchemaHistory.topic(prefix: prefix)])
    }
}
