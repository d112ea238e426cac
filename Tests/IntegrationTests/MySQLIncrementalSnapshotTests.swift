import Foundation
import Synchronization
import Testing
import StreamKit
import StreamKitTesting
import StreamKitKafka
import StreamKitCapture
import StreamKitMySQL

/// Incremental snapshots (DBLog) of the MySQL capture on the real MariaDB: chunks read between
/// watermarks the capture writes to its signal table and sees again in the binlog, while
/// streaming goes on.
@Suite(.serialized, .enabled(if: MySQLTestSupport.runnable, "no MariaDB or Kafka reachable (scripts/services up)"))
struct MySQLIncrementalSnapshotTests {
    typealias S = MySQLTestSupport
    typealias Running = CaptureRun<MySQLCapture>

    static func signalTable(_ n: S.Names) -> String { "sig_\(n.suffix)" }

    /// The test's own signal table, writable by the capture user (as `scripts/services` sets up
    /// `app.streamkit_signal`).
    static func createSignalTable(_ n: S.Names, _ sql: MySQLConnection) throws {
        try sql.execute("CREATE TABLE \(signalTable(n)) (id VARCHAR(64) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048)) ENGINE=InnoDB")
        try sql.execute("GRANT INSERT, DELETE ON app.\(signalTable(n)) TO 'cdc'@'127.0.0.1'")
    }

    static func configuration(_ n: S.Names, chunk: Int) throws -> MySQLCaptureConfiguration {
        var c = try S.configuration(n)
        c.signalTable = "app.\(signalTable(n))"
        c.incrementalChunkSize = chunk
        return c
    }

    static func state(_ n: S.Names) -> [String: Any] {
        guard let d = FileManager.default.contents(atPath: n.stateFile) else { return [:] }
        return (try? JSONSerialization.jsonObject(with: d) as? [String: Any]) ?? [:]
    }

    static func int(_ v: Any?) -> Int? { (v as? NSNumber)?.intValue }

    /// The topic replayed per key: id → v.
    static func replay(_ topic: String) throws -> [Int: Int] {
        var state: [Int: Int] = [:]
        for e in try captureEvents(topic) where !e.tombstone {
            if e.op == "d" { state[int(e.before?["id"]) ?? -1] = nil } else if let a = e.after, let id = int(a["id"]) { state[id] = int(a["v"]) }
        }
        return state
    }

    static func table(_ sql: MySQLConnection, _ name: String) throws -> [Int: Int] {
        Dictionary(uniqueKeysWithValues: try sql.query("SELECT id, v FROM \(name)").map { (Int($0[0]!)!, Int($0[1]!)!) })
    }

