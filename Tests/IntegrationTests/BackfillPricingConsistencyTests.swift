import Foundation
import Testing
import StreamKit
import StreamKitBackfill
import StreamKitDebezium
import StreamKitJobs
import StreamKitKafka
import StreamKitRedis

/// Online = offline for `realtime-pricing`, on the real Tansu broker and Redis: the job (Kafka →
/// per-listing demand after every change → Redis + inference requests) runs over booking changes
/// with out-of-order changes, cancellations and late changes (behind the watermark, so served
/// after their event time); then the backfill runs the same feature definition over the same
/// changes from a file, with labels at every logged `served_at`: every vector equals the served
/// one bit for bit, and at a probe time after the end every listing equals Redis. Reading the
/// history from the topic gives the same rows.
@Suite(.enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up, KAFKA_BROKERS)"))
struct BackfillPricingConsistencyTests {
    typealias K = KafkaTestSupport
    static let base: Int64 = 1_750_000_000_000

    /// 3,000 changes of 40 listings over 75 minutes, out of order by up to ±2 s (inside the 5 s
    /// watermark delay), 5 % cancellations; every 101st change is followed by one 30 s behind (late:
    /// still in the hour kept, served when it arrives) and every 401st by one 2 h behind (ignored).
    static func changes() -> [String] {
        var rng = SplitMix64(seed: 1616)
        var lines: [String] = []
        var id: Int64 = 0
        func add(_ ts: Int64) {
            id += 1
            let cancel = rng.next() % 20 == 0
            let b = Booking(id: id, listingId: Int64(1 + rng.next() % 40), guestId: Int64(rng.next() % 1000),
                            nights: Int64(1 + rng.next() % 5), pricePerNight: Double(rng.next() % 30_000) / 100 + 50.01,
                            status: cancel ? "cancelled" : "confirmed", createdAtMs: ts)
            lines.append(String(decoding: RealtimePricingJob.debeziumLine(b, op: cancel ? .update : .create), as: UTF8.self))
        }
        for i in 0..<3_000 {
            let ts = base + 5_000 + Int64(i) * 1_500 + Int64(rng.next() % 4_001) - 2_000
            add(ts)
            if i % 101 == 100 { add(ts - 30_000) }
            if i % 401 == 400 { add(ts - 2 * 3_600_000) }
        }
        return lines
    }

    @Test(.timeLimit(.minutes(10)))
    func backfilledDemandVectorsEqualTheServedOnes() async throws {
        let lines = Self.changes()
        let topic = K.unique("backfill-bookings"), inference = K.unique("backfill-pricing-inference")
        try K.createTopic(topic, partitions: 1)
        try K.createTopic(inference, partitions: 1)
        defer { _ = try? KafkaAdmin(configuration: K.kafka).deleteTopics([topic, inference]) }
        let producer = try KafkaProducer(configuration: K.kafka)
        for line in lines { try producer.send(topic: topic, key: nil, value: Array(line.utf8)) }
        try producer.flush()
        let path = NSTemporaryDirectory() + K.unique("backfill-bookings") + ".ndjson"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }

        // Online: Kafka → job → Redis + inference requests.
        let namespace = K.unique("backfill-pricing-ns")
        let redis = try RedisConfiguration(url: Services.redisURL)
        defer { _ = try? RedisConnection(redis).deleteKeys(matching: "\(namespace):*") }
        let online = try await RealtimePricingJob.make(kafka: K.kafka, topic: topic, groupID: K.unique("backfill-pricing-g"), redis: redis,
                                                       startFrom: .earliest, bounded: true, namespace: namespace,
                                                       inferenceTopic: inference, modelVersion: "v1").run(parallelism: 2)
        #expect(online.metrics.sourceRecords.current == Int64(lines.count))
        let log = try ServedRequestLog(try KafkaTopicReader.readAll(topic: inference, configuration: K.kafka, timeout: .seconds(180)))
        #expect(log.requests.count > 2_500)
        #expect(log.requests.contains { $0.servedAt > $0.eventTime }, "late changes were served after their event time")

        // Offline: the same definition over the file (one split, like the topic's one partition).
        let job = try RealtimePricingJob(["namespace": namespace])
        var labels = log.labels
        let probe = Self.base + 90 * 60_000
        let listings = (1...40).map(String.init)
        for l in listings { labels.append(LabelEvent(entity: l, time: probe, label: "\"probe\"")) }
        let result = try await Backfill(job: job, labels: .events(labels)).run(input: .file(path), parallelism: 1)
        #expect(result.rows.count == labels.count)
        #expect(result.events == Int64(lines.count))
        let (equal, compared) = log.compare(result.rows, view: job.featureView)
        #expect(compared == log.labels.count && equal == compared, "\(equal) of \(compared) vectors equal")

        // The history read from the topic instead: the same rows.
        let fromKafka = try await Backfill(job: job, labels: .events(labels)).run(input: .kafka(topic: topic, configuration: K.kafka), parallelism: 1)
        #expect(fromKafka.rows.map(\.features) == result.rows.map(\.features))
        #expect(fromKafka.rows.map(\.featureEventTime) == result.rows.map(\.featureEventTime))

        // At the probe time the backfill serves what Redis holds.
        let stored = try await FeatureClient(configuration: redis, now: { probe }).getMany(view: job.featureView, entities: listings)
        for (l, vector) in zip(listings, stored) {
            let row = try #require(result.rows.first { $0.label.entity == l && $0.label.time == probe })
            let v = try #require(vector, "listing \(l) has features in Redis")
            #expect(v.isFresh == true)
            #expect(row.featureEventTime == v.eventTime, "listing \(l)")
            #expect(row.features == v.features.map { Optional($0.value) }, "listing \(l)")
        }
    }
}
