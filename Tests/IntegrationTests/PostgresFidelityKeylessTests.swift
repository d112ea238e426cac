import Foundation
import Testing
import StreamKit
import StreamKitTesting
import StreamKitKafka
import StreamKitCapture
import StreamKitPostgres

/// Issue 12, item 1: tables without a primary key. Debezium's rule: a null Kafka key, updates
/// are `u` (with `before` from the old row under REPLICA IDENTITY FULL), never delete + create;
/// configured key columns (`message.key.columns`) never carry the unavailable-value placeholder,
/// also when the key column is an unchanged TOASTed value. The log-based capture and the trigger
/// fallback follow it; replaying the topic gives back the table.
@Suite(.serialized, .enabled(if: FidelityNames.runnable, "no Kafka broker reachable (scripts/services up)"))
struct PostgresFidelityKeylessTests {
    enum Kind { case log, trigger }
    static let placeholder = DebeziumChangeEncoder.unavailableValue

    /// `k` (a TOASTed text, stored out of line), `a`, `note`, `big` (TOASTed); no primary key.
    static func createTable(_ n: FidelityNames) throws {
        try FidelityNames.sql("""
            CREATE TABLE \(n.table)(k text, a int, note text, big text);
            ALTER TABLE \(n.table) REPLICA IDENTITY FULL;
            ALTER TABLE \(n.table) ALTER k SET STORAGE EXTERNAL, ALTER big SET STORAGE EXTERNAL;
            """)
    }

    static func insert(_ n: FidelityNames, _ range: ClosedRange<Int>) throws {
        try FidelityNames.sql("""
            INSERT INTO \(n.table) SELECT 'key-' || i || '-' || repeat(md5(i::text), 100), i, 'note ' || i, repeat(md5((i * 7)::text), 120)
            FROM generate_series(\(range.lowerBound), \(range.upperBound)) i
            """)
    }

    /// No-op updates of every row (TOASTed columns unchanged), real updates, deletes, inserts, a
    /// changed TOASTed value; `keyed`: a changed key, else a duplicate row (a keyless table may hold two).
    static func workload(_ n: FidelityNames, keyed: Bool) throws {
        try FidelityNames.sql("UPDATE \(n.table) SET a = a")
        try FidelityNames.sql("UPDATE \(n.table) SET note = 'changed ' || a WHERE a % 3 = 0")
        try FidelityNames.sql("DELETE FROM \(n.table) WHERE a % 4 = 0")
        try insert(n, 21...25)
        if keyed {
            try FidelityNames.sql("UPDATE \(n.table) SET k = k || '-moved' WHERE a = 2")
        } else {
            try FidelityNames.sql("INSERT INTO \(n.table) SELECT * FROM \(n.table) WHERE a = 1")
        }
        try FidelityNames.sql("UPDATE \(n.table) SET big = big || 'x' WHERE a = 5")
        try FidelityNames.sql("DELETE FROM \(n.table) WHERE a = 1")
    }

    typealias Row = [String: String?]
    static let columns = ["k", "a", "note", "big"]

    static func tableRows(_ n: FidelityNames) throws -> [Row] {
        try FidelityNames.sql("SELECT k, a::text, note, big FROM \(n.table)").rows.map { r in
            Dictionary(uniqueKeysWithValues: zip(columns, r))
        }
    }

    static func row(_ o: [String: Any]) -> Row {
        Dictionary(uniqueKeysWithValues: columns.map { c -> (String, String?) in
            switch o[c] {
            case let s as String: (c, s)
            case let n as NSNumber: (c, n.stringValue)
            default: (c, nil)
            }
        })
    }

    /// `after` with each unavailable value taken from `previous` (what a consumer of Debezium events does).
    static func merged(_ after: Row, _ previous: Row?) -> Row {
        var out = after
        for (c, v) in after where v == placeholder { out[c] = previous?[c] ?? nil }
        return out
    }

    static func canonical(_ r: Row) -> String { columns.map { r[$0].flatMap { $0 } ?? "∅" }.joined(separator: "|") }

