import Foundation
import Testing
import StreamKit
import StreamKitKafka
import StreamKitPostgres

/// `cdc-features serve` through HTTP against the real PostgreSQL, Tansu and Redis: register →
/// start → insert → status → kill -9 mid-stream → restart (the source resumes by itself) →
/// every committed row is in the topic → the status page in headless Chromium → stop → delete.
@Suite(.serialized, .enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up)"))
struct ServerEndToEndTests {
    @Test(.timeLimit(.minutes(15)))
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
        // A subscription that must survive the kill -9 too (resumed from its checkpoint).
        let consumer = try await server.request("POST", "/api/v1/consumers", body: #"{"source_id":"\#(id)","row_filter":"after.v >= 100"}"#)
        #expect(consumer.status == 201, "\(consumer.text)")
        let consumerTopic = try #require(consumer.json?["kafka_topic"] as? String)
        defer { _ = try? KafkaAdmin(configuration: KafkaTestSupport.kafka).deleteTopics([consumerTopic]) }
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
        try await poll("every committed row is in \(topic)", timeout: .seconds(180)) {
            ids = Set(try captureEvents(topic).compactMap { ($0.after?["id"] as? NSNumber)?.intValue })
            return ids.count >= rows
        }
        #expect(ids == Set(1...rows), "missing: \(Set(1...rows).subtracting(ids).sorted().prefix(20))")
        // The subscription resumed by itself and holds every selected row (at least once).
        var selected = Set<Int>()
        try await poll("the consumer topic holds rows 100...\(rows) after kill -9", timeout: .seconds(180)) {
            selected = Set(try captureEvents(consumerTopic).compactMap { ($0.after?["id"] as? NSNumber)?.intValue })
            return selected.count >= rows - 99
        }
        #expect(selected == Set(100...rows), "missing: \(Set(100...rows).subtracting(selected).sorted().prefix(20)), extra: \(selected.subtracting(100...rows).sorted().prefix(20))")
        let consumers = try await server.get("/api/v1/consumers")["consumers"] as? [[String: Any]]
        #expect(consumers?.first?["status"] as? String == "RUNNING", "\(consumers ?? [])")

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
        // The subscription's row: running, with the records it has written.
        let consumerID = try #require(consumers?.first?["consumer_id"] as? String)
        let consumerRow = try #require(StatusPageBrowser.row(of: consumerID, in: dom, kind: "consumer"), "no row for \(consumerID):\n\(dom.prefix(3000))")
        #expect(consumerRow.contains("st-RUNNING") && consumerRow.contains(consumerTopic), "\(consumerRow)")
        // (Records written since this server run resumed it: the rows after the kill and the repeats.)
        #expect((StatusPageBrowser.cell("records-total", in: consumerRow).flatMap { Int($0) } ?? 0) > 0, "\(consumerRow)")

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
    @Test(.timeLimit(.minutes(15)))
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
        // The API's own request metrics (Hummingbird's middleware under StreamKit's names): the
        // status route answered, with its latency histogram; promtool-clean with help texts.
        let statusSeries = try #require(metrics.text.split(separator: "\n").first {
            $0.hasPrefix("streamkit_http_requests_total{") && $0.contains("/status") && $0.contains("http_response_status_code=\"200\"")
        }, "no request counter for the status route:\n\(metrics.text.prefix(3000))")
        #expect((Double(statusSeries.split(separator: " ").last ?? "") ?? 0) >= 3, "\(statusSeries)")
        #expect(metrics.text.contains("streamkit_http_request_duration_seconds_bucket{"), "\(metrics.text.prefix(3000))")
        if Promtool.runnable {
            let check = try Promtool.checkMetrics(metrics.text)
            #expect(check.status == 0 && check.output.isEmpty, "promtool: \(check.output)")
        }
        #expect(try await server.request("GET", "/metrics", token: nil).status == 401)
        #expect(server.terminate() == 0)
    }
}

