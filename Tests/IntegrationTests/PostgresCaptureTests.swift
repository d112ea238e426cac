import Foundation
import Synchronization
import Testing
import StreamKit
import StreamKitTesting
import StreamKitDebezium
import StreamKitKafka
import StreamKitCapture
import StreamKitPostgres

/// Log-based capture from the real PostgreSQL 15 into the real Kafka broker (scripts/services).
@Suite(.serialized, .enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up)"))
struct PostgresCaptureTests {
    typealias K = KafkaTestSupport
    typealias Running = CaptureRun<PostgresCapture>

    struct Names {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        var table: String { "cap_\(suffix)" }
        var slot: String { "cap_slot_\(suffix)" }
        var publication: String { "cap_pub_\(suffix)" }
        var prefix: String { "cap\(suffix)" }
        var topic: String { "\(prefix).public.\(table)" }
        var stateFile: String { NSTemporaryDirectory() + "capture-\(suffix).json" }
    }

    static func sql(_ s: String) throws -> PostgresRows { try PostgresConnection(dsn: Services.postgresDSN).execute(s) }

    static func cleanUp(_ n: Names) {
        _ = try? sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '\(n.slot)'")
        _ = try? sql("DROP PUBLICATION IF EXISTS \(n.publication); DROP TABLE IF EXISTS \(n.table)")
        try? FileManager.default.removeItem(atPath: n.stateFile)
        _ = try? KafkaAdmin(configuration: K.kafka).deleteTopics([n.topic, PostgresSchemaHistory.topic(prefix: n.prefix)])
    }

    static func configuration(_ n: Names, snapshot: PostgresSnapshotMode = .initial) -> PostgresCaptureConfiguration {
        var c = PostgresCaptureConfiguration(dsn: Services.postgresDSN, slot: n.slot, publication: n.publication,
                                             topicPrefix: n.prefix, stateFile: n.stateFile)
        c.tables = [n.table]
        c.snapshot = snapshot
        c.confirmInterval = .milliseconds(50)
        return c
    }

