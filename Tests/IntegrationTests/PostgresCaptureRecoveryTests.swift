import Foundation
import Synchronization
import Testing
import StreamKit
import StreamKitTesting
import StreamKitKafka
import StreamKitPostgres

/// The capture survives losing PostgreSQL: a crash and restart of the server, and a replication
/// connection killed in the middle of a large transaction. Nothing is lost and nothing is
/// published twice.
@Suite(.serialized, .enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up)"))
struct PostgresCaptureRecoveryTests {
    typealias Names = PostgresCaptureTests.Names
    typealias Running = CaptureRun<PostgresCapture>

    /// A PostgreSQL 15 of its own (scripts/services with another instance directory and port), so
    /// that crashing it does not disturb the suites that share the main one.
    struct PrivatePostgres {
        let instance: String
        let port: Int
        var dsn: String { "postgresql://postgres@127.0.0.1:\(port)/app" }

        init() throws {
            instance = "pg-test-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
            var p = 0
            for _ in 0..<50 {
                let candidate = Int.random(in: 20_000...29_999)
                if !Self.portOpen(candidate) { p = candidate; break }
            }
            port = p
            try services("up", "postgres")
        }

        static var root: URL {
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        }

        static func portOpen(_ port: Int) -> Bool { (try? PostgresConnection(dsn: "postgresql://postgres@127.0.0.1:\(port)/postgres?connect_timeout=1")) != nil }

        func services(_ arguments: String...) throws {
            // The script leaves a daemon running: DaemonScript waits for the script alone.
            var env = ProcessInfo.processInfo.environment
            env["STREAMKIT_PG_INSTANCE"] = instance
            env["PG_PORT"] = String(port)
            try DaemonScript.run(Self.root.appendingPathComponent("scripts/services").path, arguments, environment: env)
        }

        func remove() {
            try? services("down", "postgres")
            try? FileManager.default.removeItem(at: Self.root.appendingPathComponent(".services/\(instance)"))
        }
    }

    static func configuration(_ n: Names, dsn: String) -> PostgresCaptureConfiguration {
        var c = PostgresCaptureConfiguration(dsn: dsn, slot: n.slot, publication: n.publication, topicPrefix: n.prefix, stateFile: n.stateFile)
        c.tables = [n.table]
        c.snapshot = .never
        c.confirmInterval = .milliseconds(50)
        return c
    }

    static func cleanUp(_ n: Names) {
        try? FileManager.default.removeItem(atPath: n.stateFile)
        _ = try? KafkaAdmin(configuration: KafkaTestSupport.kafka).deleteTopics([n.topic, PostgresSchemaHistory.topic(prefix: n.prefix)])
    }

    static func confirmedFlush(_ dsn: String, _ slot: String) throws -> UInt64 {
        let text = try PostgresConnection(dsn: dsn).execute("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", [slot]).rows.first?.first ?? nil
        return PgOutput.parseLSN(text ?? "") ?? 0
    }

