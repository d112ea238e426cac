import ArgumentParser
import Foundation
import StreamKit
import FeatureJobs
import StreamKitJobs
import Synchronization
import StreamKitDebezium
import StreamKitKafka
import StreamKitRedis
import StreamKitWorkload
import StreamKitPostgres

struct BenchPricing: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pricing",
        abstract: "realtime-pricing under a steady live load: booking commit time → demand features in Redis (p50/p95/p99). With --source postgres the bookings are rows committed to PostgreSQL and captured by the log-based capture (PostgreSQL → capture → Kafka → job → Redis).")
    @Option(help: "Booking changes per second.") var rate: Int = 2000
    @Option(help: "Seconds of load.") var seconds: Int = 10
    @Option(help: "Listings.") var listings: Int = 1000
    @OptionGroup var kafkaOptions: KafkaOptions
    @OptionGroup var redisOptions: RedisOptions
    @Option(help: "kafka: the bench produces Debezium events itself; postgres: rows are committed to PostgreSQL and captured.") var source: String = "kafka"
    @OptionGroup(title: "PostgreSQL (--source postgres)") var postgresOptions: PostgresOptions
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        let kafka = try kafkaOptions.configuration()
        let redisConfig = try redisOptions.configuration()
        guard source == "kafka" || source == "postgres" else { throw ValidationError("--source must be kafka or postgres") }
        let suffix = String(UUID().uuidString.prefix(8)).lowercased()
        let table = "bench_bookings_\(suffix)"
        let topic = source == "postgres" ? "benchpg\(suffix).public.\(table)" : "bench-bookings-\(suffix)"
        let admin = try KafkaAdmin(configuration: kafka)
        try admin.createTopics([KafkaTopicSpec(name: topic, partitions: 4)])
        _ = try admin.waitForTopic(topic)
        defer { _ = try? admin.deleteTopics([topic]) }
        let namespace = "bench-\(topic)"
        defer { _ = try? RedisConnection(redisConfig).deleteKeys(matching: "\(namespace):*") }

        let sinkMetrics = RedisFeatureSinkMetrics()
        let sourceMetrics = KafkaSourceMetrics()
        let job = RealtimePricingJob.make(kafka: kafka, topic: topic, groupID: "pricing-\(topic)", redis: redisConfig,
                                          startFrom: .earliest, namespace: namespace, sourceMetrics: sourceMetrics, sinkMetrics: sinkMetrics)
        let running = try job.start(Job.RunOptions(parallelism: 2))
        Thread.sleep(forTimeInterval: 0.5)

        if source == "postgres" {
            let pg = try PostgresPricingLoad(dsn: postgresOptions.address, table: table, prefix: "benchpg\(suffix)", kafka: kafka)
            defer { pg.cleanUp() }
            let changes = try pg.run(rate: rate, seconds: seconds, listings: listings)
            Thread.sleep(forTimeInterval: 1.0)
            running.stop(checkpoint: false)
            _ = try? running.waitUntilFinished()
            try report(changes: changes, redisConfig: redisConfig, namespace: namespace, running: running, sourceMetrics: sourceMetrics, sinkMetrics: sinkMetrics,
                       extra: [("capture_p50_ms", String(format: "%.2f", pg.capture.metrics.latencyMillis(percentile: 50))),
                               ("capture_p99_ms", String(format: "%.2f", pg.capture.metrics.latencyMillis(percentile: 99))),
                               ("source", "\"postgres\"")])
            return
        }

        // Steady live load: createdAtMs = now (the commit time), in 10 ms ticks.
        var producerConfiguration = kafka
        producerConfiguration.properties["linger.ms"] = "1"   // the database side commits and publishes right away
        let producer = try KafkaProducer(configuration: producerConfiguration)
        var rng = WorkloadGenerator.SplitMix64(seed: 7)
        let perTick = max(1, rate / 100)
        let ticks = seconds * 100
        let start = MonotonicClock.nanos()
        var id: Int64 = 0
        for t in 0..<ticks {
            for _ in 0..<perTick {
                id += 1
                let listing = Int64(rng.next() % UInt64(listings)) + 1
                let cancel = rng.next() % 20 == 0 && id > 1
                let b = Booking(id: cancel ? id - 1 : id, listingId: listing, guestId: Int64(rng.next() % 100_000),
                                nights: Int64(rng.next() % 7) + 1, pricePerNight: Double(rng.next() % 40_000) / 100 + 40,
                                status: cancel ? "cancelled" : "confirmed", createdAtMs: WallClock.millis())
                try producer.send(topic: topic, key: Array(String(listing).utf8), value: RealtimePricingJob.debeziumLine(b, op: cancel ? .update : .create))
            }
            producer.poll()
            let due = start + UInt64(t + 1) * 10_000_000
            let now = MonotonicClock.nanos()
            if due > now { usleep(UInt32((due - now) / 1000)) }
        }
        try producer.flush()
        Thread.sleep(forTimeInterval: 1.0)
        running.stop(checkpoint: false)
        _ = try? running.waitUntilFinished()
        try report(changes: Int(id), redisConfig: redisConfig, namespace: namespace, running: running, sourceMetrics: sourceMetrics, sinkMetrics: sinkMetrics, extra: [])
    }

    func report(changes: Int, redisConfig: RedisConfiguration, namespace: String, running: RunningJob,
                sourceMetrics: KafkaSourceMetrics, sinkMetrics: RedisFeatureSinkMetrics, extra: [(String, String)]) throws {

        // Commit (event) time → feature written, per listing's newest write.
        let connection = try RedisConnection(redisConfig)
        var latencies: [Int64] = []
        let view = FeatureView(name: RealtimePricingJob.view.name, entityKey: "listing_id", features: RealtimePricingJob.view.features,
                               ttl: .hours(2), version: 1, namespace: namespace)
        for l in 1...listings {
            if case let .array(items) = try connection.command(["HMGET", view.versionKey(entity: String(l)), "__event_time", "__updated"]),
               items.count == 2, let e = items[0].string.flatMap(Int64.init), let u = items[1].string.flatMap(Int64.init) {
                latencies.append(u - e)
            }
        }
        latencies.sort()
        func pct(_ p: Double) -> Int64 { latencies.isEmpty ? -1 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p / 100))] }
        let lat = running.metrics.endToEndLatency
        let fields: [(String, String)] = [
            ("changes", "\(changes)"), ("rate_per_s", "\(rate)"), ("listings_sampled", "\(latencies.count)"),
            ("commit_to_feature_p50_ms", "\(pct(50))"), ("commit_to_feature_p95_ms", "\(pct(95))"), ("commit_to_feature_p99_ms", "\(pct(99))"),
            // Every write of the run (the fields above: each listing's newest write, at the end).
            ("commit_to_feature_all_p50_ms", String(format: "%.0f", sinkMetrics.eventToWrite.percentileMillis(50))),
            ("commit_to_feature_all_p95_ms", String(format: "%.0f", sinkMetrics.eventToWrite.percentileMillis(95))),
            ("commit_to_feature_all_p99_ms", String(format: "%.0f", sinkMetrics.eventToWrite.percentileMillis(99))),
            ("commit_to_feature_all_writes", "\(sinkMetrics.eventToWrite.count)"),
            ("ingest_to_redis_p50_ms", String(format: "%.1f", lat.percentileMillis(50))),
            ("ingest_to_redis_p99_ms", String(format: "%.1f", lat.percentileMillis(99))),
            ("kafka_to_job_p50_ms", String(format: "%.1f", sourceMetrics.messageAge.percentileMillis(50))),
            ("kafka_to_job_p99_ms", String(format: "%.1f", sourceMetrics.messageAge.percentileMillis(99))),
            ("source_pauses", "\(sourceMetrics.pauses.current)"),
            ("redis_writes", "\(sinkMetrics.written.current)"), ("redis_flushes", "\(sinkMetrics.flushes.current)"),
        ] + extra
        printFields(fields, json: json)
    }
}

