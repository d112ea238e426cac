import Foundation
import Testing
import StreamKit
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

        // 3,000 changes over ~70 minutes of event time for 40 listings; 5 % cancel an earlier booking.
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
                statements.append("UPDATE \(n.table) SET status = 'cancelled', created_at_ms = \(at) WHERE id = \(b.id)")
            } else {
                let b = Booking(id: Int64(i), listingId: Int64(rng.next() % 40) + 1, guestId: Int64(rng.next() % 1000),
                                nights: Int64(rng.next() % 5) + 1, pricePerNight: Double(rng.next() % 30_000) / 100 + 50,
                                status: "confirmed", createdAtMs: at)
                bookings.append(b)
                changes.append((b, .create))
                statements.append("INSERT INTO \(n.table) VALUES (\(b.id), \(b.listingId), \(b.guestId), \(b.nights), \(b.pricePerNight), 'confirmed', \(at))")
            }
        }
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
}
