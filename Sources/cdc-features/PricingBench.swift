import ArgumentParser
import Foundation
import StreamKit
import FeatureJobs
import StreamKitJobs

struct BenchPricing: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pricing",
        abstract: "realtime-pricing under a steady live load: booking commit time → demand features in Redis (p50/p95/p99).")
    @Option(help: "Booking changes per second.") var rate: Int = 2000
    @Option(help: "Seconds of load.") var seconds: Int = 10
    @Option(help: "Listings.") var listings: Int = 1000
    @Option(help: "Bootstrap servers (default $KAFKA_BROKERS or 127.0.0.1:19092).") var brokers: String?
    @Option(help: "Redis URL (default $REDIS_URL or redis://127.0.0.1:16379).") var redis: String?
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        let kafka = try kafkaConfiguration(brokers ?? ServiceDefaults.brokers)
        let redisConfig = try RedisConfiguration(url: redis ?? ServiceDefaults.redis)
        let topic = "bench-bookings-\(UUID().uuidString.prefix(8))"
        let admin = try KafkaAdmin(configuration: kafka)
        try admin.createTopics([KafkaTopicSpec(name: topic, partitions: 4)])
        _ = try admin.waitForTopic(topic)
        defer { _ = try? admin.deleteTopics([topic]) }
        let namespace = "bench-\(topic)"
        defer { _ = try? RedisConnection(redisConfig).deleteKeys(matching: "\(namespace):*") }

        let sinkMetrics = RedisFeatureSinkMetrics()
        let job = RealtimePricingJob.make(kafka: kafka, topic: topic, groupID: "pricing-\(topic)", redis: redisConfig,
                                          startFrom: .earliest, namespace: namespace, sinkMetrics: sinkMetrics)
        let running = try job.start(Job.RunOptions(parallelism: 2))
        Thread.sleep(forTimeInterval: 2.5)   // group join

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
            ("changes", "\(id)"), ("rate_per_s", "\(rate)"), ("listings_sampled", "\(latencies.count)"),
            ("commit_to_feature_p50_ms", "\(pct(50))"), ("commit_to_feature_p95_ms", "\(pct(95))"), ("commit_to_feature_p99_ms", "\(pct(99))"),
            ("ingest_to_redis_p50_ms", String(format: "%.1f", lat.percentileMillis(50))),
            ("ingest_to_redis_p99_ms", String(format: "%.1f", lat.percentileMillis(99))),
            ("redis_writes", "\(sinkMetrics.written.current)"),
        ]
        printFields(fields, json: json)
    }
}