    /// A table added to the configured tables between runs is snapshotted in chunks between
    /// watermarks while streaming goes on, under a concurrent writer updating, inserting and
    /// deleting its rows, and a row changed inside every window (after the chunk's read, before
    /// its close marker): the topic replayed per key ends equal to the table (no lost update, no
    /// stale read published after a newer change), rows nobody touched are read exactly once.
    @Test(.timeLimit(.minutes(15)))
    func tableAddedLaterIsSnapshottedWhileStreamingContinues() async throws {
        let n = S.Names()
        let b = "cap_b_\(n.suffix)", topicB = "\(n.prefix).app.\(b)"
        defer {
            S.cleanUp(n, tables: [b, Self.signalTable(n)])
            _ = try? KafkaAdmin(configuration: KafkaTestSupport.kafka).deleteTopics([topicB])
        }
        let sql = try S.admin()
        try Self.createSignalTable(n, sql)
        try sql.execute("CREATE TABLE \(n.table)(id INT PRIMARY KEY, v INT)")
        try sql.execute("INSERT INTO \(n.table) SELECT seq, seq FROM seq_1_to_10")
        var c = try Self.configuration(n, chunk: 300)
        let first = Running(c)
        try await waitFor(.seconds(300), first) { (try? captureEvents(n.topic).count) == 10 }
        try first.stop()

        let rows = 3_000
        try sql.execute("CREATE TABLE \(b)(id INT PRIMARY KEY, v INT, note VARCHAR(20))")
        try sql.execute("INSERT INTO \(b) SELECT seq, 0, 'x' FROM seq_1_to_\(rows)")
        c.tables = [n.table, b]
        let capture = MySQLCapture(configuration: c, kafka: KafkaTestSupport.kafka)
        let admin = S.adminDSN
        let changedInWindows = Mutex<Set<Int>>([])
        capture.afterChunkRead = { _, key in
            let id = Int(key[0] ?? "") ?? -1
            changedInWindows.withLock { _ = $0.insert(id) }
            try MySQLConnection(dsn: MySQLDSN(parsing: admin)).execute("UPDATE \(b) SET v = v + 1000 WHERE id = \(id)")
        }
        let second = Running(capture)
        let writer = Task.detached {
            let conn = try MySQLConnection(dsn: MySQLDSN(parsing: admin))
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
        let expected = try Self.table(sql, b)
        try await waitFor(.seconds(300), second) { try Self.replay(topicB) == expected }
        try await waitFor(.seconds(300), second) { try sql.query("SELECT count(*) FROM \(Self.signalTable(n))").first?.first == "0" }
        try second.stop()

        let events = try captureEvents(topicB).filter { !$0.tombstone }
        let reads = events.filter { $0.op == "r" }
        #expect(reads.allSatisfy { $0.source?["snapshot"] as? String == "incremental" && $0.source?["connector"] as? String == "mysql" })
        let changed = changedInWindows.withLock { $0 }
        let touched = Set((0..<150).flatMap { [$0 * 20 + 1, $0 * 20 + 5] }).union(changed)
        let untouchedReads = Dictionary(grouping: reads.compactMap { Self.int($0.after?["id"]) }.filter { $0 <= rows && !touched.contains($0) }, by: { $0 })
        #expect(untouchedReads.count == rows - touched.filter { $0 <= rows }.count, "every row nobody touched was read")
        #expect(untouchedReads.values.allSatisfy { $0.count == 1 }, "and read once")
        #expect(reads.count <= rows + 150)
        #expect(changed.count >= rows / 300, "a row changed inside each window (\(changed.count) windows)")
        for id in changed {
            // The chunk's copy was read before the change: the row's last event is the row as it is now.
            let last = events.last { Self.int($0.after?["id"] ?? $0.before?["id"]) == id }
            #expect(last?.op == "d" ? expected[id] == nil : Self.int(last?.after?["v"]) == expected[id],
                    "row \(id): no stale read published after the change made inside its window")
        }
        #expect(try captureEvents(n.topic).count == 10 + 150, "the first table kept streaming during the snapshot")
        let inc = Self.state(n)["incremental"] as? [String: Any]
        #expect((inc?["queue"] as? [Any])?.isEmpty == true && inc?["current"] == nil)
    }

