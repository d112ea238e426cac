import Foundation
import Testing
import StreamKit
import StreamKitTesting
import FeatureJobs
import StreamKitJobs
import StreamKitDebezium
import StreamKitKafka
import StreamKitRedis
import StreamKitWorkload
import StreamKitCapture
import StreamKitMySQL

/// realtime-pricing fed from MariaDB: bookings committed to MariaDB, captured from the binlog
/// (keyed by listing, so each listing's changes stay in order), the same job as from PostgreSQL;
/// its demand features equal a batch recomputation over the same changes.
@Suite(.serialized, .enabled(if: MySQLTestSupport.runnable, "no MariaDB or Kafka reachable (scripts/services up)"))
struct MySQLRealtimePricingTests {
    @Test(.timeLimit(.minutes(15)))
    func demandFeaturesFromMariaDBEqualABatchRecomputation() async throws {
        let n = MySQLTestSupport.Names()
        defer { MySQLTestSupport.cleanUp(n) }
        let sql = try MySQLTestSupport.admin()
        try sql.execute("""
            CREATE TABLE \(n.table)(id BIGINT PRIMARY KEY, listing_id BIGINT, guest_id BIGINT, nights BIGINT, price_per_night DOUBLE,
                                    status VARCHAR(16), created_at_ms BIGINT)
            """)
        var c = try MySQLTestSupport.configuration(n, snapshot: .never)
        c.messageKeyColumns = try MessageKeyColumns(parsing: "app.\(n.table):listing_id", defaultSchema: "app")
        let running = CaptureRun<MySQLCapture>(c)
        try await waitUntil(timeout: .seconds(120), failed: { running.failed }) { running.capture.lifecycle.state == .streaming }

        let (changes, statements) = Self.workload(table: n.table)
        for k in stride(from: 0, to: statements.count, by: 50) {   // transactions of 50 changes
            try sql.execute("START TRANSACTION")
            for s in statements[k..<min(k + 50, statements.count)] { try sql.execute(s) }
            try sql.execute("COMMIT")
        }
        try await waitFor(.seconds(300), running) { running.capture.metrics.changes.load(ordering: .relaxed) == 3_000 }
        try running.stop()

        let redis = try RedisConfiguration(url: Services.redisURL)
        let namespace = KafkaTestSupport.unique("mypricing")
        let sink = RedisFeatureSinkMetrics()
        let job = RealtimePricingJob.make(kafka: KafkaTestSupport.kafka, topic: n.topic, groupID: n.topic + "-job", redis: redis,
                                          startFrom: .earliest, bounded: true, namespace: namespace, sinkMetrics: sink)
        let result = try await job.run(parallelism: 2)
        #expect(result.metrics.sourceRecords.current == 3_000)
        #expect(sink.errors.current == 0)
        let checked = try await expectDemandFeaturesEqualBatch(changes: changes, listings: 40, redis: redis, namespace: namespace)
        #expect(checked == 40)
        try RedisConnection(redis).deleteKeys(matching: "\(namespace):*")
    }

    /// 3,000 changes over ~70 minutes of event time for 40 listings; 5 % cancel an earlier booking.
    static func workload(table: String) -> (changes: [(Booking, DebeziumOperation)], statements: [String]) {
        var rng = WorkloadGenerator.SplitMix64(seed: 23)
        var changes: [(Booking, DebeziumOperation)] = []
        var bookings: [Booking] = []
        let base: Int64 = 1_750_000_000_000
        var statements: [String] = []
        for i in 0..<3_000 {
            let at = base + Int64(i) * 1_400
            if i > 10 && rng.next() % 20 == 0 {
                let j = Int(rng.next() % UInt64(bookings.count))
                var b = bookings[j]
                b.status = "cancelled"; b.createdAtMs = at
                bookings[j] = b
                changes.append((b, .update))
                statements.append("UPDATE \(table) SET status = 'cancelled', created_at_ms = \(at) WHERE id = \(b.id)")
            } else {
                let b = Booking(id: Int64(i), listingId: Int64(rng.next() % 40) + 1, guestId: Int64(rng.next() % 1000),
                                nights: Int64(rng.next() % 5) + 1, pricePerNight: Double(rng.next() % 30_000) / 100 + 50,
                                status: "confirmed", createdAtMs: at)
                bookings.append(b)
                changes.append((b, .create))
                statements.append("INSERT INTO \(table) VALUES (\(b.id), \(b.listingId), \(b.guestId), \(b.nights), \(b.pricePerNight), 'confirmed', \(at))")
            }
        }
        return (changes, statements)
    }