    /// The known trap: after a crash the slot's confirmed LSN goes back (it is persisted only at
    /// checkpoints) and PostgreSQL would re-deliver confirmed transactions. The capture restarts
    /// from its own position, so every committed row is published exactly once.
    @Test(.timeLimit(.minutes(15)))
    func postgresCrashAndRestartLosesAndDuplicatesNothing() async throws {
        let pg = try PrivatePostgres()
        defer { pg.remove() }
        let n = Names()
        defer { Self.cleanUp(n) }
        try PostgresConnection(dsn: pg.dsn).execute("CREATE TABLE \(n.table)(id int PRIMARY KEY, v int)")
        let running = Running(Self.configuration(n, dsn: pg.dsn))
        try await waitFor(.seconds(300), running) { try Self.confirmedFlush(pg.dsn, n.slot) > 0 }

        // Transactions of 50 rows; a failed one is retried (ON CONFLICT: a commit whose answer was
        // lost is not written twice). The table itself says what was committed.
        let crashed = Atomic<Bool>(false)
        let writer = Task.detached { () throws -> Int in
            var conn: PostgresConnection? = nil
            var t = 0, failures = 0
            while t < 120 {
                do {
                    if conn == nil { conn = try PostgresConnection(dsn: pg.dsn) }
                    try conn!.execute("INSERT INTO \(n.table) SELECT g, \(t) FROM generate_series(\(t * 50 + 1), \((t + 1) * 50)) g ON CONFLICT DO NOTHING")
                    t += 1
                    if t == 60 { while !crashed.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(10)) } }
                    try await Task.sleep(for: .milliseconds(5))
                } catch {
                    conn = nil; failures += 1
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            return failures
        }
        // Generous bounds: alone this takes seconds, but under the whole suite on 2 cores (a private
        // PostgreSQL, Chromium, schemathesis and 90 other suites at once) it took over 60 s.
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).count) ?? 0 >= 60 * 50 }
        try await Task.sleep(for: .milliseconds(300))   // the capture confirms what Kafka acknowledged
        let confirmedBeforeCrash = running.capture.metrics.confirmedLSN.load(ordering: .relaxed)
        try pg.services("crash", "postgres")
        let slotAfterCrash = try Self.confirmedFlush(pg.dsn, n.slot)
        crashed.store(true, ordering: .relaxed)
        _ = try await writer.value

        let committed = try PostgresConnection(dsn: pg.dsn).execute("SELECT count(*) FROM \(n.table)").rows[0][0].flatMap { Int($0) } ?? 0
        #expect(committed == 120 * 50)
        try await waitFor(.seconds(300), running) { Set(try captureEvents(n.topic).compactMap { $0.after?["id"] as? Int }).count == committed }
        try await Task.sleep(for: .milliseconds(500))
        try running.stop()
        let ids = try captureEvents(n.topic).compactMap { $0.after?["id"] as? Int }
        #expect(Set(ids) == Set(1...committed), "every committed row published")
        #expect(ids.count == committed, "none published twice (\(ids.count - committed) duplicates)")
        #expect(running.capture.metrics.reconnects.load(ordering: .relaxed) >= 1)
        // Whether the slot came back behind the capture depends on when PostgreSQL last saved it
        // (at checkpoints and whenever restart_lsn moves); locally it usually does. Either way the
        // capture started from its own position, and the counts above hold.
        if slotAfterCrash < confirmedBeforeCrash {
            print("postgres crash: the slot came back to \(PgOutput.format(slotAfterCrash)), behind the capture's \(PgOutput.format(confirmedBeforeCrash))")
        }
        #expect(try Self.confirmedFlush(pg.dsn, n.slot) > confirmedBeforeCrash, "the slot moves on after the restart")
    }

    /// kill -9 of the capture process while a 150 000-row transaction streams, then a restart:
    /// the capture's position is the commit LSN plus the index within the transaction, so the
    /// restarted capture publishes only the part Kafka had not acknowledged — not the whole
    /// transaction again.
    @Test(.timeLimit(.minutes(15)))
    func killInsideATransactionResumesWithinIt() async throws {
        let n = Names()
        defer {
            Self.cleanUp(n)
            PostgresCaptureTests.cleanUp(n)
        }
        _ = try PostgresCaptureTests.sql("CREATE TABLE \(n.table)(id int PRIMARY KEY, v int)")
        let out = NSTemporaryDirectory() + "capture-\(n.suffix).out"
        defer { try? FileManager.default.removeItem(atPath: out) }
        func start() throws -> Process {
            FileManager.default.createFile(atPath: out, contents: nil)
            return try startCaptureProcess(n, stdout: try FileHandle(forWritingTo: URL(fileURLWithPath: out)))
        }
        /// The ids of the topic's records, from their keys (`{"id":N}`) only.
        func ids() throws -> [Int] {
            try KafkaTopicReader.readAll(topic: n.topic, configuration: KafkaTestSupport.kafka).compactMap { r in
                guard r.value != nil, let k = r.key else { return nil }
                return Int(String(decoding: k.filter { $0 >= 48 && $0 <= 57 }, as: UTF8.self))
            }
        }
        func state() -> [String: Any] {
            guard let d = FileManager.default.contents(atPath: n.stateFile) else { return [:] }
            return (try? JSONSerialization.jsonObject(with: d) as? [String: Any]) ?? [:]
        }
        let first = try start()
        try await waitFor(.seconds(300)) { try PostgresCaptureTests.slotIsConsistent(n) }
        let rows = 150_000
        _ = try PostgresCaptureTests.sql("INSERT INTO \(n.table) SELECT g, 1 FROM generate_series(1, \(rows)) g")
        // Kill once the state file records part of the transaction as acknowledged.
        try await waitUntil(timeout: .seconds(180), every: .milliseconds(5)) { (state()["partialEvents"] as? Int ?? 0) >= 5_000 }
        kill(first.processIdentifier, SIGKILL)
        first.waitForExit(timeout: .seconds(300))
        let saved = state()["partialEvents"] as? Int ?? 0
        #expect(saved < rows, "killed inside the transaction (\(saved) of \(rows) acknowledged)")

        let second = try start()
        defer { if second.isRunning { second.terminate(); second.waitForExit(timeout: .seconds(300)) } }
        try await waitFor(.seconds(300)) { Set(try ids()).count == rows }
        try await Task.sleep(for: .milliseconds(300))
        second.terminate()   // graceful: prints its metrics
        second.waitForExit(timeout: .seconds(300))
        let published = try ids()
        #expect(Set(published) == Set(1...rows), "every row published")
        let duplicates = published.count - rows
        let last = (try? String(contentsOfFile: out, encoding: .utf8))?.split(separator: "\n").last.map(String.init) ?? ""
        let metrics = (try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any]) ?? [:]
        let skipped = metrics["skipped_events"] as? Int ?? -1
        #expect(skipped >= saved && saved > 0, "the restarted capture passed over the \(saved) acknowledged events (skipped \(skipped))")
        #expect(duplicates <= rows - saved, "only the unacknowledged tail was published again (\(duplicates) duplicates)")
        #expect(duplicates < rows / 2)
    }
}
