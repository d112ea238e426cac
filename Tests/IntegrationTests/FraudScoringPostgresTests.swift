import Foundation
import Testing
import StreamKit
import FeatureJobs
import StreamKitJobs
import StreamKitKafka
import StreamKitCapture
import StreamKitPostgres
import StreamKitWorkload

/// `fraud-scoring` on the PostgreSQL-captured variant of the fraud workload: the generator's
/// transactions and chargebacks are committed as rows of two real PostgreSQL 15 tables
/// (`<schema>.transactions`, `<schema>.chargebacks`, in the generator's event-time order, in
/// transactions of a few thousand rows), StreamKit's own log-based capture (pgoutput) writes one
/// Kafka topic per table (two partitions each, keyed by `user_id` through the capture's message
/// key columns, so each user's rows stay in commit order), and the job reads the transactions
/// topic with `--labels-topic` the chargebacks topic. Its output equals, line for line, the same
/// job's output over the generator's own Debezium file: every served prediction (score bit for
/// bit, routed version, feature vector), every evaluation, and the fork and promotion decisions
/// (kinds, event times, versions, numbers) — all but one number in the fork's reason.
///
/// That number is the PSI the DriftMonitor reports next to the KS statistic that fired. Without a
/// baseline its trailing cut points come from the first window when that window fires; a window
/// opened after that counts its values exactly, one opened before it (its first value arrived
/// while the first window was still open) gets its histogram from its 2 048-value sample. Which
/// windows open before depends on arrival relative to the watermark: the file holds both tables
/// interleaved in event time, the captured topics are read partition by partition in runs, so a
/// partition can be read hours ahead of the watermark. KS (from the order-independent samples)
/// is the same in both runs, and so are the fork's time and everything after it.
@Suite(.serialized, .enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up)"))
struct FraudScoringPostgresTests {
    typealias K = KafkaTestSupport

    struct Names {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        var schema: String { "fraud_\(suffix)" }
        var slot: String { "fraud_slot_\(suffix)" }
        var publication: String { "fraud_pub_\(suffix)" }
        var prefix: String { "fraud\(suffix)" }
        var transactionsTopic: String { "\(prefix).\(schema).transactions" }
        var chargebacksTopic: String { "\(prefix).\(schema).chargebacks" }
        var stateFile: String { NSTemporaryDirectory() + "fraud-capture-\(suffix).json" }
    }

    static func sql(_ s: String) throws -> PostgresRows { try PostgresConnection(dsn: Services.postgresDSN).execute(s) }

    static func cleanUp(_ n: Names) {
        _ = try? sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '\(n.slot)'")
        _ = try? sql("DROP PUBLICATION IF EXISTS \(n.publication); DROP SCHEMA IF EXISTS \(n.schema) CASCADE")
        try? FileManager.default.removeItem(atPath: n.stateFile)
        _ = try? KafkaAdmin(configuration: K.kafka).deleteTopics([n.transactionsTopic, n.chargebacksTopic,
                                                                  PostgresSchemaHistory.topic(prefix: n.prefix)])
    }

    /// The workload as SQL: consecutive events of one table are one multi-row INSERT, and
    /// `perTransaction` events one database transaction, so the commit order (the order the log
    /// and the capture carry) is the generator's event-time order within each table.
    static func insertStatements(_ configuration: FraudWorkload.Configuration, schema: String, perTransaction: Int = 4_000) -> [String] {
        var workload = FraudWorkload(configuration)
        var batches: [String] = [], batch = "", rows: [String] = [], table = "", inBatch = 0
        func flushRows() {
            if !rows.isEmpty { batch += "INSERT INTO \(schema).\(table) VALUES \(rows.joined(separator: ","));\n" }
            rows.removeAll(keepingCapacity: true)
        }
        while let e = workload.next() {
            let (t, row): (String, String)
            switch e {
            case let .transaction(x):
                (t, row) = ("transactions", "(\(x.id),\(x.userId),\(x.merchantId),\(x.mcc),\(x.amountCents / 100).\(x.amountCents % 100 < 10 ? "0" : "")\(x.amountCents % 100),\(x.tsMs))")
            case let .chargeback(c):
                (t, row) = ("chargebacks", "(\(c.id),\(c.transactionId),\(c.userId),\(c.tsMs))")
            }
            if t != table { flushRows(); table = t }
            rows.append(row)
            inBatch += 1
            if inBatch == perTransaction { flushRows(); batches.append(batch); batch = ""; inBatch = 0 }
        }
        flushRows()
        if !batch.isEmpty { batches.append(batch) }
        return batches
    }