    /// Keyless replay: the topic as a multiset of rows (`u`/`d` remove their full `before`).
    static func replayMultiset(_ events: [CaptureEvent]) -> (rows: [String: Int], problems: [String]) {
        var rows: [String: Int] = [:], problems: [String] = []
        func remove(_ r: Row) {
            let c = canonical(r)
            if let k = rows[c], k > 0 { rows[c] = k == 1 ? nil : k - 1 } else { problems.append("removing a row the replay does not hold") }
        }
        for e in events where !e.tombstone {
            switch e.op {
            case "r", "c": rows[canonical(row(e.after ?? [:])), default: 0] += 1
            case "u":
                guard let b = e.before else { problems.append("u without before"); continue }
                let before = row(b)
                remove(before)
                rows[canonical(merged(row(e.after ?? [:]), before)), default: 0] += 1
            case "d":
                guard let b = e.before else { problems.append("d without before"); continue }
                remove(row(b))
            default: problems.append("unexpected op \(e.op ?? "?")")
            }
        }
        return (rows, problems)
    }

    /// Keyed replay: the last state per Kafka key (`k`), deletes and tombstones remove it.
    static func replayPerKey(_ events: [CaptureEvent]) -> [String: Row] {
        var state: [String: Row] = [:]
        for e in events {
            guard let key = e.key?["k"] as? String else { continue }
            if e.tombstone || e.op == "d" { state[key] = nil; continue }
            guard let a = e.after else { continue }
            state[key] = merged(row(a), state[key])
        }
        return state
    }