    @Test(.timeLimit(.minutes(15)))
    func changesLandAsDebeziumEnvelopes() async throws {
        let n = Names()
        defer { Self.cleanUp(n) }
        _ = try Self.sql("""
            CREATE TABLE \(n.table)(id int PRIMARY KEY, name text, amount numeric(10,2), ok boolean, big bigint,
                                    at timestamp, atz timestamptz, day date, doc jsonb, tags text[], blob text);
            INSERT INTO \(n.table) VALUES (1, 'ada', 12.50, true, 9007199254740993, '2024-03-01 12:00:00.123456',
                                           '2024-03-01 12:00:00+02', '2024-03-01', '{"a": [1, 2]}', '{x,y}', NULL),
                                          (2, 'bob', 3, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
            """)
        let running = Running(Self.configuration(n))
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).count) == 2 }
        _ = try Self.sql("""
            INSERT INTO \(n.table)(id, name, amount, blob) VALUES (3, 'cy', -0.5, (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 400)));
            UPDATE \(n.table) SET name = 'cyd' WHERE id = 3;
            DELETE FROM \(n.table) WHERE id = 2;
            """)
        _ = try Self.sql("TRUNCATE \(n.table)")
        // 2 snapshot rows + create + update + delete + tombstone + truncate
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).count) == 7 }
        try running.stop()
        let ev = try captureEvents(n.topic)   // one partition per key; all of this table's topic
        let byOp = Dictionary(grouping: ev.filter { !$0.tombstone }, by: { $0.op ?? "?" })
        #expect(byOp["r"]?.count == 2)
        let r1 = try #require(byOp["r"]?.first { ($0.after?["id"] as? Int) == 1 })
        #expect(r1.after?["name"] as? String == "ada")
        #expect((r1.after?["amount"] as? NSNumber)?.doubleValue == 12.5)
        #expect(r1.after?["ok"] as? Bool == true)
        #expect((r1.after?["big"] as? NSNumber)?.int64Value == 9_007_199_254_740_993)
        #expect((r1.after?["at"] as? NSNumber)?.int64Value == 1_709_294_400_123_456, "timestamp: µs since the epoch")
        #expect(r1.after?["atz"] as? String == "2024-03-01T10:00:00.000000Z", "timestamptz: UTC ISO-8601")
        #expect(r1.after?["day"] as? Int == 19_783, "date: days since the epoch")
        #expect(r1.after?["doc"] as? String == "{\"a\": [1, 2]}")
        #expect(r1.after?["tags"] as? String == "{x,y}")
        #expect(r1.key?["id"] as? Int == 1)
        let src = try #require(r1.source)
        #expect(src["connector"] as? String == "postgresql")
        #expect(src["name"] as? String == n.prefix)
        #expect(src["db"] as? String == "app")
        #expect(src["schema"] as? String == "public" && src["table"] as? String == n.table)
        #expect(["true", "last"].contains(src["snapshot"] as? String ?? ""))

        let c = try #require(byOp["c"]?.first)
        #expect(c.before == nil && c.after?["id"] as? Int == 3 && (c.after?["amount"] as? NSNumber)?.doubleValue == -0.5)
        #expect(c.source?["snapshot"] as? String == "false")
        #expect(c.source?["txId"] is Int && c.source?["lsn"] is Int)
        let u = try #require(byOp["u"]?.first)
        #expect(u.after?["name"] as? String == "cyd")
        #expect(u.after?["blob"] as? String == DebeziumChangeEncoder.unavailableValue, "an unchanged TOASTed column is marked, not invented")
        let d = try #require(byOp["d"]?.first)
        #expect(d.after == nil && d.before?["id"] as? Int == 2 && d.key?["id"] as? Int == 2)
        let tomb = try #require(ev.first { $0.tombstone })
        #expect(tomb.key?["id"] as? Int == 2, "tombstone after delete, same key")
        #expect(byOp["t"]?.count == 1)
        // Order within the key of id 2: snapshot read, delete, tombstone.
        let id2 = ev.filter { $0.key?["id"] as? Int == 2 }.map { $0.tombstone ? "tombstone" : ($0.op ?? "?") }
        #expect(id2 == ["r", "d", "tombstone"])
        // The slot's confirmed position followed what Kafka acknowledged.
        let confirmed = try Self.sql("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '\(n.slot)'").rows.first?.first ?? nil
        #expect(PgOutput.parseLSN(confirmed ?? "") ?? 0 >= running.capture.metrics.confirmedLSN.load(ordering: .relaxed))
        #expect(running.capture.metrics.latency.count == 2, "commit → acknowledged latency per transaction (one multi-statement query is one transaction)")
    }

    @Test(.timeLimit(.minutes(15)))
    func snapshotWithConcurrentWritesLosesAndDuplicatesNothing() async throws {
        let n = Names()
        defer { Self.cleanUp(n) }
        _ = try Self.sql("CREATE TABLE \(n.table)(id int PRIMARY KEY, v int); INSERT INTO \(n.table) SELECT g, 0 FROM generate_series(1, 20000) g;")
        // Writers run while the snapshot is taken: new rows and updates of existing ones.
        let writer = Task.detached {
            let conn = try PostgresConnection(dsn: Services.postgresDSN)
            for i in 0..<100 {
                try conn.execute("INSERT INTO \(n.table) SELECT g, 1 FROM generate_series(\(20001 + i * 50), \(20050 + i * 50)) g; UPDATE \(n.table) SET v = v + 1 WHERE id = \(i * 100 + 1);")
            }
        }
        var config = Self.configuration(n)
        config.snapshotFetchSize = 1000
        let running = Running(config)
        try await writer.value
        let expected = try Self.sql("SELECT id, v FROM \(n.table)").rows.map { (Int($0[0]!)!, Int($0[1]!)!) }
        func replay() throws -> (latest: [Int: Int], creations: [Int: Int]) {
            var latest: [Int: Int] = [:], creations: [Int: Int] = [:]
            for e in try captureEvents(n.topic) where !e.tombstone {
                guard let id = e.after?["id"] as? Int, let v = e.after?["v"] as? Int else { continue }
                latest[id] = v   // one partition per key: per-key order is the log order
                if e.op == "r" || e.op == "c" { creations[id, default: 0] += 1 }
            }
            return (latest, creations)
        }
        try await waitFor(.seconds(300), running) {
            let latest = try replay().latest
            return latest.count == expected.count && expected.allSatisfy { latest[$0.0] == $0.1 }
        }
        try await Task.sleep(for: .milliseconds(300))
        try running.stop()
        let (latest, creations) = try replay()
        #expect(latest.count == expected.count, "no row lost")
        #expect(expected.allSatisfy { latest[$0.0] == $0.1 }, "every row's last event equals the table")
        #expect(creations.values.allSatisfy { $0 == 1 }, "each row read or created exactly once (no duplicates across the hand-off)")
        #expect(running.capture.metrics.snapshotRows.load(ordering: .relaxed) >= 20_000)
    }

    /// Whether the slot exists and has reached its consistent point: from then on every commit is
    /// captured. (`active` is not enough: a slot is active while `CREATE_REPLICATION_SLOT` still
    /// waits for running transactions, and commits before its consistent point are not decoded.)
    static func slotIsConsistent(_ n: Names) throws -> Bool {
        try sql("SELECT 1 FROM pg_replication_slots WHERE slot_name = '\(n.slot)' AND confirmed_flush_lsn IS NOT NULL").rows.count == 1
    }

    /// Waits until changes committed from now on are captured (with `snapshot: .never`, earlier
    /// ones are not).
    static func waitUntilStreaming(_ n: Names, _ running: Running) async throws {
        try await waitFor(.seconds(300), running) { try slotIsConsistent(n) }
    }

    @Test(.timeLimit(.minutes(15)))
    func schemaChangeMidStreamProducesANewVersion() async throws {
        let n = Names()
        defer { Self.cleanUp(n) }
        _ = try Self.sql("CREATE TABLE \(n.table)(id int PRIMARY KEY, a text)")
        let running = Running(Self.configuration(n, snapshot: .never))
        try await Self.waitUntilStreaming(n, running)
        _ = try Self.sql("INSERT INTO \(n.table) VALUES (1, 'x')")
        _ = try Self.sql("ALTER TABLE \(n.table) ADD COLUMN b int; INSERT INTO \(n.table) VALUES (2, 'y', 7)")
        _ = try Self.sql("ALTER TABLE \(n.table) DROP COLUMN a; INSERT INTO \(n.table) VALUES (3, 8)")
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).count) == 3 }
        try running.stop()
        let ev = try captureEvents(n.topic).sorted { ($0.after?["id"] as? Int ?? 0) < ($1.after?["id"] as? Int ?? 0) }
        #expect(ev.map { $0.source?["streamkit_schema_version"] as? Int } == [1, 2, 3])
        #expect(ev[0].after?.keys.sorted() == ["a", "id"])
        #expect(ev[1].after?.keys.sorted() == ["a", "b", "id"] && ev[1].after?["b"] as? Int == 7)
        #expect(ev[2].after?.keys.sorted() == ["b", "id"])
        // The registry topic holds the three versions; a restarted capture keeps counting.
        let versions = try PostgresSchemaHistory.read(prefix: n.prefix, kafka: K.kafka).filter { $0.table == n.table }
        #expect(versions.map(\.version) == [1, 2, 3])
        #expect(versions.map { $0.columns.map(\.name) } == [["id", "a"], ["id", "a", "b"], ["id", "b"]])
        #expect(versions.allSatisfy { $0.columns.first?.isKey == true && $0.columns.dropFirst().allSatisfy { !$0.isKey } })
        let again = Running(Self.configuration(n, snapshot: .never))
        try await Self.waitUntilStreaming(n, again)
        _ = try Self.sql("ALTER TABLE \(n.table) ADD COLUMN c int; INSERT INTO \(n.table) VALUES (4, 9, 10)")
        try await waitFor(.seconds(300), again) { (try? captureEvents(n.topic).count) == 4 }
        try again.stop()
        let last = try captureEvents(n.topic).first { $0.after?["id"] as? Int == 4 }
        #expect(last?.source?["streamkit_schema_version"] as? Int == 4)
    }

    @Test(.timeLimit(.minutes(15)))
    func columnAndOperationFilters() async throws {
        let n = Names()
        defer { Self.cleanUp(n) }
        _ = try Self.sql("CREATE TABLE \(n.table)(id int PRIMARY KEY, email text, ssn text, note text)")
        var c = Self.configuration(n, snapshot: .never)
        c.excludedColumns = ["\(n.table).note"]
        c.maskedColumns = ["public.\(n.table).ssn"]
        c.skippedOperations = ["u"]
        let running = Running(c)
        try await Self.waitUntilStreaming(n, running)
        _ = try Self.sql("INSERT INTO \(n.table) VALUES (1, 'a@x', '123-45', 'n1'), (2, 'b@x', NULL, 'n2')")
        _ = try Self.sql("UPDATE \(n.table) SET email = 'c@x' WHERE id = 1")
        _ = try Self.sql("DELETE FROM \(n.table) WHERE id = 2")
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).count) == 4 }   // 2 creates, delete, tombstone
        try await Task.sleep(for: .milliseconds(300))
        try running.stop()
        let ev = try captureEvents(n.topic)
        #expect(ev.count == 4, "the update was skipped")
        #expect(ev.compactMap(\.op).sorted() == ["c", "c", "d"])
        let one = try #require(ev.first { $0.after?["id"] as? Int == 1 })
        #expect(one.after?.keys.sorted() == ["email", "id", "ssn"], "excluded column left out")
        #expect(one.after?["ssn"] as? String == "***")
        let two = try #require(ev.first { $0.after?["id"] as? Int == 2 })
        #expect(two.after?["ssn"] is NSNull, "a masked NULL stays null")
    }

    /// A table added to the capture's tables between runs is added to the publication and
    /// snapshotted in chunks between watermarks while streaming goes on (DBLog, as Debezium's
    /// incremental snapshots): with concurrent updates, inserts and deletes of that table, the
    /// topic replayed per key ends equal to the table, and rows nobody touched are read once.
    @Test(.timeLimit(.minutes(15)))
    func tableAddedLaterIsSnapshottedWhileStreamingContinues() async throws {
        let n = Names()
        let b = "cap_b_\(n.suffix)", topicB = "\(n.prefix).public.cap_b_\(n.suffix)"
        defer {
            Self.cleanUp(n)
            _ = try? Self.sql("DROP TABLE IF EXISTS \(b)")
            _ = try? KafkaAdmin(configuration: K.kafka).deleteTopics([topicB])
        }
        _ = try Self.sql("CREATE TABLE \(n.table)(id int PRIMARY KEY, v int); INSERT INTO \(n.table) SELECT g, g FROM generate_series(1, 10) g")
        var c = Self.configuration(n)
        c.incrementalChunkSize = 300
        let first = Running(c)
        try await waitFor(.seconds(300), first) { (try? captureEvents(n.topic).count) == 10 }
        try first.stop()

        let rows = 3_000
        _ = try Self.sql("CREATE TABLE \(b)(id int PRIMARY KEY, v int, note text); INSERT INTO \(b) SELECT g, 0, 'x' FROM generate_series(1, \(rows)) g")
        c.tables = [n.table, b]
        // Inside every window, after the chunk was read: its first row changes. The chunk's copy
        // of that row is stale and must not be published after the change.
        let capture = PostgresCapture(configuration: c, kafka: K.kafka)
        let dsn = Services.postgresDSN
        let changedInWindows = Mutex<Set<Int>>([])
        capture.afterChunkRead = { _, key in
            changedInWindows.withLock { _ = $0.insert(Int(key[0] ?? "") ?? -1) }
            _ = try PostgresConnection(dsn: dsn).execute("UPDATE \(b) SET v = v + 1000 WHERE id = $1", [key[0]])
        }
        let second = Running(capture)
        let writer = Task.detached {
            let conn = try PostgresConnection(dsn: Services.postgresDSN)
            for i in 0..<150 {
                try conn.execute("UPDATE \(b) SET v = v + 1 WHERE id = \(i * 20 + 1)")
                try conn.execute("INSERT INTO \(b) VALUES (\(rows + i + 1), -1, 'new')")
                try conn.execute("DELETE FROM \(b) WHERE id = \(i * 20 + 5)")
                try conn.execute("INSERT INTO \(n.table) VALUES (\(100 + i), \(i))")
                try await Task.sleep(for: .milliseconds(2))
            }
        }
        try await writer.value
        try await waitFor(.seconds(300), second) {
            second.capture.metrics.incrementalTablesPending.load(ordering: .relaxed) == 0
                && second.capture.metrics.incrementalRows.load(ordering: .relaxed) > 0
        }
        let expected = Dictionary(uniqueKeysWithValues: try Self.sql("SELECT id, v FROM \(b)").rows.map { (Int($0[0]!)!, Int($0[1]!)!) })
        func replay() throws -> [Int: Int] {
            var state: [Int: Int] = [:]
            for e in try captureEvents(topicB) where !e.tombstone {
                if e.op == "d" { state[e.before?["id"] as? Int ?? -1] = nil } else if let a = e.after, let id = a["id"] as? Int { state[id] = a["v"] as? Int }
            }
            return state
        }
        try await waitFor(.seconds(300), second) { try replay() == expected }
        try await Task.sleep(for: .milliseconds(300))
        try second.stop()

        let events = try captureEvents(topicB).filter { !$0.tombstone }
        let reads = events.filter { $0.op == "r" }
        #expect(reads.allSatisfy { $0.source?["snapshot"] as? String == "incremental" })
        let firstAndFifth: [Int] = (0..<150).flatMap { (i: Int) -> [Int] in [i * 20 + 1, i * 20 + 5] }
        let touched: Set<Int> = Set(firstAndFifth).union(changedInWindows.withLock { $0 })
        let untouchedReads = Dictionary(grouping: reads.compactMap { $0.after?["id"] as? Int }.filter { $0 <= rows && !touched.contains($0) }, by: { $0 })
        #expect(untouchedReads.count == rows - touched.filter { $0 <= rows }.count, "every row nobody touched was read")
        #expect(untouchedReads.values.allSatisfy { $0.count == 1 }, "and read once")
        #expect(reads.count <= rows + 150)
        #expect(changedInWindows.withLock { $0.count } >= rows / 300, "a row changed inside each window")
        #expect(try captureEvents(n.topic).count == 10 + 150, "the first table kept streaming during the snapshot")
        let markers = try Self.sql("SELECT count(*) FROM streamkit_signal WHERE id LIKE '\(n.slot)-%'").rows[0][0]
        #expect(markers == "0", "window markers are deleted")
        #expect(Self.stateFile(n)["incremental"].flatMap { ($0 as? [String: Any])?["queue"] as? [Any] }?.isEmpty == true)
    }

    /// `cdc-features capture snapshot` asks a running capture to read a table again (an
    /// `execute-snapshot` signal), while changes keep streaming.
    @Test(.timeLimit(.minutes(15)))
    func snapshotSignalReadsATableAgain() async throws {
        let n = Names()
        defer { Self.cleanUp(n) }
        _ = try Self.sql("CREATE TABLE \(n.table)(id int PRIMARY KEY, v int)")
        let running = Running(Self.configuration(n, snapshot: .never))
        try await Self.waitUntilStreaming(n, running)
        _ = try Self.sql("INSERT INTO \(n.table) SELECT g, g FROM generate_series(1, 5) g")
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).count) == 5 }
        // The update lands before the signal: had it committed while a chunk's window was open
        // (between the open and close markers) the window would rightly drop row 5 from the chunk
        // (the streamed update is newer, DBLog), leaving 4 reads — the race that made this test
        // flaky under load. Overlapping writes are tested deterministically with `afterChunkRead`.
        _ = try Self.sql("UPDATE \(n.table) SET v = 50 WHERE id = 5")
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).filter { $0.op == "u" }.count) == 1 }
        let snapshot = try await ChildProcess.run(CLIBinary.path, ["capture", "snapshot", "--dsn", Services.postgresDSN, "--tables", n.table],
                                            timeout: .seconds(600))
        #expect(snapshot.status == 0, "\(snapshot.stderr.suffix(3000))")
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).filter { $0.op == "r" }.count) == 5 }
        try running.stop()
        let ev = try captureEvents(n.topic)
        #expect(ev.filter { $0.op == "c" }.count == 5 && ev.filter { $0.op == "u" }.count == 1)
        let reads = ev.filter { $0.op == "r" }
        #expect(Set(reads.compactMap { $0.after?["id"] as? Int }) == Set(1...5))
        #expect(reads.allSatisfy { $0.source?["snapshot"] as? String == "incremental" })
        // Per key, the last event is the row as it is now.
        let five = ev.filter { $0.key?["id"] as? Int == 5 }.last
        #expect(five?.after?["v"] as? Int == 50)
    }

    static func stateFile(_ n: Names) -> [String: Any] {
        guard let d = FileManager.default.contents(atPath: n.stateFile) else { return [:] }
        return (try? JSONSerialization.jsonObject(with: d) as? [String: Any]) ?? [:]
    }

    /// Debezium's transaction metadata (BEGIN/END on `<prefix>.transaction`, a `transaction` block
    /// in each change) and heartbeats (records on `__debezium-heartbeat.<prefix>`, plus the
    /// heartbeat action query).
    @Test(.timeLimit(.minutes(15)))
    func transactionMetadataAndHeartbeats() async throws {
        let n = Names()
        let other = "cap_other_\(n.suffix)", beat = "cap_beat_\(n.suffix)"
        let heartbeatTopic = "__debezium-heartbeat.\(n.prefix)", txTopic = "\(n.prefix).transaction"
        let otherTopic = "\(n.prefix).public.\(other)"
        defer {
            Self.cleanUp(n)
            _ = try? Self.sql("DROP TABLE IF EXISTS \(other); DROP TABLE IF EXISTS \(beat)")
            _ = try? KafkaAdmin(configuration: K.kafka).deleteTopics([heartbeatTopic, txTopic, otherTopic])
        }
        _ = try Self.sql("""
            CREATE TABLE \(n.table)(id int PRIMARY KEY, v int); CREATE TABLE \(other)(id int PRIMARY KEY);
            CREATE TABLE \(beat)(id int PRIMARY KEY, beats int); INSERT INTO \(beat) VALUES (1, 0);
            """)
        var c = Self.configuration(n, snapshot: .never)
        c.tables = [n.table, other]
        c.transactionMetadata = true
        c.heartbeatInterval = .milliseconds(100)
        c.heartbeatActionQuery = "UPDATE \(beat) SET beats = beats + 1"
        let running = Running(c)
        try await Self.waitUntilStreaming(n, running)
        _ = try Self.sql("""
            BEGIN; INSERT INTO \(n.table) VALUES (1, 1), (2, 2); INSERT INTO \(other) VALUES (7);
            UPDATE \(n.table) SET v = 3 WHERE id = 1; DELETE FROM \(n.table) WHERE id = 2; COMMIT;
            """)
        _ = try Self.sql("INSERT INTO \(n.table) VALUES (5, 5)")
        try await waitFor(.seconds(300), running) { (try? captureEvents(txTopic).count) == 4 }
        try await Task.sleep(for: .milliseconds(400))
        try running.stop()

        let boundaries = try KafkaTopicReader.readAll(topic: txTopic, configuration: K.kafka).map {
            try JSONSerialization.jsonObject(with: Data($0.value!)) as! [String: Any]
        }
        // One key per transaction: each transaction's BEGIN and END are in one partition, in order.
        let ends = boundaries.filter { $0["status"] as? String == "END" }
        #expect(boundaries.count == 4 && ends.count == 2)
        let big = try #require(ends.first { $0["event_count"] as? Int == 5 }, "2 inserts + update + delete + the other table's insert (no tombstones)")
        let id = try #require(big["id"] as? String)
        let mine = boundaries.filter { $0["id"] as? String == id }
        #expect(mine.map { $0["status"] as? String } == ["BEGIN", "END"])
        #expect(mine.first?["event_count"] is NSNull && mine.first?["data_collections"] is NSNull)
        let collections = try #require(big["data_collections"] as? [[String: Any]])
        #expect(collections.map { $0["data_collection"] as? String } == ["public.\(n.table)", "public.\(other)"])
        #expect(collections.map { $0["event_count"] as? Int } == [4, 1])
        #expect(ends.contains { $0["event_count"] as? Int == 1 && $0["id"] as? String != id })

        let changes = try captureEvents(n.topic).filter { !$0.tombstone }
        let inFirst = changes.compactMap { $0.object?["transaction"] as? [String: Any] }.filter { $0["id"] as? String == id }
        // Partitions are by key: order by position.
        let ordered = inFirst.sorted { ($0["total_order"] as? Int ?? 0) < ($1["total_order"] as? Int ?? 0) }
        #expect(ordered.map { $0["total_order"] as? Int } == [1, 2, 4, 5], "positions among all data events of the transaction")
        #expect(ordered.map { $0["data_collection_order"] as? Int } == [1, 2, 3, 4])
        let o = try #require(try captureEvents(otherTopic).first?.object?["transaction"] as? [String: Any])
        #expect(o["id"] as? String == id && o["total_order"] as? Int == 3 && o["data_collection_order"] as? Int == 1)

        let beats = try KafkaTopicReader.readAll(topic: heartbeatTopic, configuration: K.kafka)
        #expect(beats.count >= 3)
        let key = try #require(beats.first?.key.flatMap { try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] })
        #expect(key["serverName"] as? String == n.prefix)
        let value = try #require(beats.last?.value.flatMap { try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] })
        #expect((value["ts_ms"] as? Int64 ?? 0) > 1_700_000_000_000)
        let ran = Int(try Self.sql("SELECT beats FROM \(beat)").rows[0][0] ?? "0") ?? 0
        #expect(ran == beats.count, "the action query ran on every heartbeat")
        #expect(running.capture.metrics.heartbeats.load(ordering: .relaxed) == beats.count)
    }

    /// kill -9 of a real `cdc-features capture postgres` process mid-stream, then a restart:
    /// every committed change arrives (at least once), none is skipped, the slot moves on.
    @Test(.timeLimit(.minutes(15)))
    func killNineMidStreamThenRestartDeliversEveryCommittedChange() async throws {
        let n = Names()
        defer { Self.cleanUp(n) }
        _ = try Self.sql("CREATE TABLE \(n.table)(id int PRIMARY KEY, v int)")
        func start() throws -> Process { try startCaptureProcess(n) }
        let first = try start()
        try await waitFor(.seconds(300)) { try Self.slotIsConsistent(n) }
        // The position the capture saved when it created the slot.
        func savedLSN() -> UInt64 { (Self.stateFile(n)["lsn"] as? NSNumber)?.uint64Value ?? 0 }
        try await waitFor(.seconds(300)) { savedLSN() > 0 }
        let startLSN = savedLSN()
        let conn = try PostgresConnection(dsn: Services.postgresDSN)
        let transactions = 40, rows = 250
        for t in 0..<transactions {
            try conn.execute("INSERT INTO \(n.table) SELECT g, \(t) FROM generate_series(\(t * rows + 1), \((t + 1) * rows)) g")
            if t == transactions / 2 {
                // Killed once the capture made a position durable past its start: killed earlier
                // (as soon as the first event was visible, before the first confirm tick), every
                // one of the 21 transactions was unconfirmed and re-sent — 5250 > total/2, the
                // flaky failure under load. The bound asserted below is about the unconfirmed tail.
                try await waitFor(.seconds(300)) { (try? captureEvents(n.topic).count) ?? 0 > 0 && savedLSN() > startLSN }
                kill(first.processIdentifier, SIGKILL)
                first.waitForExit(timeout: .seconds(300))
            }
        }
        func confirmedLSN() throws -> UInt64 {
            let text = try Self.sql("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '\(n.slot)'").rows.first?.first ?? nil
            return PgOutput.parseLSN(text ?? "") ?? 0
        }
        let confirmedBefore = try confirmedLSN()
        let second = try start()
        defer { if second.isRunning { second.terminate(); second.waitForExit(timeout: .seconds(300)) } }
        let total = transactions * rows
        try await waitFor(.seconds(300)) { Set(try captureEvents(n.topic).compactMap { $0.after?["id"] as? Int }).count == total }
        let ev = try captureEvents(n.topic)
        let ids = ev.compactMap { $0.after?["id"] as? Int }
        #expect(Set(ids) == Set(1...total), "every committed change delivered")
        #expect(ids.count - total <= total / 2, "re-sent at most the unconfirmed tail (\(ids.count - total) duplicates)")
        try await waitFor(.seconds(300)) {
            try confirmedLSN() > confirmedBefore
        }
        second.terminate()   // SIGTERM: graceful stop
        second.waitForExit(timeout: .seconds(300))
        #expect(second.terminationStatus == 0)
    }
}