    /// A capture stopped in the middle of an incremental snapshot (after its fifth chunk was
    /// acknowledged, inside the sixth window) resumes it from the durable chunk position: the
    /// chunks acknowledged before are not read again, the rest are read, the topic ends equal to
    /// the table.
    @Test(.timeLimit(.minutes(15)))
    func restartInTheMiddleOfAnIncrementalSnapshotResumesIt() async throws {
        let n = S.Names()
        let b = "cap_b_\(n.suffix)", topicB = "\(n.prefix).app.\(b)"
        defer {
            S.cleanUp(n, tables: [b, Self.signalTable(n)])
            _ = try? KafkaAdmin(configuration: KafkaTestSupport.kafka).deleteTopics([topicB])
        }
        let sql = try S.admin()
        try Self.createSignalTable(n, sql)
        try sql.execute("CREATE TABLE \(n.table)(id INT PRIMARY KEY, v INT)")
        var c = try Self.configuration(n, chunk: 100)
        let first = Running(c)
        try await waitUntil(timeout: .seconds(120), failed: { first.failed }) { first.capture.lifecycle.state == .streaming }
        try first.stop()

        let rows = 2_000
        try sql.execute("CREATE TABLE \(b)(id INT PRIMARY KEY, v INT)")
        try sql.execute("INSERT INTO \(b) SELECT seq, 0 FROM seq_1_to_\(rows)")
        c.tables = [n.table, b]
        let interrupted = MySQLCapture(configuration: c, kafka: KafkaTestSupport.kafka)
        let admin = S.adminDSN
        let chunks = Atomic<Int>(0)
        interrupted.afterChunkRead = { [weak interrupted] _, key in
            guard chunks.add(1, ordering: .relaxed).newValue == 6 else { return }
            // Inside the sixth window: a change of its first row, and the stop.
            try MySQLConnection(dsn: MySQLDSN(parsing: admin)).execute("UPDATE \(b) SET v = 7 WHERE id = \(key[0] ?? "0")")
            interrupted?.lifecycle.requestStop()
        }
        let second = Running(interrupted)
        try await waitUntil(timeout: .seconds(180)) { second.capture.lifecycle.isStopRequested }
        try second.stop()
        let saved = try #require(Self.state(n)["incremental"] as? [String: Any])
        #expect(saved["current"] as? String == "app.\(b)", "stopped in the middle of the snapshot")
        #expect(Self.int(saved["chunks"]) == 5 && (saved["lastKey"] as? [String]) == ["500"], "five chunks durable: \(saved)")
        let readBefore = try captureEvents(topicB).filter { $0.op == "r" }.count
        #expect(readBefore == 500, "the five acknowledged chunks were published (\(readBefore) reads)")

        let resumed = Running(c)
        try await waitFor(.seconds(300), resumed) {
            resumed.capture.metrics.incrementalTablesPending.load(ordering: .relaxed) == 0
                && resumed.capture.metrics.incrementalRows.load(ordering: .relaxed) > 0
        }
        let expected = try Self.table(sql, b)
        try await waitFor(.seconds(300), resumed) { try Self.replay(topicB) == expected }
        try resumed.stop()
        #expect(expected[501] == 7)
        let reads = try captureEvents(topicB).filter { $0.op == "r" }.compactMap { Self.int($0.after?["id"]) }
        let counts = Dictionary(reads.map { ($0, 1) }, uniquingKeysWith: +)
        #expect((1...500).allSatisfy { counts[$0] == 1 }, "the chunks acknowledged before the stop are not read again")
        #expect((501...rows).allSatisfy { counts[$0] == 1 }, "the rest is read once, after the restart")
        #expect(resumed.capture.metrics.incrementalRows.load(ordering: .relaxed) == rows - 500)
    }

