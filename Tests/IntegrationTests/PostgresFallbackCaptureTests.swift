import Foundation
import Synchronization
import Testing
import StreamKit
import StreamKitTesting
import StreamKitKafka
import StreamKitPostgres

/// Trigger-based and polling capture from the real PostgreSQL 15 into the real Kafka broker (scripts/services).
@Suite(.serialized, .enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up)"))
struct PostgresFallbackCaptureTests {
    typealias K = KafkaTestSupport

    struct Names {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        var table: String { "fb_\(suffix)" }
        var prefix: String { "fb\(suffix)" }
        var topic: String { "\(prefix).public.\(table)" }
        var stateFile: String { NSTemporaryDirectory() + "fallback-capture-\(suffix).json" }
    }

    static func sql(_ s: String) throws -> PostgresRows { try PostgresConnection(dsn: Services.postgresDSN).execute(s) }

    static func cleanUp(_ n: Names) {
        _ = try? sql("DROP TABLE IF EXISTS \(n.table)")
        _ = try? sql("DELETE FROM streamkit_change_log WHERE table_name = '\(n.table)'")
        try? FileManager.default.removeItem(atPath: n.stateFile)
        _ = try? KafkaAdmin(configuration: K.kafka).deleteTopics([n.topic])
    }

    static func triggerConfiguration(_ n: Names) -> TriggerCaptureConfiguration {
        var c = TriggerCaptureConfiguration(dsn: Services.postgresDSN, tables: [n.table], topicPrefix: n.prefix)
        c.pollInterval = .milliseconds(50)
        c.batchSize = 200
        return c
    }

    static func pollingConfiguration(_ n: Names, margin: Duration = .seconds(5)) -> PollingCaptureConfiguration {
        var c = PollingCaptureConfiguration(dsn: Services.postgresDSN, table: n.table, column: "updated_at", topicPrefix: n.prefix,
                                            stateFile: n.stateFile)
        c.interval = .milliseconds(100)
        c.safetyMargin = margin
        c.batchSize = 50
        return c
    }

    static func logRows(_ n: Names) throws -> Int {
        Int(try sql("SELECT count(*) FROM streamkit_change_log WHERE table_name = '\(n.table)'").rows[0][0] ?? "-1") ?? -1
    }

    /// The table as `id → v`.
    static func tableState(_ n: Names) throws -> [Int: Int] {
        var out: [Int: Int] = [:]
        for r in try sql("SELECT id, v FROM \(n.table)").rows { out[Int(r[0]!)!] = Int(r[1]!)! }
        return out
    }

    /// The last event per key, replayed in topic order (one partition per key): `id → v`, deleted keys removed.
    static func replay(_ ev: [CaptureEvent]) -> [Int: Int] {
        var latest: [Int: Int] = [:]
        for e in ev {
            guard let id = e.key?["id"] as? Int else { continue }
            if e.tombstone || e.op == "d" { latest[id] = nil } else if let v = e.after?["v"] as? Int { latest[id] = v }
        }
        return latest
    }

    // MARK: trigger