    /// kill -9 of `cdc-features capture mysql` while the bookings stream, then a restart: the
    /// capture republishes what Kafka acknowledged after its saved position (repeats on the
    /// topic), each with the `source.file`/`pos`/`row` it had the first time, and the job's
    /// `.deduplicatingChanges()` drops them: the features equal the batch recomputation.
    @Test(.timeLimit(.minutes(15)))
    func killedCaptureRepeatsAreDroppedAndFeaturesEqualABatchRecomputation() async throws {
        let n = MySQLTestSupport.Names()
        defer { MySQLTestSupport.cleanUp(n) }
        let sql = try MySQLTestSupport.admin()
        try sql.execute("""
            CREATE TABLE \(n.table)(id BIGINT PRIMARY KEY, listing_id BIGINT, guest_id BIGINT, nights BIGINT, price_per_night DOUBLE,
                                    status VARCHAR(16), created_at_ms BIGINT)
            """)
        let keyed = ["--message-key-columns", "app.\(n.table):listing_id"]
        func saved() -> String {
            guard let d = FileManager.default.contents(atPath: n.stateFile),
                  let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else { return "" }
            return "\(o["gtids"] ?? "")#\(o["partialEvents"] ?? 0)"
        }
        let first = try MySQLTestSupport.startProcess(n, extraArguments: keyed)
        defer { if first.isRunning { first.terminate(); first.waitForExit(timeout: .seconds(300)) } }
        try await waitUntil(timeout: .seconds(120)) { FileManager.default.fileExists(atPath: n.stateFile) }
        let (changes, statements) = Self.workload(table: n.table)
        let admin = MySQLTestSupport.adminDSN
        let writer = Task.detached { () throws -> String in
            let w = try MySQLConnection(dsn: MySQLDSN(parsing: admin))
            for k in stride(from: 0, to: statements.count, by: 50) {   // transactions of 50 changes
                try w.execute("START TRANSACTION")
                for s in statements[k..<min(k + 50, statements.count)] { try w.execute(s) }
                try w.execute("COMMIT")
                try await Task.sleep(for: .milliseconds(60))   // ~4 s of commits: the kill lands mid-stream
            }
            return (try w.query("SELECT @@last_gtid").first?.first ?? nil) ?? ""
        }
        // Kill 150 ms after the saved position moved (the capture saves every 200 ms) while
        // transactions keep committing: what Kafka acknowledged since is published again.
        let s0 = saved()
        try await waitUntil(timeout: .seconds(120), every: .milliseconds(5)) { saved() != s0 && !saved().hasPrefix("#") }
        let s1 = saved()
        try await waitUntil(timeout: .seconds(120), every: .milliseconds(2)) { saved() != s1 }
        try await Task.sleep(for: .milliseconds(150))
        kill(first.processIdentifier, SIGKILL)
        first.waitForExit(timeout: .seconds(300))
        let killedWith = saved()
        let lastGTID = try #require(BinlogGTID(try await writer.value))

        let second = try MySQLTestSupport.startProcess(n, extraArguments: keyed)
        defer { if second.isRunning { second.terminate(); second.waitForExit(timeout: .seconds(300)) } }
        try await waitUntil(timeout: .seconds(180), every: .milliseconds(50)) {
            let gtids = saved().split(separator: "#").first.map(String.init) ?? ""
            return gtids.split(separator: ",").compactMap { BinlogGTID(String($0)) }.contains { $0.domain == lastGTID.domain && $0.sequence >= lastGTID.sequence }
        }
        second.terminate()
        second.waitForExit(timeout: .seconds(300))
        let records = try KafkaTopicReader.readAll(topic: n.topic, configuration: KafkaTestSupport.kafka).filter { $0.value != nil }
        let repeats = records.count - changes.count
        // Under a heavily loaded machine the kill can land when everything published was saved
        // (no repeats): then this run checks the restart only; the checks below hold either way.
        withKnownIssue("no unsaved tail at the kill on a loaded machine", isIntermittent: true) {
            #expect(repeats > 0, "the restarted capture published its unsaved tail again (\(records.count) events for \(changes.count) changes; saved state at the kill \(killedWith))")
        }

        let redis = try RedisConfiguration(url: Services.redisURL)
        let namespace = KafkaTestSupport.unique("mypricing")
        let sink = RedisFeatureSinkMetrics()
        let job = RealtimePricingJob.make(kafka: KafkaTestSupport.kafka, topic: n.topic, groupID: n.topic + "-job", redis: redis,
                                          startFrom: .earliest, bounded: true, namespace: namespace, sinkMetrics: sink)
        let result = try await job.run(parallelism: 2)
        #expect(result.metrics.sourceRecords.current == UInt64(records.count))
        #expect(result.metrics.droppedRecords == UInt64(repeats), "every repeat dropped, nothing else")
        #expect(sink.errors.current == 0)
        let checked = try await expectDemandFeaturesEqualBatch(changes: changes, listings: 40, redis: redis, namespace: namespace)
        #expect(checked == 40)
        try RedisConnection(redis).deleteKeys(matching: "\(namespace):*")
    }
}