/// The PostgreSQL side of `bench pricing --source postgres`: a bookings table, a log-based capture
/// of it into the job's topic, and a steady load of committed rows (inserts, 5 % cancellations).
final class PostgresPricingLoad: @unchecked Sendable {
    // @unchecked: the load runs on the calling thread; the capture thread only reads `stop` and sets `failure`.
    let sql: PostgresConnection
    let table: String, slot: String
    let capture: PostgresCapture
    let stateFile: String
    let stop = Atomic<Bool>(false)
    let done = DispatchSemaphore(value: 0)
    let failure = Mutex<(any Error)?>(nil)

    init(dsn: String, table: String, prefix: String, kafka: KafkaConfiguration) throws {
        sql = try PostgresConnection(dsn: dsn)
        self.table = table; slot = table
        stateFile = NSTemporaryDirectory() + "\(table).state.json"
        try sql.execute("""
            CREATE TABLE \(table)(id bigint PRIMARY KEY, listing_id bigint, guest_id bigint, nights int,
                                  price_per_night numeric(10,2), status text, created_at_ms bigint)
            """)
        var c = PostgresCaptureConfiguration(dsn: dsn, slot: slot, publication: table, topicPrefix: prefix, stateFile: stateFile)
        c.tables = [table]
        c.snapshot = .never
        c.confirmInterval = .milliseconds(20)
        capture = PostgresCapture(configuration: c, kafka: kafka)
        Thread { [self] in
            do { try capture.run(until: { [self] in stop.load(ordering: .relaxed) }) } catch { failure.withLock { $0 = error } }
            done.signal()
        }.start()
        // Commits are captured once the slot reached its consistent point (it is already `active`
        // while CREATE_REPLICATION_SLOT waits for running transactions).
        for _ in 0..<200 where try sql.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND confirmed_flush_lsn IS NOT NULL", [slot]).rows.isEmpty {
            if let e = failure.withLock({ $0 }) { throw e }
            usleep(50_000)
        }
    }

    /// Commits `rate` changes per second for `seconds` in 10 ms transactions; returns the number of changes.
    func run(rate: Int, seconds: Int, listings: Int) throws -> Int {
        var rng = WorkloadGenerator.SplitMix64(seed: 7)
        let perTick = max(1, rate / 100)
        let start = MonotonicClock.nanos()
        var id: Int64 = 0, changes = 0
        for t in 0..<(seconds * 100) {
            var values: [String] = []
            var cancels: [Int64] = []
            for _ in 0..<perTick {
                if rng.next() % 20 == 0 && id > 1 { cancels.append(id - Int64(rng.next() % 50) % max(1, id - 1)); continue }
                id += 1
                let listing = Int64(rng.next() % UInt64(listings)) + 1
                let price = Double(rng.next() % 40_000) / 100 + 40
                values.append("(\(id), \(listing), \(rng.next() % 100_000), \(rng.next() % 7 + 1), \(price), 'confirmed', \(WallClock.millis()))")
            }
            var statement = values.isEmpty ? "" : "INSERT INTO \(table) VALUES " + values.joined(separator: ",") + ";"
            if !cancels.isEmpty {
                statement += "UPDATE \(table) SET status = 'cancelled', created_at_ms = \(WallClock.millis()) WHERE id IN (\(cancels.map(String.init).joined(separator: ",")));"
            }
            if !statement.isEmpty { try sql.execute(statement) }   // one transaction per tick
            changes += values.count + cancels.count
            if let e = failure.withLock({ $0 }) { throw e }
            let due = start + UInt64(t + 1) * 10_000_000
            let now = MonotonicClock.nanos()
            if due > now { usleep(UInt32((due - now) / 1000)) }
        }
        // Wait until the capture published everything committed.
        let end = PgOutput.parseLSN(try sql.execute("SELECT pg_current_wal_lsn()::text").rows[0][0] ?? "") ?? 0
        let deadline = MonotonicClock.nanos() + 30_000_000_000
        while capture.metrics.confirmedLSN.load(ordering: .relaxed) < end && MonotonicClock.nanos() < deadline { usleep(5000) }
        return changes
    }

    func cleanUp() {
        stop.store(true, ordering: .relaxed)
        _ = done.wait(timeout: .now() + 30)
        _ = try? sql.execute("SELECT pg_drop_replication_slot($1)", [slot])
        _ = try? sql.execute("DROP PUBLICATION IF EXISTS \(table); DROP TABLE IF EXISTS \(table)")
        try? FileManager.default.removeItem(atPath: stateFile)
        try? FileManager.default.removeItem(atPath: stateFile + ".status.json")
    }
}