/// PostgreSQL → capture → Kafka → realtime-pricing job → Redis, as the demo runs it.
@Suite(.serialized, .enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up)"))
struct PostgresToFeaturesTests {
    @Test(.timeLimit(.minutes(15)))
    func committedRowsBecomeFeaturesInRedis() throws {
        let r = try ChildProcess.run(CLIBinary.path, ["bench", "pricing", "--source", "postgres", "--rate", "500", "--seconds", "2", "--listings", "50", "--json",
                                                      "--brokers", Services.kafkaBrokers, "--redis", Services.redisURL, "--dsn", Services.postgresDSN],
                                     timeout: .seconds(600))
        #expect(r.status == 0, "\(r.stderr.suffix(3000))")
        let line = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
        let changes = try #require(o["changes"] as? Int)
        #expect(changes == 1000)
        #expect(o["listings_sampled"] as? Int == 50, "every listing got features")
        #expect((o["redis_writes"] as? Int ?? 0) >= 50)
        let p50 = try #require(o["commit_to_feature_p50_ms"] as? Int)
        #expect(p50 >= 0 && p50 < 5_000, "commit → feature p50 \(p50) ms")
        #expect((o["capture_p50_ms"] as? Double ?? 0) > 0)
    }
}

enum CLIBinary {
    static var path: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for config in ["debug", "release"] {
            let p = root.appendingPathComponent(".build/\(config)/cdc-features").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return root.appendingPathComponent(".build/debug/cdc-features").path
    }
}
