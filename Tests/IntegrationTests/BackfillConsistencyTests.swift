import Foundation
import Testing
import StreamKit
import StreamKitBackfill
import StreamKitJobs
import StreamKitJSON
import StreamKitKafka
import StreamKitRedis

/// Online = offline, on the real Tansu broker and Redis: the user-activity pipeline (Kafka → job
/// → Redis + inference requests) runs over events with out-of-order, late (re-fired under 10 s
/// allowed lateness) and dropped events; then the backfill runs the same feature definition over
/// the same events from a file, with labels at the logged `served_at` times and at one probe time
/// after the end. Every backfilled vector equals the served one bit for bit (the doubles' shortest
/// round-trip text is compared), and at the probe time exactly the entities whose stored features
/// are older than the 5-minute TTL are missing. Reading the history and the labels from Kafka
/// instead of files gives the same rows.
@Suite(.enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up, KAFKA_BROKERS)"))
struct BackfillConsistencyTests {
    typealias K = KafkaTestSupport
    static let m: Int64 = 28_333_334 * 60_000

    /// 4,000 events of 250 users over 8 minutes, out of order by up to ±1.5 s; users 1–50 stop after
    /// 2 minutes (their features expire before the probe time); every 97th event is followed by a
    /// late one 5 s behind (inside the allowed lateness), every 331st by one 400 s behind (dropped).
    static func events() -> [String] {
        var rng = SplitMix64(seed: 16)
        var lines: [String] = []
        var id = 0
        func add(_ user: Int64, _ ts: Int64) {
            id += 1
            let cents = Int64(rng.next() % 50_001)
            let amount = "\(cents / 100).\(cents % 100 < 10 ? "0" : "")\(cents % 100)"
            lines.append(#"{"before":null,"after":{"id":\#(id),"user_id":\#(user),"item_id":1,"interaction_type":"view","amount":\#(amount),"ts_ms":\#(ts)},"op":"c","ts_ms":\#(ts)}"#)
        }
        for i in 0..<4_000 {
            let ts = m + 5_000 + Int64(i) * 120 + Int64(rng.next() % 3_001) - 1_500
            let early = ts < m + 125_000
            let user = early ? Int64(1 + rng.next() % 250) : Int64(51 + rng.next() % 200)
            add(user, ts)
            if i % 97 == 96 { add(Int64(51 + rng.next() % 200), ts - 5_000) }
            if i % 331 == 330 { add(Int64(51 + rng.next() % 200), ts - 400_000) }
        }
        return lines
    }

    /// One logged inference request.
    struct Served { var entity: String; var eventTime: Int64; var servedAt: Int64; var features: String }

    static func parse(_ record: KafkaRecord) throws -> Served {
        let value = try #require(record.value)
        let extractor = JSONFieldExtractor(["entity", "event_time", "served_at", "features"])
        var fields: [JSONScalar] = []
        return try value.withUnsafeBytes { doc in
            try extractor.extract(doc, into: &fields)
            return Served(entity: try #require(fields[0].string(in: doc)), eventTime: try #require(fields[1].int64(in: doc)),
                          servedAt: try #require(fields[2].int64(in: doc), "requests carry served_at"),
                          features: String(decoding: fields[3].rawBytes(in: doc), as: UTF8.self))
        }
    }

    /// The features object as the inference request writes it.
    static func featuresJSON(_ values: [FeatureValue?], view: FeatureView) -> String {
        var w = JSONWriter(capacity: 128)
        w.beginObject()
        for (f, v) in zip(view.features, values) {
            w.key(f.name)
            switch v {
            case let .int(x)?: w.value(x)
            case let .double(x)?: w.value(x)
            case let .string(x)?: w.value(x)
            case nil: w.null()
            }
        }
        w.endObject()
        return String(decoding: w.bytes, as: UTF8.self)
    }

    @Test(.timeLimit(.minutes(15)))
    func backfilledVectorsEqualTheServedOnes() async throws {
        let lines = Self.events()
        let topic = K.unique("backfill-interactions"), inference = K.unique("backfill-inference")
        try K.createTopic(topic, partitions: 1)
        try K.createTopic(inference, partitions: 1)
        defer { _ = try? KafkaAdmin(configuration: K.kafka).deleteTopics([topic, inference]) }
        try K.produceWorkload(lines, topic: topic)
        let path = NSTemporaryDirectory() + K.unique("backfill-history") + ".ndjson"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }

        // Online: Kafka → job → Redis + inference requests.
        let arguments = ["allowed-lateness": "10s", "ttl": "5m", "namespace": K.unique("backfill-ns")]
        let job = try UserActivityFeatures(arguments)
        let redis = try RedisConfiguration(url: Services.redisURL)
        var o = UserActivityFeatures.Options(kafka: K.kafka, topic: topic, groupID: K.unique("backfill-g"),
                                             redis: RedisFeatureSinkConfiguration(redis: redis))
        o.bounded = true; o.sourceParallelism = 1
        o.sessionTimeout = .seconds(2); o.heartbeatInterval = .milliseconds(500)
        o.namespace = arguments["namespace"]!; o.allowedLateness = .seconds(10); o.ttl = .minutes(5)
        o.inferenceTopic = inference; o.modelVersion = "v1"
        defer { _ = try? RedisConnection(redis).deleteKeys(matching: "\(o.namespace):*") }
        let online = try await UserActivityFeatures.job(o).run(parallelism: 2)
        #expect(online.metrics.lateRecords > 0, "some events were dropped as too late")
        let requests = try KafkaTopicReader.readAll(topic: inference, configuration: K.kafka, timeout: .seconds(180)).map(Self.parse)
        #expect(requests.count > 1_000)
        #expect(requests.contains { $0.servedAt > $0.eventTime }, "late updates were served after their event time")

        // What the store served at each logged served_at: the newest event time among the entity's
        // rows servable by then, the last written among equals (the Redis upsert keeps it).
        var byEntity: [String: [Served]] = [:]
        for r in requests { byEntity[r.entity, default: []].append(r) }
        var expected: [String: String] = [:]          // "entity@t" → features JSON
        var labels: [LabelEvent] = []
        for (entity, list) in byEntity {
            for t in Set(list.map(\.servedAt)) {
                var best: Served? = nil
                for r in list where r.servedAt <= t { if best == nil || r.eventTime >= best!.eventTime { best = r } }
                expected["\(entity)@\(t)"] = best!.features
                labels.append(LabelEvent(entity: entity, time: t, label: "\"\(entity)@\(t)\""))
            }
        }
        // The probe: one label per entity after the end, against Redis read with that clock.
        let probe = Self.m + 14 * 60_000
        let entities = (1...250).map(String.init)
        for e in entities { labels.append(LabelEvent(entity: e, time: probe, label: "\"probe\"")) }

        // Offline: the same definition over the file, as one split like the topic's one partition:
        // which events are too late depends on the watermark, and with several splits it is the
        // minimum of theirs (see the README: P > 1 may accept late events one split drops).
        let result = try await Backfill(job: job, labels: .events(labels)).run(input: .file(path), parallelism: 1)
        #expect(result.rows.count == labels.count)
        var equal = 0, compared = 0
        for row in result.rows where row.label.label != "\"probe\"" {
            compared += 1
            let key = "\(row.label.entity)@\(row.label.time)"
            let got = row.features.map { Self.featuresJSON($0, view: job.featureView) }
            if got == expected[key] { equal += 1 } else { Issue.record("\(key): backfill \(got ?? "missing"), served \(expected[key] ?? "?")") }
        }
        #expect(compared == labels.count - entities.count && equal == compared, "\(equal) of \(compared) vectors equal")

        // The same backfill reading the history and the labels from Kafka gives the same rows.
        let labelTopic = K.unique("backfill-labels")
        try K.createTopic(labelTopic, partitions: 2)
        defer { _ = try? KafkaAdmin(configuration: K.kafka).deleteTopics([labelTopic]) }
        let producer = try KafkaProducer(configuration: K.kafka)
        for l in labels {
            try producer.send(topic: labelTopic, message: KafkaMessage(key: l.entity, value: #"{"entity":"\#(l.entity)","label_time":\#(l.time),"label":\#(l.label)}"#))
        }
        try producer.flush()
        let fromKafka = try await Backfill(job: job, labels: .kafka(topic: labelTopic, configuration: K.kafka))
            .run(input: .kafka(topic: topic, configuration: K.kafka), parallelism: 1)
        #expect(fromKafka.events == result.events)
        #expect(fromKafka.rows.map(\.features) == result.rows.map(\.features))
        #expect(fromKafka.rows.map(\.featureEventTime) == result.rows.map(\.featureEventTime))
        #expect(fromKafka.rows.map(\.label.time) == result.rows.map(\.label.time))

        let client = FeatureClient(configuration: redis, now: { probe })
        let stored = try await client.getMany(view: job.featureView, entities: entities)
        var fresh = 0, stale = 0
        for (e, vector) in zip(entities, stored) {
            let row = try #require(result.rows.first { $0.label.entity == e && $0.label.time == probe })
            let v = try #require(vector, "user \(e) has features in Redis")
            if v.isFresh == true {
                fresh += 1
                #expect(row.featureEventTime == v.eventTime)
                #expect(row.features == v.features.map { Optional($0.value) }, "user \(e)")
            } else {
                stale += 1
                #expect(row.features == nil && row.featureEventTime == nil, "user \(e): older than the TTL at the probe")
            }
        }
        #expect(fresh > 0 && stale > 0, "fresh \(fresh), stale \(stale)")
    }
}