extension ServerEndToEndTests {
    /// A consumer keeps a derived topic with exactly the changes its filters select: operations,
    /// a row filter over `after`, and only the projected columns.
    @Test(.timeLimit(.minutes(15)))
    func consumerTopicHoldsExactlyTheFilteredChanges() async throws {
        let n = PostgresCaptureTests.Names()
        let server = try ServerProcess()
        var sourceID: String?
        var outputTopic: String?
        defer {
            server.cleanUp()
            PostgresCaptureTests.cleanUp(n)
            _ = try? PostgresCaptureTests.sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'streamkit_\(sourceID?.dropFirst(4) ?? "none")'")
            _ = try? PostgresCaptureTests.sql("DROP PUBLICATION IF EXISTS streamkit_\(sourceID?.dropFirst(4) ?? "none")")
            if let outputTopic { _ = try? KafkaAdmin(configuration: KafkaTestSupport.kafka).deleteTopics([outputTopic]) }
        }
        _ = try PostgresCaptureTests.sql("CREATE TABLE \(n.table)(id int PRIMARY KEY, v int, note text, secret text)")
        try await server.start()
        let created = try await server.request("POST", "/api/v1/sources", body: """
            {"db_type":"postgresql","connection_string":"\(Services.postgresDSN)","tables":["\(n.table)"],"options":{"topic_prefix":"\(n.prefix)"}}
            """)
        let id = try #require(created.json?["source_id"] as? String)
        sourceID = id
        #expect(try await server.request("POST", "/api/v1/sources/\(id)/start").status == 200)
        try await poll("the source streams") { try await server.get("/api/v1/sources/\(id)/status")["status"] as? String == "RUNNING" }

        let bad = try await server.request("POST", "/api/v1/consumers", body: #"{"source_id":"\#(id)","row_filter":"after.v >"}"#)
        #expect(bad.status == 400 && bad.text.contains("row_filter"), "\(bad.text)")
        let unknown = try await server.request("POST", "/api/v1/consumers", body: #"{"source_id":"src_nope"}"#)
        #expect(unknown.status == 400 && unknown.text.contains("source_id"), "\(unknown.text)")

        let consumer = try await server.request("POST", "/api/v1/consumers", body: """
            {"source_id":"\(id)","operation_filter":["c","u"],"column_filter":["id","v"],"row_filter":"after.v >= 10 and after.note != 'skip'"}
            """)
        #expect(consumer.status == 201, "\(consumer.text)")
        let consumerID = try #require(consumer.json?["consumer_id"] as? String)
        let topic = try #require(consumer.json?["kafka_topic"] as? String)
        outputTopic = topic

        _ = try PostgresCaptureTests.sql("INSERT INTO \(n.table) SELECT g, g, CASE WHEN g % 5 = 0 THEN 'skip' ELSE 'ok' END, 's' FROM generate_series(1, 30) g")
        _ = try PostgresCaptureTests.sql("UPDATE \(n.table) SET v = v + 100 WHERE id <= 15")
        _ = try PostgresCaptureTests.sql("DELETE FROM \(n.table) WHERE id BETWEEN 20 AND 25")
        var expected = Set<String>()
        for i in 10...30 where i % 5 != 0 { expected.insert("c\(i)") }
        for i in 1...15 where i % 5 != 0 { expected.insert("u\(i)") }

        var seen: [CaptureEvent] = []
        try await poll("the consumer topic holds the selected changes", timeout: .seconds(180)) {
            seen = (try? captureEvents(topic)) ?? []
            return seen.count >= expected.count
        }
        let labels = seen.map { "\($0.op ?? "?")\(($0.after?["id"] as? NSNumber)?.intValue ?? -1)" }
        #expect(Set(labels) == expected, "extra: \(Set(labels).subtracting(expected).sorted()), missing: \(expected.subtracting(labels).sorted())")
        #expect(labels.count == expected.count, "duplicates: \(labels.count) events for \(expected.count) changes")
        #expect(seen.allSatisfy { ($0.after?.keys.sorted() ?? []) == ["id", "v"] }, "not projected: \(seen.first?.after ?? [:])")
        #expect(seen.allSatisfy { $0.source?["table"] as? String == n.table })
        // Keyed by the source's key (the primary key), so per-row order and partitioning hold.
        #expect(seen.allSatisfy { ($0.key?["id"] as? NSNumber)?.intValue == ($0.after?["id"] as? NSNumber)?.intValue }, "keys: \(seen.prefix(3).map { $0.key ?? [:] })")

        let list = try await server.get("/api/v1/consumers")
        let views = try #require(list["consumers"] as? [[String: Any]])
        #expect(views.first?["consumer_id"] as? String == consumerID)
        #expect(views.first?["status"] as? String == "RUNNING")
        #expect(try await server.request("DELETE", "/api/v1/consumers/\(consumerID)").status == 204)
        #expect((try await server.get("/api/v1/consumers")["consumers"] as? [Any])?.isEmpty == true)
        #expect(server.terminate() == 0)
    }
}

extension ServerEndToEndTests {
    /// A replay of a time range re-publishes exactly the source's changes committed in it.
    @Test(.timeLimit(.minutes(15)))
    func replayOfATimeRangeHoldsExactlyThatRange() async throws {
        let n = PostgresCaptureTests.Names()
        let server = try ServerProcess()
        var sourceID: String?
        var outputTopic: String?
        defer {
            server.cleanUp()
            PostgresCaptureTests.cleanUp(n)
            _ = try? PostgresCaptureTests.sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'streamkit_\(sourceID?.dropFirst(4) ?? "none")'")
            _ = try? PostgresCaptureTests.sql("DROP PUBLICATION IF EXISTS streamkit_\(sourceID?.dropFirst(4) ?? "none")")
            if let outputTopic { _ = try? KafkaAdmin(configuration: KafkaTestSupport.kafka).deleteTopics([outputTopic]) }
        }
        _ = try PostgresCaptureTests.sql("CREATE TABLE \(n.table)(id int PRIMARY KEY, v int)")
        try await server.start()
        let created = try await server.request("POST", "/api/v1/sources", body: """
            {"db_type":"postgresql","connection_string":"\(Services.postgresDSN)","tables":["\(n.table)"],"options":{"topic_prefix":"\(n.prefix)","snapshot":"never"}}
            """)
        let id = try #require(created.json?["source_id"] as? String)
        sourceID = id
        #expect(try await server.request("POST", "/api/v1/sources/\(id)/start").status == 200)
        try await poll("the source streams") { try await server.get("/api/v1/sources/\(id)/status")["status"] as? String == "RUNNING" }

        // Three batches committed at separate times (PostgreSQL's clock, which stamps source.ts_ms).
        func clock() throws -> Int64 { Int64(try PostgresCaptureTests.sql("SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint").rows[0][0] ?? "") ?? 0 }
        func pause() async throws { let t = try clock(); try await waitUntil(timeout: .seconds(120), every: .milliseconds(50)) { try clock() > t + 300 } }
        _ = try PostgresCaptureTests.sql("INSERT INTO \(n.table) SELECT g, g FROM generate_series(1, 10) g")
        try await pause()
        let t1 = try clock()
        try await pause()
        _ = try PostgresCaptureTests.sql("INSERT INTO \(n.table) SELECT g, g FROM generate_series(11, 20) g")
        try await pause()
        let t2 = try clock()
        try await pause()
        _ = try PostgresCaptureTests.sql("INSERT INTO \(n.table) SELECT g, g FROM generate_series(21, 30) g")
        try await poll("all 30 changes captured") { (try await server.get("/api/v1/sources/\(id)/status")["changes_total"] as? Int) == 30 }

        func iso(_ ms: Int64) -> String {
            let f = ISO8601DateFormatter(); f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
        }
        let bad = try await server.request("POST", "/api/v1/sources/\(id)/replay", body: #"{"start_timestamp":"yesterday"}"#)
        #expect(bad.status == 400 && bad.text.contains("start_timestamp"), "\(bad.text)")
        let replay = try await server.request("POST", "/api/v1/sources/\(id)/replay",
                                              body: #"{"start_timestamp":"\#(iso(t1))","end_timestamp":"\#(iso(t2))"}"#)
        #expect(replay.status == 202, "\(replay.text)")
        let replayID = try #require(replay.json?["replay_id"] as? String)
        let topic = try #require(replay.json?["kafka_topic"] as? String)
        outputTopic = topic
        try await poll("the replay is done", timeout: .seconds(180)) { try await server.get("/api/v1/replays/\(replayID)")["done"] as? Bool == true }
        let status = try await server.get("/api/v1/replays/\(replayID)")
        #expect(status["status"] as? String == "FINISHED", "\(status)")
        let events = try captureEvents(topic)
        let ids = events.compactMap { ($0.after?["id"] as? NSNumber)?.intValue }
        #expect(ids.sorted() == Array(11...20), "\(ids.sorted())")
        #expect(events.allSatisfy { $0.op == "c" })
        #expect(events.allSatisfy { ($0.key?["id"] as? NSNumber)?.intValue == ($0.after?["id"] as? NSNumber)?.intValue }, "replayed records keep their keys")
        #expect(try await server.request("GET", "/api/v1/replays/rep_nope").status == 404)
        #expect(server.terminate() == 0)
    }
}

/// Polls an async condition every `interval` (200 ms) until it holds (or fails after `timeout`).
func poll(_ what: String, timeout: Duration = .seconds(180), every interval: Duration = .milliseconds(200),
          _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while true {
        if (try? await condition()) == true { return }
        if ContinuousClock.now > deadline { throw StreamKitError(.cancelled, "\(what): not within \(timeout)") }
        try await Task.sleep(for: interval)
    }
}

extension ServerEndToEndTests {
    /// A replay survives kill -9 of the server: the restarted server resumes it (from its last
    /// checkpoint, 200 ms apart here) and the topic ends up with every change of the range — at
    /// least once, nothing outside it. Without `end_timestamp` the range ends at the request, so
    /// changes committed after it (and after the restart) stay out.
    @Test(.timeLimit(.minutes(15)))
    func replayResumesAfterKill9WithEveryChangeOfItsRange() async throws {
        let n = PostgresCaptureTests.Names()
        let server = try ServerProcess(extraArguments: ["--checkpoint-interval", "200ms"])
        var sourceID: String?
        var outputTopic: String?
        defer {
            server.cleanUp()
            PostgresCaptureTests.cleanUp(n)
            _ = try? PostgresCaptureTests.sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'streamkit_\(sourceID?.dropFirst(4) ?? "none")'")
            _ = try? PostgresCaptureTests.sql("DROP PUBLICATION IF EXISTS streamkit_\(sourceID?.dropFirst(4) ?? "none")")
            if let outputTopic { _ = try? KafkaAdmin(configuration: KafkaTestSupport.kafka).deleteTopics([outputTopic]) }
        }
        _ = try PostgresCaptureTests.sql("CREATE TABLE \(n.table)(id int PRIMARY KEY, v int)")
        try await server.start()
        let created = try await server.request("POST", "/api/v1/sources", body: """
            {"db_type":"postgresql","connection_string":"\(Services.postgresDSN)","tables":["\(n.table)"],"options":{"topic_prefix":"\(n.prefix)","snapshot":"never"}}
            """)
        let id = try #require(created.json?["source_id"] as? String)
        sourceID = id
        #expect(try await server.request("POST", "/api/v1/sources/\(id)/start").status == 200)
        func status() async throws -> [String: Any] { try await server.get("/api/v1/sources/\(id)/status") }
        try await poll("the source streams") { try await status()["status"] as? String == "RUNNING" }
        let rows = 60_000
        for k in 0..<6 {
            _ = try PostgresCaptureTests.sql("INSERT INTO \(n.table) SELECT g, g FROM generate_series(\(k * 10_000 + 1), \((k + 1) * 10_000)) g")
        }
        try await poll("all \(rows) changes captured", timeout: .seconds(180)) { (try await status()["changes_total"] as? Int) == rows }
        // No end_timestamp: the range ends at the request, so the row inserted after it stays out.
        let replay = try await server.request("POST", "/api/v1/sources/\(id)/replay", body: #"{"start_timestamp":"2020-01-01T00:00:00Z"}"#)
        #expect(replay.status == 202, "\(replay.text)")
        let replayID = try #require(replay.json?["replay_id"] as? String)
        let topic = try #require(replay.json?["kafka_topic"] as? String)
        outputTopic = topic
        _ = try PostgresCaptureTests.sql("INSERT INTO \(n.table) VALUES (\(rows + 1), 0)")

        // Kill as soon as the replay has read something (it may already be done on a fast machine:
        // then the restart must not lose or add anything either).
        var readAtKill = 0
        try await poll("the replay reads", every: .milliseconds(10)) {
            let s = try? await server.get("/api/v1/replays/\(replayID)")
            readAtKill = (s?["records_read"] as? Int) ?? 0
            return readAtKill > 0 || s?["done"] as? Bool == true
        }
        server.kill9()
        try await server.start()
        try await poll("the resumed replay is done", timeout: .seconds(180)) { try await server.get("/api/v1/replays/\(replayID)")["done"] as? Bool == true }
        let final = try await server.get("/api/v1/replays/\(replayID)")
        #expect(final["status"] as? String == "FINISHED", "\(final)")
        #expect(final["end_timestamp"] is String, "the effective end is reported: \(final)")
        let ids = try captureEvents(topic).compactMap { ($0.after?["id"] as? NSNumber)?.intValue }
        #expect(Set(ids) == Set(1...rows), "missing \(Set(1...rows).subtracting(ids).count), extra \(Set(ids).subtracting(1...rows).sorted().prefix(5)) (read \(readAtKill) before the kill)")
        #expect(ids.count >= rows)
        #expect(server.terminate() == 0)
    }
}
