import Foundation
import Testing
import StreamKit
import StreamKitKafka
import StreamKitPostgres

/// `cdc-features serve` through HTTP against the real PostgreSQL, Tansu and Redis: register →
/// start → insert → status → kill -9 mid-stream → restart (the source resumes by itself) →
/// every committed row is in the topic → the status page in headless Chromium → stop → delete.
@Suite(.serialized, .enabled(if: KafkaTestSupport.reachable, "no Kafka broker reachable (scripts/services up)"))
struct ServerEndToEndTests {
    @Test(.timeLimit(.minutes(5)))
    func sourceSurvivesKill9AndDeliversEveryCommittedRow() async throws {
        let n = PostgresCaptureTests.Names()
        let server = try ServerProcess()
        var sourceID: String?
        defer {
            server.cleanUp()
            PostgresCaptureTests.cleanUp(n)
            _ = try? PostgresCaptureTests.sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'streamkit_\(sourceID?.dropFirst(4) ?? "none")'")
            _ = try? PostgresCaptureTests.sql("DROP PUBLICATION IF EXISTS streamkit_\(sourceID?.dropFirst(4) ?? "none")")
        }
        _ = try PostgresCaptureTests.sql("CREATE TABLE \(n.table)(id int PRIMARY KEY, v int)")
        _ = try PostgresCaptureTests.sql("INSERT INTO \(n.table) SELECT g, g FROM generate_series(1, 50) g")   // snapshot rows
        try await server.start()

        let dsn = Services.postgresDSN
        let created = try await server.request("POST", "/api/v1/sources", body: """
            {"db_type":"postgresql","connection_string":"\(dsn)","tables":["\(n.table)"],"options":{"topic_prefix":"\(n.prefix)"}}
            """)
        #expect(created.status == 201, "\(created.text)")
        let id = try #require(created.json?["source_id"] as? String)
        sourceID = id
        let started = try await server.request("POST", "/api/v1/sources/\(id)/start")
        #expect(started.status == 200, "\(started.text)")
        #expect(started.json?["status"] as? String == "STARTED")
        #expect((started.json?["checkpoint"] as? [String: Any])?["slot"] as? String == "streamkit_" + id.dropFirst(4))
        #expect(try await server.request("POST", "/api/v1/sources/\(id)/start").status == 409)

        func status() async throws -> [String: Any] { try await server.get("/api/v1/sources/\(id)/status") }
        func total(_ s: [String: Any]) -> Int { (s["changes_total"] as? NSNumber)?.intValue ?? -1 }

        // Snapshot (50 rows) then streamed inserts.
        try await poll("the source streams") { try await status()["status"] as? String == "RUNNING" }
        _ = try PostgresCaptureTests.sql("INSERT INTO \(n.table) SELECT g, g FROM generate_series(51, 250) g")
        try await poll("status counts 250 changes") { total(try await status()) >= 250 }
        let s1 = try await status()
        #expect(total(s1) == 250, "\(s1)")
        #expect(s1["errors_total"] as? Int == 0)
        #expect(s1["restarts"] as? Int == 0)
        #expect(s1["last_error"] is NSNull)
        #expect(s1["last_captured_timestamp"] is String)
        #expect((s1["slot_lag_bytes"] as? NSNumber).map { $0.int64Value >= 0 } ?? true)
        #expect((s1["lag_seconds"] as? NSNumber)?.doubleValue ?? -1 >= 0)

        // kill -9 while transactions commit; every committed row must arrive after the restart.
        let writer = Task.detached {
            for k in 0..<25 {
                let first = 251 + k * 10
                _ = try PostgresCaptureTests.sql("INSERT INTO \(n.table) SELECT g, g FROM generate_series(\(first), \(first + 9)) g")
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        try await Task.sleep(for: .milliseconds(150))
        server.kill9()
        try await writer.value
        let rows = 500
        try await server.start()
        // Resumed by itself (no start call): the registry said it was running.
        try await poll("the source resumes after kill -9") { try await status()["status"] as? String == "RUNNING" }
        let topic = "\(n.prefix).public.\(n.table)"
        var ids = Set<Int>()
        try await poll("every committed row is in \(topic)", timeout: .seconds(90)) {
            ids = Set(try captureEvents(topic).compactMap { ($0.after?["id"] as? NSNumber)?.intValue })
            return ids.count >= rows
        }
        #expect(ids == Set(1...rows), "missing: \(Set(1...rows).subtracting(ids).sorted().prefix(20))")

        // The status page in a real headless Chromium shows this source's numbers.
        let total2 = total(try await status())
        #expect(total2 > 0, "rows committed after the kill are captured by the resumed source")
        let dom = try StatusPageBrowser.dumpDOM(port: server.port, token: ServerProcess.readToken,
                                                screenshot: StatusPageBrowser.artifactDirectory + "/status-page.png")
        let row = try #require(StatusPageBrowser.row(of: id, in: dom), "no row for \(id) in the DOM:\n\(dom.prefix(3000))")
        #expect(row.contains("st-RUNNING"), "\(row)")
        let shown = StatusPageBrowser.cell("changes-total", in: row).flatMap { Int($0) }
        #expect(shown != nil && shown! >= total2, "changes shown \(shown as Any), status had \(total2)")
        #expect(row.contains("data-points"), "no sparkline: \(row)")

        let stopped = try await server.request("POST", "/api/v1/sources/\(id)/stop")
        #expect(stopped.json?["status"] as? String == "STOPPED")
        #expect(try await status()["status"] as? String == "STOPPED")
        let deleted = try await server.request("DELETE", "/api/v1/sources/\(id)?drop_slot=true")
        #expect(deleted.status == 204, "\(deleted.text)")
        #expect(try PostgresCaptureTests.sql("SELECT 1 FROM pg_replication_slots WHERE slot_name = 'streamkit_\(id.dropFirst(4))'").rows.isEmpty)
        #expect(server.terminate() == 0)
    }
}

extension ServerEndToEndTests {
    /// A source whose table does not exist yet fails at start-up: the supervisor restarts it with
    /// backoff (restarts and the redacted last error in its status) until the table appears, then
    /// it runs. /metrics (behind the token) carries its capture metrics.
    @Test(.timeLimit(.minutes(3)))
    func failingSourceRestartsWithBackoffUntilItCanRun() async throws {
        let n = PostgresCaptureTests.Names()
        let server = try ServerProcess()
        var sourceID: String?
        defer {
            server.cleanUp()
            PostgresCaptureTests.cleanUp(n)
            _ = try? PostgresCaptureTests.sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'streamkit_\(sourceID?.dropFirst(4) ?? "none")'")
            _ = try? PostgresCaptureTests.sql("DROP PUBLICATION IF EXISTS streamkit_\(sourceID?.dropFirst(4) ?? "none")")
        }
        try await server.start()
        let created = try await server.request("POST", "/api/v1/sources", body: """
            {"db_type":"postgresql","connection_string":"\(Services.postgresDSN)","tables":["\(n.table)"],"options":{"topic_prefix":"\(n.prefix)"}}
            """)
        let id = try #require(created.json?["source_id"] as? String)
        sourceID = id
        #expect(try await server.request("POST", "/api/v1/sources/\(id)/start").status == 200)
        func status() async throws -> [String: Any] { try await server.get("/api/v1/sources/\(id)/status") }
        try await poll("the failing source restarted twice") { (try await status()["restarts"] as? Int ?? 0) >= 2 }
        let failing = try await status()
        #expect(failing["status"] as? String != "RUNNING", "\(failing)")
        let lastError = try #require(failing["last_error"] as? String, "\(failing)")
        #expect(lastError.contains(n.table), "\(lastError)")
        #expect((failing["errors_total"] as? Int ?? 0) >= 2)

        _ = try PostgresCaptureTests.sql("CREATE TABLE \(n.table)(id int PRIMARY KEY, v int)")
        try await poll("the source runs once its table exists") { try await status()["status"] as? String == "RUNNING" }
        _ = try PostgresCaptureTests.sql("INSERT INTO \(n.table) SELECT g, g FROM generate_series(1, 20) g")
        try await poll("status counts the changes") { (try await status()["changes_total"] as? Int) == 20 }
        let restarts = try await status()["restarts"] as? Int ?? 0
        #expect(restarts >= 2)

        let metrics = try await server.request("GET", "/metrics", token: ServerProcess.readToken)
        #expect(metrics.status == 200)
        #expect(metrics.text.contains("streamkit_capture_changes_total"), "\(metrics.text.prefix(1500))")
        #expect(metrics.text.contains("source=\"\(n.prefix)\""))
        #expect(try await server.request("GET", "/metrics", token: nil).status == 401)
        #expect(server.terminate() == 0)
    }
}

/// Polls an async condition every 200 ms until it holds (or fails after `timeout`).
func poll(_ what: String, timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while true {
        if (try? await condition()) == true { return }
        if ContinuousClock.now > deadline { throw StreamKitError(.cancelled, "\(what): not within \(timeout)") }
        try await Task.sleep(for: .milliseconds(200))
    }
}
