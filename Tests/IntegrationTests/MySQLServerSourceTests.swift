import Foundation
import Testing
import StreamKit
import StreamKitKafka
import StreamKitMySQL

/// `cdc-features serve` with a `db_type: "mysql"` source: register → start (snapshot) → inserts
/// → status → kill -9 of the server → restart (the source resumes by itself) → every row once.
@Suite(.serialized, .enabled(if: MySQLTestSupport.runnable, "no MariaDB or Kafka reachable (scripts/services up)"))
struct MySQLServerSourceTests {
    @Test(.timeLimit(.minutes(15)))
    func mysqlSourceStreamsAndSurvivesKill9() async throws {
        let n = MySQLTestSupport.Names()
        let server = try ServerProcess()
        defer { server.cleanUp(); MySQLTestSupport.cleanUp(n) }
        let sql = try MySQLTestSupport.admin()
        try sql.execute("CREATE TABLE \(n.table)(id INT PRIMARY KEY, v INT)")
        try sql.execute("INSERT INTO \(n.table) SELECT seq, seq FROM seq_1_to_20")   // snapshot rows
        try await server.start()
        let created = try await server.request("POST", "/api/v1/sources", body: """
            {"db_type":"mysql","connection_string":"\(MySQLTestSupport.captureDSN)","tables":["app.\(n.table)"],"options":{"topic_prefix":"\(n.prefix)"}}
            """)
        #expect(created.status == 201, "\(created.text)")
        #expect(!(created.text.contains(":cdc@")), "the password is never returned: \(created.text)")
        let id = try #require(created.json?["source_id"] as? String)
        let started = try await server.request("POST", "/api/v1/sources/\(id)/start")
        #expect(started.status == 200, "\(started.text)")
        func status() async throws -> [String: Any] { try await server.get("/api/v1/sources/\(id)/status") }
        func ids() throws -> [Int] { try captureEvents(n.topic).compactMap { ($0.after?["id"] as? NSNumber)?.intValue } }
        try await poll("the source streams") { try await status()["status"] as? String == "RUNNING" }
        try sql.execute("INSERT INTO \(n.table) SELECT seq, seq FROM seq_21_to_100")
        try await poll("100 rows in the topic") { try ids().count >= 100 }
        let s1 = try await status()
        #expect((s1["changes_total"] as? NSNumber)?.intValue == 100, "\(s1)")
        #expect(s1["slot_lag_bytes"] is NSNull)

        server.kill9()
        for k in 0..<5 { try sql.execute("INSERT INTO \(n.table) SELECT seq, seq FROM seq_\(101 + k * 10)_to_\(110 + k * 10)") }
        try await server.start()
        try await poll("every committed row after the restart") { Set(try ids()).count == 150 }
        let published = try ids()
        #expect(Set(published) == Set(1...150))
        #expect(published.count - 150 <= 100, "at most what was not acknowledged before the kill is repeated (\(published.count - 150))")
        let stopped = try await server.request("POST", "/api/v1/sources/\(id)/stop")
        #expect(stopped.json?["status"] as? String == "STOPPED")
        let deleted = try await server.request("DELETE", "/api/v1/sources/\(id)")
        #expect(deleted.status == 204, "\(deleted.text)")
        #expect(server.terminate() == 0)
    }
}
