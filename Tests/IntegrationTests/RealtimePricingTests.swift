import Foundation
import Testing
import StreamKit
import FeatureJobs
import StreamKitJobs
import StreamKitDebezium
import StreamKitKafka
import StreamKitRedis
import StreamKitWorkload

/// realtime-pricing on real Kafka and Redis: the demand features of every listing equal a batch
/// recomputation over the same booking changes (offline = online).
@Suite(.serialized) struct RealtimePricingTests {
    @Test func demandFeaturesEqualABatchRecomputation() async throws {
        try #require(KafkaTestSupport.reachable)
        let topic = KafkaTestSupport.unique("bookings")
        try KafkaTestSupport.createTopic(topic)
        let redis = try RedisConfiguration(url: Services.redisURL)
        let namespace = KafkaTestSupport.unique("pricing")
        // 4,000 changes over ~90 minutes of event time for 50 listings, in order per listing; 5 % cancellations.
        var rng = WorkloadGenerator.SplitMix64(seed: 11)
        var changes: [(Booking, DebeziumOperation)] = []
        let base: Int64 = 1_750_000_000_000
        for i in 0..<4_000 {
            let listing = Int64(rng.next() % 50) + 1
            let cancel = i > 0 && rng.next() % 20 == 0
            let b = Booking(id: Int64(i), listingId: listing, guestId: Int64(rng.next() % 1000), nights: Int64(rng.next() % 5) + 1,
                            pricePerNight: Double(rng.next() % 30_000) / 100 + 50, status: cancel ? "cancelled" : "confirmed",
                            createdAtMs: base + Int64(i) * 1_350)
            changes.append((b, cancel ? .update : .create))
        }
        let producer = try KafkaProducer(configuration: KafkaTestSupport.kafka)
        for (b, op) in changes {
            try producer.send(topic: topic, key: Array(String(b.listingId).utf8), value: RealtimePricingJob.debeziumLine(b, op: op))
        }
        try producer.flush()

        let sink = RedisFeatureSinkMetrics()
        let job = RealtimePricingJob.make(kafka: KafkaTestSupport.kafka, topic: topic, groupID: topic + "-job", redis: redis,
                                          startFrom: .earliest, bounded: true, namespace: namespace, sinkMetrics: sink)
        let result = try await job.run(parallelism: 2)
        #expect(result.metrics.sourceRecords.current == 4_000)
        #expect(sink.errors.current == 0)

        // Offline: per listing, sums over the 60 and 5 minutes ending at its newest change.
        let checked = try await expectDemandFeaturesEqualBatch(changes: changes, listings: 50, redis: redis, namespace: namespace)
        #expect(checked == 50)
        try RedisConnection(redis).deleteKeys(matching: "\(namespace):*")
    }
}