    @Test(.timeLimit(.minutes(15)))
    func triggerChangesLandAsDebeziumEnvelopesInOrderAndTheLogEmpties() async throws {
        let n = Names()
        defer { Self.cleanUp(n) }
        _ = try Self.sql("""
            CREATE TABLE \(n.table)(id int PRIMARY KEY, name text, amount numeric(10,2), ok boolean, big bigint,
                                    at timestamp, atz timestamptz, day date, doc jsonb, tags text[]);
            """)
        let capture = TriggerCapture(configuration: Self.triggerConfiguration(n), kafka: K.kafka)
        try capture.install()
        try capture.install()   // idempotent
        #expect(try Self.sql("SELECT count(*) FROM pg_trigger WHERE tgrelid = '\(n.table)'::regclass AND NOT tgisinternal").rows[0][0] == "2")
        _ = try Self.sql("""
            INSERT INTO \(n.table) VALUES (1, 'ada', 12.50, true, 9007199254740993, '2024-03-01 12:00:00.123456',
                                           '2024-03-01 12:00:00+02', '2024-03-01', '{"a": [1, 2]}', '{x,y}'),
                                          (2, 'bob', 3, false, NULL, NULL, NULL, NULL, NULL, NULL);
            """)
        _ = try Self.sql("UPDATE \(n.table) SET name = 'ada2', amount = -0.5 WHERE id = 1")
        _ = try Self.sql("DELETE FROM \(n.table) WHERE id = 2")
        _ = try Self.sql("UPDATE \(n.table) SET id = 3 WHERE id = 1")   // key change: delete + tombstone of 1, create of 3
        #expect(try Self.logRows(n) == 5, "the triggers logged every change in the writing transactions")
        let running = CaptureRun(capture)
        // c, c, u, d + tomb, (d + tomb, c)
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).count) == 8 }
        _ = try Self.sql("TRUNCATE \(n.table)")
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).count) == 9 }
        try await waitFor(.seconds(300), running) { try Self.logRows(n) == 0 }
        try running.stop()
        #expect(capture.metrics.changes.load(ordering: .relaxed) == 7, "c, c, u, d, then the key change as d + c, then t")
        #expect(capture.metrics.logRowsDeleted.load(ordering: .relaxed) == 6)

        let ev = try captureEvents(n.topic)
        let id1 = ev.filter { $0.key?["id"] as? Int == 1 }.map(\.label)
        #expect(id1 == ["c", "u", "d", "tombstone"], "per-key order of id 1: \(id1)")
        #expect(ev.filter { $0.key?["id"] as? Int == 2 }.map(\.label) == ["c", "d", "tombstone"])
        #expect(ev.filter { $0.key?["id"] as? Int == 3 }.map(\.label) == ["c"])
        #expect(ev.filter { $0.op == "t" }.count == 1 && ev.first { $0.op == "t" }?.key == nil)

        // The same envelope as the log-based capture, typed the same way.
        let c1 = try #require(ev.first { $0.op == "c" && $0.key?["id"] as? Int == 1 })
        #expect(c1.fields == ["after", "before", "op", "source", "transaction", "ts_ms"])
        #expect(c1.before == nil)
        #expect(c1.after?["name"] as? String == "ada")
        #expect((c1.after?["amount"] as? NSNumber)?.doubleValue == 12.5)
        #expect(c1.after?["ok"] as? Bool == true)
        #expect((c1.after?["big"] as? NSNumber)?.int64Value == 9_007_199_254_740_993)
        #expect((c1.after?["at"] as? NSNumber)?.int64Value == 1_709_294_400_123_456, "timestamp: µs since the epoch")
        #expect(c1.after?["atz"] as? String == "2024-03-01T10:00:00.000000Z", "timestamptz: UTC ISO-8601")
        #expect(c1.after?["day"] as? Int == 19_783, "date: days since the epoch")
        #expect(c1.after?["doc"] as? String == "{\"a\": [1, 2]}")
        #expect(c1.after?["tags"] as? String == "{x,y}")
        let src = try #require(c1.source)
        #expect(src.keys.sorted() == ["connector", "db", "lsn", "name", "schema", "sequence", "snapshot", "streamkit_schema_version",
                                      "table", "ts_ms", "txId", "version", "xmin"])
        #expect(src["connector"] as? String == "postgresql")
        #expect(src["snapshot"] as? String == "false")
        #expect(src["name"] as? String == n.prefix && src["db"] as? String == "app")
        #expect(src["schema"] as? String == "public" && src["table"] as? String == n.table)
        #expect(src["txId"] is Int)
        let u1 = try #require(ev.first { $0.op == "u" })
        #expect(u1.before?["name"] as? String == "ada", "trigger mode: the full old row")
        #expect(u1.after?["name"] as? String == "ada2" && (u1.after?["amount"] as? NSNumber)?.doubleValue == -0.5)
        let d2 = try #require(ev.first { $0.op == "d" && $0.key?["id"] as? Int == 2 })
        #expect(d2.after == nil && d2.before?["name"] as? String == "bob" && d2.before?["big"] is NSNull)
    }

    /// A stop mid-stream, writes while stopped, a restart: every change arrives, the log empties.
    @Test(.timeLimit(.minutes(15)))
    func triggerRestartAfterStopContinuesWithoutLoss() async throws {
        let n = Names()
        defer { Self.cleanUp(n) }
        _ = try Self.sql("CREATE TABLE \(n.table)(id int PRIMARY KEY, v int)")
        let config = Self.triggerConfiguration(n)
        try TriggerCapture(configuration: config, kafka: K.kafka).install()
        let conn = try PostgresConnection(dsn: Services.postgresDSN)
        let first = CaptureRun(TriggerCapture(configuration: config, kafka: K.kafka))
        for t in 0..<20 { try conn.execute("INSERT INTO \(n.table) SELECT g, \(t) FROM generate_series(\(t * 50 + 1), \((t + 1) * 50)) g") }
        try await waitFor(.seconds(300), first) { (try? captureEvents(n.topic).count) ?? 0 > 0 }
        try first.stop()
        // Written while no capture runs: kept in the change log.
        for t in 20..<40 { try conn.execute("INSERT INTO \(n.table) SELECT g, \(t) FROM generate_series(\(t * 50 + 1), \((t + 1) * 50)) g") }
        try conn.execute("UPDATE \(n.table) SET v = v + 100 WHERE id % 7 = 0")
        #expect(try Self.logRows(n) > 0)
        let second = CaptureRun(TriggerCapture(configuration: config, kafka: K.kafka))
        let expected = try Self.tableState(n)
        try await waitFor(.seconds(300), second) { Self.replay(try captureEvents(n.topic)) == expected }
        try await waitFor(.seconds(300), second) { try Self.logRows(n) == 0 }
        try second.stop()
        let ev = try captureEvents(n.topic)
        let creates = Dictionary(grouping: ev.filter { $0.op == "c" }, by: { $0.key?["id"] as? Int ?? -1 })
        #expect(Set(creates.keys) == Set(1...2000), "every insert published")
        #expect(creates.values.allSatisfy { $0.count == 1 }, "a graceful stop leaves nothing to publish twice")
        #expect(Self.replay(ev) == expected)
    }

    /// Concurrent writers on three connections with interleaved long and short transactions: a
    /// long transaction takes low change-log ids and commits after higher ids were published and
    /// deleted; nothing may be skipped.
    @Test(.timeLimit(.minutes(15)))
    func triggerConcurrentLongAndShortTransactionsLoseNothing() async throws {
        let n = Names()
        defer { Self.cleanUp(n) }
        _ = try Self.sql("CREATE TABLE \(n.table)(id int PRIMARY KEY, v int)")
        var config = Self.triggerConfiguration(n)
        config.batchSize = 50
        let capture = TriggerCapture(configuration: config, kafka: K.kafka)
        try capture.install()
        _ = try Self.sql("INSERT INTO \(n.table) SELECT g, 0 FROM generate_series(1, 300) g")   // captured: the triggers exist
        let running = CaptureRun(capture)

        // Deterministic interleaving: the long transaction writes first (lower ids), commits last.
        let long = try PostgresConnection(dsn: Services.postgresDSN)
        try long.execute("BEGIN; INSERT INTO \(n.table) SELECT g, 1 FROM generate_series(1001, 1050) g; UPDATE \(n.table) SET v = v + 10 WHERE id <= 20")
        let short = try PostgresConnection(dsn: Services.postgresDSN)
        for i in 0..<20 { try short.execute("INSERT INTO \(n.table) VALUES (\(2000 + i), \(i)); UPDATE \(n.table) SET v = v + 1 WHERE id = \(100 + i)") }
        try await waitFor(.seconds(300), running) { Self.replay(try captureEvents(n.topic))[2019] == 19 }
        #expect(Self.replay(try captureEvents(n.topic))[1001] == nil, "the long transaction is not visible yet")
        try long.execute("UPDATE \(n.table) SET v = v + 5 WHERE id = 1001; COMMIT")

        // Random interleaving: three writers, transactions of varying length touching shared rows.
        let writers = (0..<3).map { w in
            Task.detached {
                let conn = try PostgresConnection(dsn: Services.postgresDSN)
                var rng = SystemRandomNumberGenerator()
                for i in 0..<40 {
                    let id = Int.random(in: 1...300, using: &rng)
                    let newID = 3000 + w * 100 + i
                    try conn.execute("BEGIN; UPDATE \(n.table) SET v = v + 1 WHERE id = \(id); INSERT INTO \(n.table) VALUES (\(newID), \(w))")
                    if i % 5 == 0 { usleep(UInt32.random(in: 20_000...150_000, using: &rng)) }   // a long one
                    if i % 9 == 0 { try conn.execute("DELETE FROM \(n.table) WHERE id = \(newID)") }
                    try conn.execute("COMMIT")
                }
            }
        }
        for w in writers { try await w.value }
        let expected = try Self.tableState(n)
        try await waitFor(.seconds(300), running) { Self.replay(try captureEvents(n.topic)) == expected }
        try await waitFor(.seconds(300), running) { try Self.logRows(n) == 0 }
        try running.stop()
        let latest = Self.replay(try captureEvents(n.topic))
        #expect(latest[1001] == 6 && latest[1050] == 1, "the long transaction's rows (lower ids, committed last) were published")
        #expect(latest == expected, "every committed row's final state equals the table")
    }

    /// kill -9 of a real `cdc-features capture trigger` process mid-stream, then a restart: every
    /// committed change arrives, at most the unacknowledged batch twice, and the change log empties.
    @Test(.timeLimit(.minutes(15)))
    func triggerKillNineThenRestartDeliversEveryCommittedChange() async throws {
        let n = Names()
        defer { Self.cleanUp(n) }
        _ = try Self.sql("CREATE TABLE \(n.table)(id int PRIMARY KEY, v int)")
        try TriggerCapture(configuration: Self.triggerConfiguration(n), kafka: K.kafka).install()
        let batchSize = 500
        func start() throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLIBinary.path)
            p.arguments = ["capture", "trigger", "--dsn", Services.postgresDSN, "--tables", n.table, "--topic-prefix", n.prefix,
                           "--brokers", Services.kafkaBrokers, "--state-file", n.stateFile, "--batch-size", String(batchSize)]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            return p
        }
        defer { try? FileManager.default.removeItem(atPath: n.stateFile + ".status.json") }
        let first = try start()
        let conn = try PostgresConnection(dsn: Services.postgresDSN)
        let transactions = 40, rows = 250
        for t in 0..<transactions {
            try conn.execute("INSERT INTO \(n.table) SELECT g, \(t) FROM generate_series(\(t * rows + 1), \((t + 1) * rows)) g")
            if t == transactions / 2 {
                try await waitFor(.seconds(300)) { (try? captureEvents(n.topic).count) ?? 0 > 0 }
                kill(first.processIdentifier, SIGKILL)
                first.waitForExit(timeout: .seconds(300))
            }
        }
        let second = try start()
        defer { if second.isRunning { second.terminate(); second.waitForExit(timeout: .seconds(300)) } }
        let total = transactions * rows
        try await waitFor(.seconds(300)) { Set(try captureEvents(n.topic).compactMap { $0.after?["id"] as? Int }).count == total }
        try await waitFor(.seconds(300)) { try Self.logRows(n) == 0 }
        let ids = try captureEvents(n.topic).compactMap { $0.after?["id"] as? Int }
        #expect(Set(ids) == Set(1...total), "every committed change delivered")
        #expect(ids.count - total <= batchSize, "re-sent at most the unacknowledged batch (\(ids.count - total) duplicates)")
        second.terminate()   // SIGTERM: graceful stop
        second.waitForExit(timeout: .seconds(300))
        #expect(second.terminationStatus == 0)
    }

    /// The capture's connection is terminated by the server (an administrator, a failover):
    /// the trigger capture reconnects and publishes what the log still holds, nothing lost.
    @Test(.timeLimit(.minutes(15)))
    func triggerCaptureReconnectsAfterItsConnectionIsTerminated() async throws {
        let n = Names()
        defer { Self.cleanUp(n) }
        _ = try Self.sql("CREATE TABLE \(n.table)(id int PRIMARY KEY, v int)")
        var c = Self.triggerConfiguration(n)
        let application = "streamkit_reconnect_\(n.suffix)"
        c.dsn = Services.postgresDSN + (Services.postgresDSN.contains("?") ? "&" : "?") + "application_name=\(application)"
        let capture = TriggerCapture(configuration: c, kafka: K.kafka)
        try capture.install()
        _ = try Self.sql("INSERT INTO \(n.table) SELECT g, g FROM generate_series(1, 50) g")
        let running = CaptureRun(capture)
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).count) == 50 }

        let terminated = try Self.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '\(application)'")
        #expect(terminated.rows[0][0] == "1", "the capture's one connection")
        _ = try Self.sql("INSERT INTO \(n.table) SELECT g, g FROM generate_series(51, 100) g")
        try await waitFor(.seconds(300), running) { (try? Self.replay(captureEvents(n.topic)).count) == 100 }
        try await waitFor(.seconds(300), running) { try Self.logRows(n) == 0 }
        try running.stop()
        #expect(capture.metrics.reconnects.load(ordering: .relaxed) >= 1)
        #expect(try Self.replay(captureEvents(n.topic)) == Self.tableState(n))
    }

    // MARK: polling

    @Test(.timeLimit(.minutes(15)))
    func pollingInsertsAndUpdatesArriveButDeletesAreNotSeen() async throws {
        let n = Names()
        defer { Self.cleanUp(n) }
        _ = try Self.sql("""
            CREATE TABLE \(n.table)(id int PRIMARY KEY, v int, amount numeric(10,2), updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
            INSERT INTO \(n.table)(id, v, amount) SELECT g, 0, g / 4.0 FROM generate_series(1, 120) g;
            """)
        let capture = PollingCapture(configuration: Self.pollingConfiguration(n), kafka: K.kafka)
        let running = CaptureRun(capture)
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).count) == 120 }
        _ = try Self.sql("INSERT INTO \(n.table)(id, v) VALUES (121, 7), (122, 8)")
        _ = try Self.sql("UPDATE \(n.table) SET v = v + 1, updated_at = clock_timestamp() WHERE id <= 10")
        _ = try Self.sql("UPDATE \(n.table) SET v = v + 1, updated_at = clock_timestamp() WHERE id = 5")
        _ = try Self.sql("DELETE FROM \(n.table) WHERE id IN (50, 51)")
        let expected = try Self.tableState(n)
        try await waitFor(.seconds(300), running) {
            let latest = Self.replay(try captureEvents(n.topic))
            return expected.allSatisfy { latest[$0.key] == $0.value }
        }
        try await Task.sleep(for: .milliseconds(500))   // a few more polls (with their overlap windows)
        try running.stop()
        let ev = try captureEvents(n.topic)
        let latest = Self.replay(ev)
        #expect(expected.allSatisfy { latest[$0.key] == $0.value }, "the latest state per key equals the table")
        #expect(ev.filter { $0.op == "r" }.count == 120 && ev.allSatisfy { $0.op == "r" || $0.op == "u" })
        #expect(ev.filter { $0.key?["id"] as? Int == 121 }.map(\.label) == ["u"], "an insert after the first read looks like an update")
        #expect(ev.filter { $0.key?["id"] as? Int == 5 }.count <= 3, "updates between polls may collapse; overlap re-reads are not republished")
        // Documented limitation: polling cannot see deletes.
        #expect(!ev.contains { $0.op == "d" || $0.tombstone }, "no delete events, no tombstones")
        #expect(latest[50] == 0 && latest[51] == 0, "deleted rows keep their last published state downstream")
        #expect(Set(latest.keys).subtracting(expected.keys) == [50, 51])
        let u = try #require(ev.first { $0.op == "u" })
        #expect(u.fields == ["after", "before", "op", "source", "transaction", "ts_ms"] && u.before == nil)
        #expect(u.source?["connector"] as? String == "postgresql" && u.source?["snapshot"] as? String == "false")
        #expect(ev.first { $0.op == "r" }?.source?["snapshot"] as? String == "true")
        #expect((ev.first { $0.key?["id"] as? Int == 2 }?.after?["amount"] as? NSNumber)?.doubleValue == 0.5)
        #expect(capture.metrics.duplicatesSkipped.load(ordering: .relaxed) > 0, "the overlap window was read again and deduplicated")
    }

    /// A transaction whose `updated_at` (its start time) is older than rows already published
    /// commits later: the overlap window still finds it.
    @Test(.timeLimit(.minutes(15)))
    func pollingSeesALateCommitWithAnOlderTimestamp() async throws {
        let n = Names()
        defer { Self.cleanUp(n) }
        _ = try Self.sql("CREATE TABLE \(n.table)(id int PRIMARY KEY, v int, updated_at timestamptz NOT NULL DEFAULT now())")
        let running = CaptureRun(PollingCapture(configuration: Self.pollingConfiguration(n, margin: .seconds(5)), kafka: K.kafka))
        let slow = try PostgresConnection(dsn: Services.postgresDSN)
        try slow.execute("BEGIN; INSERT INTO \(n.table)(id, v) VALUES (1, 1)")   // updated_at = now(): this transaction's start
        try await Task.sleep(for: .milliseconds(300))
        _ = try Self.sql("INSERT INTO \(n.table)(id, v) VALUES (2, 2)")
        try await waitFor(.seconds(300), running) { Self.replay(try captureEvents(n.topic))[2] == 2 }
        try await Task.sleep(for: .milliseconds(500))    // several polls past row 2
        try slow.execute("COMMIT")
        try await waitFor(.seconds(300), running) { Self.replay(try captureEvents(n.topic))[1] == 1 }
        try running.stop()
        #expect(Self.replay(try captureEvents(n.topic)) == [1: 1, 2: 2])
    }

    @Test(.timeLimit(.minutes(15)))
    func pollingRestartResumesFromTheStateFile() async throws {
        let n = Names()
        defer { Self.cleanUp(n) }
        // Explicit, spread-out timestamps: everything older than the last one minus the margin is outside the overlap window.
        _ = try Self.sql("""
            CREATE TABLE \(n.table)(id int PRIMARY KEY, v int, updated_at timestamp NOT NULL);
            INSERT INTO \(n.table) SELECT g, g, timestamp '2024-01-01' + g * interval '1 minute' FROM generate_series(1, 60) g;
            """)
        let config = Self.pollingConfiguration(n, margin: .seconds(5))
        let first = CaptureRun(PollingCapture(configuration: config, kafka: K.kafka))
        try await waitFor(.seconds(300), first) { (try? captureEvents(n.topic).count) == 60 }
        try first.stop()
        let saved = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: n.stateFile))) as? [String: Any]
        #expect(saved?["position"] as? String == "2024-01-01 01:00:00", "the position of the last acknowledged row")
        #expect(saved?["initialDone"] as? Bool == true)
        // While stopped: new rows and an update, all later than the position.
        _ = try Self.sql("""
            INSERT INTO \(n.table) SELECT g, g, timestamp '2024-01-01' + g * interval '1 minute' FROM generate_series(61, 90) g;
            UPDATE \(n.table) SET v = -3, updated_at = timestamp '2024-01-02' WHERE id = 3;
            """)
        let second = CaptureRun(PollingCapture(configuration: config, kafka: K.kafka))
        let expected = try Self.tableState(n)
        try await waitFor(.seconds(300), second) { Self.replay(try captureEvents(n.topic)) == expected }
        try await Task.sleep(for: .milliseconds(400))
        try second.stop()
        let ev = try captureEvents(n.topic)
        let perID = Dictionary(grouping: ev, by: { $0.key?["id"] as? Int ?? -1 }).mapValues { $0.map(\.label) }
        #expect(Self.replay(ev) == expected)
        #expect((1...59).filter { $0 != 3 }.allSatisfy { perID[$0] == ["r"] }, "rows before the window are not read again after the restart")
        #expect(perID[60]?.count ?? 0 <= 2, "at most the overlap window is re-published after a restart")
        #expect(perID[3] == ["r", "u"])
        #expect((61...90).allSatisfy { perID[$0] == ["u"] }, "rows written while stopped arrive after the restart")
    }

    /// An integer version column drawn from a sequence (the overlap is in version units).
    @Test(.timeLimit(.minutes(15)))
    func pollingOnAnIntegerVersionColumn() async throws {
        let n = Names()
        defer { Self.cleanUp(n); _ = try? Self.sql("DROP SEQUENCE IF EXISTS \(n.table)_seq") }
        _ = try Self.sql("""
            CREATE SEQUENCE \(n.table)_seq;
            CREATE TABLE \(n.table)(id int PRIMARY KEY, v int, version bigint NOT NULL DEFAULT nextval('\(n.table)_seq'));
            INSERT INTO \(n.table)(id, v) SELECT g, g FROM generate_series(1, 30) g;
            """)
        var config = Self.pollingConfiguration(n)
        config.column = "version"
        config.versionSafetyMargin = 10
        let running = CaptureRun(PollingCapture(configuration: config, kafka: K.kafka))
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).count) == 30 }
        _ = try Self.sql("UPDATE \(n.table) SET v = -v, version = nextval('\(n.table)_seq') WHERE id % 3 = 0; INSERT INTO \(n.table)(id, v) VALUES (31, 31)")
        let expected = try Self.tableState(n)
        try await waitFor(.seconds(300), running) { Self.replay(try captureEvents(n.topic)) == expected }
        try await Task.sleep(for: .milliseconds(300))
        try running.stop()
        let ev = try captureEvents(n.topic)
        #expect(Self.replay(ev) == expected)
        #expect(ev.count == 30 + 10 + 1, "each change once: the overlap re-reads are deduplicated")
        #expect((ev.first { $0.key?["id"] as? Int == 31 }?.source?["lsn"] as? Int) == 41, "source.lsn carries the version")
    }
}