    /// `cdc-features capture snapshot --source mysql` asks a running capture to read a table
    /// again (an `execute-snapshot` row in its signal table), while changes keep streaming.
    @Test(.timeLimit(.minutes(15)))
    func snapshotSignalReadsATableAgain() async throws {
        let n = S.Names()
        defer { S.cleanUp(n, tables: [Self.signalTable(n)]) }
        let sql = try S.admin()
        try Self.createSignalTable(n, sql)
        try sql.execute("CREATE TABLE \(n.table)(id INT PRIMARY KEY, v INT)")
        var c = try Self.configuration(n, chunk: 1024)
        c.snapshot = .never
        let running = Running(c)
        try await waitUntil(timeout: .seconds(120), failed: { running.failed }) { running.capture.lifecycle.state == .streaming }
        try sql.execute("INSERT INTO \(n.table) SELECT seq, seq FROM seq_1_to_5")
        try sql.execute("UPDATE \(n.table) SET v = 50 WHERE id = 5")
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).count) == 6 }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLIBinary.path)
        p.arguments = ["capture", "snapshot", "--source", "mysql", "--mysql-dsn", S.adminDSN, "--signal-table", "app.\(Self.signalTable(n))",
                       "--tables", "app.\(n.table)"]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitForExit(timeout: .seconds(300))
        #expect(p.terminationStatus == 0)
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).filter { $0.op == "r" }.count) == 5 }
        try running.stop()
        let ev = try captureEvents(n.topic)
        #expect(ev.filter { $0.op == "c" }.count == 5 && ev.filter { $0.op == "u" }.count == 1)
        let reads = ev.filter { $0.op == "r" }
        #expect(Set(reads.compactMap { Self.int($0.after?["id"]) }) == Set(1...5))
        #expect(reads.allSatisfy { $0.source?["snapshot"] as? String == "incremental" })
        #expect(Self.int(ev.last { Self.int($0.key?["id"]) == 5 }?.after?["v"]) == 50, "per key, the last event is the row as it is now")
    }

    /// kill -9 of `cdc-features capture mysql` in the middle of an incremental snapshot, then a
    /// restart: the snapshot resumes after the last chunk the state file recorded — rows up to
    /// its key are read exactly once, the others at least once and at most twice (a chunk Kafka
    /// acknowledged after the last save is read again), and the topic ends equal to the table.
    @Test(.timeLimit(.minutes(15)))
    func killNineInTheMiddleOfAnIncrementalSnapshotResumesIt() async throws {
        let n = S.Names()
        let b = "cap_b_\(n.suffix)", topicB = "\(n.prefix).app.\(b)"
        defer {
            S.cleanUp(n, tables: [b, Self.signalTable(n)])
            _ = try? KafkaAdmin(configuration: KafkaTestSupport.kafka).deleteTopics([topicB])
        }
        let sql = try S.admin()
        try Self.createSignalTable(n, sql)
        try sql.execute("CREATE TABLE \(n.table)(id INT PRIMARY KEY, v INT)")
        func start(_ tables: String) throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLIBinary.path)
            p.arguments = ["capture", "mysql", "--dsn", S.captureDSN, "--topic-prefix", n.prefix, "--tables", tables, "--snapshot", "initial",
                           "--server-id", String(n.serverID), "--brokers", Services.kafkaBrokers, "--state-file", n.stateFile,
                           "--signal-table", "app.\(Self.signalTable(n))", "--chunk-size", "10"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            return p
        }
        @Sendable func incremental() -> [String: Any] { Self.state(n)["incremental"] as? [String: Any] ?? [:] }
        let first = try start("app.\(n.table)")
        try await waitUntil(timeout: .seconds(120)) { Self.state(n)["tables"] != nil }
        first.terminate()
        first.waitForExit(timeout: .seconds(300))

        let rows = 10_000
        try sql.execute("CREATE TABLE \(b)(id INT PRIMARY KEY, v INT)")
        try sql.execute("INSERT INTO \(b) SELECT seq, seq FROM seq_1_to_\(rows)")
        let second = try start("app.\(n.table),app.\(b)")
        // The capture runs in short bursts and its state is read only while it is stopped, so the
        // kill lands in the middle of the snapshot: polling a running capture, a loaded machine
        // once let it finish all its chunks first. The bursts are timed on a thread of their own
        // (a task's sleep can end long after, when the test runner's pool is busy).
        let pid = second.processIdentifier
        kill(pid, SIGSTOP)
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread {
                let deadline = ContinuousClock.now + .seconds(180)
                while (Self.int(incremental()["chunks"]) ?? 0) < 20 && ContinuousClock.now < deadline {
                    kill(pid, SIGCONT)
                    usleep(2_000)   // the capture's run slice, not a wait for a condition
                    kill(pid, SIGSTOP)
                }
                kill(pid, SIGKILL)
                done.resume()
            }.start()
        }
        second.waitForExit(timeout: .seconds(300))
        let saved = incremental()
        let lastKey = Int((saved["lastKey"] as? [String])?.first ?? "") ?? 0
        try #require(saved["current"] as? String == "app.\(b)" && lastKey >= 200 && lastKey < rows, "killed in the middle: \(saved)")
        try sql.execute("UPDATE \(b) SET v = -1 WHERE id IN (1, \(lastKey + 1), \(rows))")   // while the capture is down

        let third = try start("app.\(n.table),app.\(b)")
        defer { if third.isRunning { third.terminate(); third.waitForExit(timeout: .seconds(300)) } }
        let expected = try Self.table(sql, b)
        try await waitFor(.seconds(300)) { incremental()["current"] == nil && (incremental()["queue"] as? [Any])?.isEmpty == true }
        try await waitFor(.seconds(300)) { try Self.replay(topicB) == expected }
        third.terminate()
        third.waitForExit(timeout: .seconds(300))
        let reads = try captureEvents(topicB).filter { $0.op == "r" }.compactMap { Self.int($0.after?["id"]) }
        let counts = Dictionary(reads.map { ($0, 1) }, uniquingKeysWith: +)
        #expect((1...lastKey).allSatisfy { counts[$0] == 1 }, "rows of the chunks recorded before the kill are read once")
        #expect(((lastKey + 1)...rows).allSatisfy { (counts[$0] ?? 0) >= 1 && (counts[$0] ?? 0) <= 2 }, "the rest at least once, at most twice")
    }
}