    @Test(.timeLimit(.minutes(15)))
    func capturedTablesScoreExactlyLikeTheGeneratorsFile() async throws {
        let n = Names()
        defer { Self.cleanUp(n) }
        // The workload of FraudScoringJobTests' interleaving test: small enough for a debug build,
        // with a drift-triggered fork and a promotion (min-examples 300).
        let configuration = FraudWorkload.Configuration(transactions: 40_000, seed: 7)
        let arguments = ["min-examples": "300", "report-every": "500"]
        var counted = FraudWorkload(configuration)
        var chargebacks = 0
        while let e = counted.next() { if case .chargeback = e { chargebacks += 1 } }

        _ = try Self.sql("""
            CREATE SCHEMA \(n.schema);
            CREATE TABLE \(n.schema).transactions(id bigint PRIMARY KEY, user_id bigint NOT NULL, merchant_id bigint NOT NULL,
                                                  mcc int NOT NULL, amount numeric(12,2) NOT NULL, ts_ms bigint NOT NULL);
            CREATE TABLE \(n.schema).chargebacks(id bigint PRIMARY KEY, transaction_id bigint NOT NULL REFERENCES \(n.schema).transactions(id),
                                                 user_id bigint NOT NULL, ts_ms bigint NOT NULL);
            """)
        try K.createTopic(n.transactionsTopic, partitions: 2)
        try K.createTopic(n.chargebacksTopic, partitions: 2)
        var c = PostgresCaptureConfiguration(dsn: Services.postgresDSN, slot: n.slot, publication: n.publication,
                                             topicPrefix: n.prefix, stateFile: n.stateFile)
        c.tables = ["\(n.schema).transactions", "\(n.schema).chargebacks"]
        c.snapshot = .never
        c.confirmInterval = .milliseconds(50)
        c.messageKeyColumns = try MessageKeyColumns(parsing: "\(n.schema).transactions:user_id;\(n.schema).chargebacks:user_id", defaultSchema: "public")
        let running = CaptureRun(c)
        // From the slot's consistent point on every commit is captured.
        try await waitFor(.seconds(300), running) {
            try Self.sql("SELECT 1 FROM pg_replication_slots WHERE slot_name = '\(n.slot)' AND confirmed_flush_lsn IS NOT NULL").rows.count == 1
        }
        let db = try PostgresConnection(dsn: Services.postgresDSN)
        for statement in Self.insertStatements(configuration, schema: n.schema) { _ = try db.execute(statement) }
        let stored = try Self.sql("SELECT (SELECT count(*) FROM \(n.schema).transactions), (SELECT count(*) FROM \(n.schema).chargebacks)").rows.first
        #expect(stored?[0] == "40000" && stored?[1] == String(chargebacks))
        // Every committed row is in its table's topic.
        try await waitUntil(timeout: .seconds(300), every: .seconds(1), failed: { running.failed }) {
            try KafkaTopicReader.readAll(topic: n.transactionsTopic, configuration: K.kafka, timeout: .seconds(60)).count == 40_000
                && KafkaTopicReader.readAll(topic: n.chargebacksTopic, configuration: K.kafka, timeout: .seconds(60)).count == chargebacks
        }
        try running.stop()
        let sample = try #require(try captureEvents(n.chargebacksTopic).first)
        #expect(sample.op == "c" && sample.source?["connector"] as? String == "postgresql" && sample.source?["table"] as? String == "chargebacks")
        #expect(sample.key?.keys.sorted() == ["user_id"], "keyed by user: a user's rows stay in one partition, in commit order")

        // fraud-scoring over the two captured topics.
        let dir = NSTemporaryDirectory() + K.unique("fraud-pg")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let captured = dir + "/captured.ndjson"
        var io = JobContext(input: .kafka(topic: n.transactionsTopic), output: .file(captured), kafka: K.kafka, groupID: K.unique("fraud-pg-g"))
        io.startFrom = .earliest
        io.bounded = true
        var withLabels = arguments
        withLabels["labels-topic"] = n.chargebacksTopic
        _ = try await ExampleJobs.make("fraud-scoring", arguments: withLabels, context: io).run()

        // The same job over the generator's Debezium file (both tables in one event-time ordered file).
        let input = dir + "/fraud.jsonl", reference = dir + "/file.ndjson"
        try FraudWorkload.writeFile(path: input, configuration: configuration)
        _ = try await ExampleJobs.make("fraud-scoring", arguments: arguments, context: JobContext(input: .file(input), output: .file(reference))).run()

        let a = try String(contentsOfFile: captured, encoding: .utf8).split(separator: "\n")
        let b = try String(contentsOfFile: reference, encoding: .utf8).split(separator: "\n")
        #expect(a.filter { $0.contains("\"type\":\"prediction\"") }.count == 40_000, "one served prediction per captured transaction")
        let kinds = a.filter { $0.contains("\"type\":\"decision\"") }.compactMap { line -> String? in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["kind"] as? String
        }
        #expect(kinds.first == "fork" && kinds.contains("promote"), "the captured run forks a challenger and promotes it: \(kinds)")
        func differences(_ a: [String], _ b: [String]) -> String {
            let onlyA = Set(a).subtracting(b), onlyB = Set(b).subtracting(a)
            return "\(a.count) vs \(b.count) lines; \(onlyA.count) only in the captured run, e.g. \(onlyA.first ?? ""); \(onlyB.count) only in the file run, e.g. \(onlyB.first ?? "")"
        }
        // Predictions (scores bit for bit, versions, feature vectors) and evaluations: identical.
        let isDecision = { (line: Substring) in line.hasPrefix("{\"type\":\"decision\"") }
        let (servedA, servedB) = (a.filter { !isDecision($0) }.map(String.init), b.filter { !isDecision($0) }.map(String.init))
        let sameServed = servedA == servedB
        #expect(sameServed, "predictions and evaluations equal the file run's, line for line (\(differences(servedA, servedB)))")
        // Decisions: identical kinds, times, versions, numbers and reasons, except the PSI quoted in
        // a drift-triggered fork's reason (see the suite's comment). The signals that fired are
        // named in the reason, so they are compared: the same test forked at the same time.
        let psi = try Regex("PSI [^,]+")
        func decisions(_ lines: [Substring]) -> [String] { lines.filter(isDecision).map { String($0).replacing(psi, with: "PSI _") } }
        let (decisionsA, decisionsB) = (decisions(a), decisions(b))
        let sameDecisions = decisionsA == decisionsB
        #expect(sameDecisions, "decisions equal the file run's but for the PSI (\(differences(decisionsA, decisionsB)))")
        #expect(a.count == b.count && zip(a, b).allSatisfy { $0 == $1 || (isDecision($0) && isDecision($1)) }, "only decision lines differ, in place")
    }
}