    func run(_ kind: Kind, keyed: Bool) async throws {
        let n = FidelityNames()
        defer { n.cleanUp() }
        try Self.createTable(n)
        try KafkaTestSupport.createTopic(n.topic, partitions: 1)   // one partition: null-key events keep their order
        let keyColumns = keyed ? try MessageKeyColumns(parsing: "public.\(n.table):k", defaultSchema: "public") : MessageKeyColumns()
        let stop: () throws -> Void
        let failed: () -> (any Error)?
        switch kind {
        case .log:
            try Self.insert(n, 1...20)
            var c = n.configuration()
            c.messageKeyColumns = keyColumns
            let running = CaptureRun(PostgresCapture(configuration: c, kafka: KafkaTestSupport.kafka))
            stop = running.stop; failed = { running.failed }
        case .trigger:
            var c = TriggerCaptureConfiguration(dsn: Services.postgresDSN, tables: [n.table], topicPrefix: n.prefix)
            c.changeLog = "public." + n.changeLog
            c.pollInterval = .milliseconds(50)
            c.messageKeyColumns = keyColumns
            let capture = TriggerCapture(configuration: c, kafka: KafkaTestSupport.kafka)
            try capture.install()
            try Self.insert(n, 1...20)
            let running = CaptureRun(capture)
            stop = running.stop; failed = { running.failed }
        }
        try await waitUntil(timeout: .seconds(180), every: .milliseconds(100), failed: failed) { (try? captureEvents(n.topic).count) ?? 0 >= 20 }
        try Self.workload(n, keyed: keyed)
        let table = try Self.tableRows(n)
        if keyed {
            let expected = Dictionary(uniqueKeysWithValues: table.map { ($0["k"]!!, $0) })
            do {
                try await waitUntil(timeout: .seconds(180), every: .milliseconds(100), failed: failed) {
                    Self.replayPerKey(try captureEvents(n.topic)) == expected
                }
            } catch {
                let replay = Self.replayPerKey(try captureEvents(n.topic))
                let diff = Set(replay.keys).symmetricDifference(expected.keys).map { String($0.prefix(12)) }
                let changed = expected.filter { replay[$0.key] != nil && replay[$0.key] != $0.value }.map { "\($0.value["a"]!!): \(Self.canonical(replay[$0.key]!).prefix(80))" }
                Issue.record("replay per key differs: keys only on one side \(diff), values \(changed)")
                throw error
            }
        } else {
            var expected: [String: Int] = [:]
            for r in table { expected[Self.canonical(r), default: 0] += 1 }
            try await waitUntil(timeout: .seconds(180), every: .milliseconds(100), failed: failed) {
                let replay = Self.replayMultiset(try captureEvents(n.topic))
                return replay.problems.isEmpty && replay.rows == expected
            }
        }
        try stop()

        let events = try captureEvents(n.topic)
        let records = try KafkaTopicReader.readAll(topic: n.topic, configuration: KafkaTestSupport.kafka)
        let ops = Dictionary(grouping: events.filter { !$0.tombstone }, by: { $0.op ?? "?" }).mapValues(\.count)
        let initial = kind == .log ? "r" : "c"
        // 20 no-op updates + 6 notes + 1 changed TOASTed value: all `u`, never delete + create.
        #expect(ops["u"] == 27, "updates are u events: \(ops)")
        #expect((ops[initial] ?? 0) >= 20)
        if keyed {
            // Deleted: a % 4 (5 rows) and a = 1; the changed key: a delete and a create.
            #expect(ops["d"] == 7 && (ops["c"] ?? 0) - (kind == .trigger ? 20 : 0) == 6, "\(ops)")
            #expect(events.filter(\.tombstone).count == 7, "a tombstone per delete")
            for r in records {
                let key = String(decoding: r.key ?? [], as: UTF8.self)
                #expect(key.hasPrefix(#"{"k":"key-"#) && !key.contains(Self.placeholder), "configured key columns, never the placeholder: \(key.prefix(60))")
            }
            for e in events where !e.tombstone {
                let image = e.op == "d" ? e.before : e.after
                #expect(e.key?["k"] as? String == image?["k"] as? String || image?["k"] as? String == Self.placeholder)
            }
        } else {
            // Deleted: a % 4 (5 rows) and both copies of a = 1.
            #expect(ops["d"] == 7 && (ops["c"] ?? 0) - (kind == .trigger ? 20 : 0) == 6, "\(ops)")
            #expect(records.allSatisfy { $0.key == nil }, "a table without a key has null Kafka keys")
            #expect(events.allSatisfy { !$0.tombstone }, "no tombstone without a key")
            #expect(events.filter { $0.op == "u" }.allSatisfy { e in e.before.map { Self.row($0).values.allSatisfy { $0 != Self.placeholder } } ?? false },
                    "REPLICA IDENTITY FULL: before is the whole old row")
        }
    }

    @Test(.timeLimit(.minutes(15)))
    func logCaptureOfAKeylessTableHasNullKeysAndUpdates() async throws { try await run(.log, keyed: false) }

    @Test(.timeLimit(.minutes(15)))
    func logCaptureWithConfiguredKeyColumnsReplaysPerKeyWithTOAST() async throws { try await run(.log, keyed: true) }

    @Test(.timeLimit(.minutes(15)))
    func triggerCaptureOfAKeylessTableHasNullKeysAndUpdates() async throws { try await run(.trigger, keyed: false) }

    @Test(.timeLimit(.minutes(15)))
    func triggerCaptureWithConfiguredKeyColumnsReplaysPerKey() async throws { try await run(.trigger, keyed: true) }

    /// The command line: `--message-key-columns` reaches the capture; a malformed value is refused naming the flag.
    @Test(.timeLimit(.minutes(15)))
    func captureCommandTakesMessageKeyColumns() async throws {
        let n = FidelityNames()
        defer { n.cleanUp() }
        try Self.createTable(n)
        try Self.insert(n, 1...3)
        func launch(_ keyColumns: String, stderr: Pipe? = nil) throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLIBinary.path)
            p.arguments = ["capture", "postgres", "--dsn", Services.postgresDSN, "--slot", n.slot, "--publication", n.publication,
                           "--topic-prefix", n.prefix, "--tables", n.table, "--brokers", Services.kafkaBrokers, "--state-file", n.stateFile,
                           "--signal-table", "none", "--message-key-columns", keyColumns]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = stderr ?? FileHandle.nullDevice
            try p.run()
            return p
        }
        let bad = Pipe()
        let refused = try launch("public.\(n.table)", stderr: bad)
        refused.waitForExit(timeout: .seconds(300))
        let message = String(decoding: bad.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(refused.terminationStatus != 0 && message.contains("--message-key-columns"), "\(message)")
        let p = try launch("public.\(n.table):a")
        defer { if p.isRunning { p.terminate(); p.waitForExit(timeout: .seconds(300)) } }
        try await waitFor(.seconds(300)) { (try? captureEvents(n.topic).count) == 3 }
        let keys = try captureEvents(n.topic).compactMap { $0.key?["a"] as? Int }.sorted()
        #expect(keys == [1, 2, 3], "keyed by the configured column")
    }

    /// Polling on a timestamptz column holding ±infinity, BC and year-294276 values: every row
    /// published, and a later change still seen (infinity never becomes the position).
    @Test(.timeLimit(.minutes(15)))
    func pollingCaptureReadsExtremeTimestamps() async throws {
        let n = FidelityNames()
        defer { n.cleanUp() }
        try FidelityNames.sql("""
            CREATE TABLE \(n.table)(id int PRIMARY KEY, updated_at timestamptz);
            INSERT INTO \(n.table) VALUES (1, '-infinity'), (2, '4713-01-01 00:00:00+00 BC'), (3, '2026-01-01 00:00:00+00'),
                                          (4, '294276-12-31 23:59:59.999999+00'), (5, 'infinity');
            """)
        var c = PollingCaptureConfiguration(dsn: Services.postgresDSN, table: n.table, column: "updated_at", topicPrefix: n.prefix, stateFile: n.stateFile)
        c.batchSize = 2
        c.interval = .milliseconds(100)
        let running = CaptureRun(PollingCapture(configuration: c, kafka: KafkaTestSupport.kafka))
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).count) ?? 0 >= 5 }
        // A later change still moves past the infinity row: the position stays finite.
        try FidelityNames.sql("UPDATE \(n.table) SET updated_at = '2026-06-01 00:00:00+00' WHERE id = 3")
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).count) ?? 0 >= 6 }
        try running.stop()
        var seen: [Int: String] = [:]
        for e in try captureEvents(n.topic) { if let id = e.after?["id"] as? Int { seen[id] = e.after?["updated_at"] as? String } }
        #expect(seen == [1: "-infinity", 2: "-4712-01-01T00:00:00.000000Z", 3: "2026-06-01T00:00:00.000000Z",
                         4: "+294276-12-31T23:59:59.999999Z", 5: "infinity"])
    }

    @Test(.timeLimit(.minutes(15)))
    func pollingCaptureOfAKeylessTableReadsEveryRowWithNullKeys() async throws {
        let n = FidelityNames()
        defer { n.cleanUp() }
        // 250 rows share one updated_at: pages of 100 must go on by ctid, not skip or repeat rows.
        try FidelityNames.sql("""
            CREATE TABLE \(n.table)(a int, note text, updated_at timestamptz);
            INSERT INTO \(n.table) SELECT i % 50, 'n' || i, '2026-01-01 00:00:00+00' FROM generate_series(1, 250) i;
            """)
        try KafkaTestSupport.createTopic(n.topic, partitions: 1)
        var c = PollingCaptureConfiguration(dsn: Services.postgresDSN, table: n.table, column: "updated_at", topicPrefix: n.prefix, stateFile: n.stateFile)
        c.batchSize = 100
        c.interval = .milliseconds(100)
        let running = CaptureRun(PollingCapture(configuration: c, kafka: KafkaTestSupport.kafka))
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).count) ?? 0 >= 250 }
        try running.stop()
        let records = try KafkaTopicReader.readAll(topic: n.topic, configuration: KafkaTestSupport.kafka)
        #expect(records.count == 250 && records.allSatisfy { $0.key == nil })
        let notes = try captureEvents(n.topic).compactMap { $0.after?["note"] as? String }
        #expect(Set(notes).count == 250, "every row once")
    }
}
