import Foundation
import Testing
import StreamKit
import FeatureJobs
import StreamKitJobs
import StreamKitKafka
import StreamKitRedis
import StreamKitWorkload
import StreamKitQuery

/// Example jobs on real Kafka and Redis, checked against batch recomputations (offline = online).
@Suite(.serialized) struct ExampleJobsIntegrationTests {
    static func io(topic: String, namespace: String) throws -> JobContext {
        var io = JobContext(input: .kafka(topic: topic), output: .redis, kafka: KafkaTestSupport.kafka,
                       redis: try RedisConfiguration(url: Services.redisURL), groupID: topic + "-job")
        io.startFrom = .earliest
        io.bounded = true
        return io
    }

    struct Event { var user: Int64; var item: Int64; var ts: Int64; var amount: Double }

    static func events(_ lines: [String]) throws -> [Event] {
        let d = try FieldRecordDecoder<Int64>(keyPath: "after.user_id", timePath: "after.ts_ms", valuePaths: ["after.item_id", "after.amount"])
        var decoder = d
        return try lines.map { line in
            var bytes = Array(line.utf8)
            let r = try bytes.withUnsafeMutableBytes { try decoder.decode(UnsafeRawBufferPointer($0)) }
            return Event(user: r.key, item: Int64(r.v0), ts: r.time, amount: r.v1)
        }
    }

    @Test func sessionFeaturesEqualABatchSessionization() async throws {
        try #require(KafkaTestSupport.reachable)
        let topic = KafkaTestSupport.unique("sessions"), namespace = KafkaTestSupport.unique("sess")
        try KafkaTestSupport.createTopic(topic)
        // 8,000 events, 1 s apart, for 200 users, with a 45-minute pause halfway: everyone has two sessions.
        var gen = WorkloadGenerator(seed: 5, count: 8_000)
        var lines: [String] = []
        var buf: [UInt8] = []
        var i: Int64 = 0
        while var e = gen.next() {
            e.userId = e.userId % 200 + 1
            e.tsMs = 1_700_000_000_000 + i * 1_000 + (i >= 4_000 ? 45 * 60_000 : 0) + (e.tsMs - 1_700_000_000_000 - i)   // jitter kept
            i += 1
            buf.removeAll(keepingCapacity: true)
            WorkloadGenerator.appendLine(of: e, to: &buf)
            lines.append(String(decoding: buf.dropLast(), as: UTF8.self))
        }
        try KafkaTestSupport.produceWorkload(lines, topic: topic)
        var sio = try Self.io(topic: topic, namespace: namespace)
        if ProcessInfo.processInfo.environment["SESSION_FROM_FILE"] != nil {
            let path = NSTemporaryDirectory() + topic + ".jsonl"
            try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            sio.input = .file(path)
        }
        let job = try SessionFeaturesJob(["namespace": namespace]).job(sio)
        let result = try await job.run(parallelism: 2)
        #expect(result.metrics.sourceRecords.current == 8_000)

        // Offline: the last session of every user (gap 30 min, event-time order).
        var byUser: [Int64: [Event]] = [:]
        for e in try Self.events(lines) { byUser[e.user, default: []].append(e) }
        let view = SessionFeaturesJob.view(namespace: namespace)
        let users = byUser.keys.sorted()
        let online = try await FeatureClient(configuration: try RedisConfiguration(url: Services.redisURL))
            .getMany(view: view, entities: users.map(String.init))
        var sessionsSeen = 0
        for (user, vector) in zip(users, online) {
            let evs = byUser[user]!.sorted { $0.ts < $1.ts }
            var start = evs[0].ts, last = evs[0].ts, items: Set<Int64> = [evs[0].item], count: Int64 = 1
            for e in evs.dropFirst() {
                if e.ts - last >= 30 * 60_000 { start = e.ts; items = []; count = 0; sessionsSeen += 1 }
                last = e.ts; items.insert(e.item); count += 1
            }
            let v = try #require(vector, "user \(user)")
            func f(_ n: String) -> FeatureValue? { v.features.first { $0.name == n }?.value }
            #expect(f("session_start") == .int(start), "user \(user)")
            #expect(f("events_in_session") == .int(count), "user \(user)")
            #expect(f("distinct_items") == .int(Int64(items.count)), "user \(user)")
            #expect(f("session_length_ms") == .int(last - start), "user \(user)")
            #expect(f("state") == .string("closed"), "at end of input every session closed")
        }
        #expect(sessionsSeen > 0, "the data has users with more than one session")
        try RedisConnection(try RedisConfiguration(url: Services.redisURL)).deleteKeys(matching: "\(namespace):*")
    }

    @Test func driftMonitorSendsAlertsForAShiftedAmount() async throws {
        try #require(KafkaTestSupport.reachable)
        let topic = KafkaTestSupport.unique("drift"), alerts = topic + ".alerts"
        // One partition: the monitor's reservoirs are seeded, so with one input order the reports are
        // the same on every run (with 4 partitions the interleaving, and so the samples, varied).
        try KafkaTestSupport.createTopic(topic, partitions: 1)
        try KafkaTestSupport.createTopic(alerts)
        // 6 minutes of the workload (1-minute windows start at ...040_000, ...100_000, ...160_000,
        // ...220_000, ...); from 1_700_000_220_000 on, amounts are tripled (drift).
        var gen = WorkloadGenerator(seed: 9, count: 360_000)
        var lines: [String] = []
        var buf: [UInt8] = []
        while var e = gen.next() {
            if e.tsMs >= 1_700_000_220_000 { e.amountCents = min(e.amountCents * 3, 999_999) }
            buf.removeAll(keepingCapacity: true)
            WorkloadGenerator.appendLine(of: e, to: &buf)
            lines.append(String(decoding: buf.dropLast(), as: UTF8.self))
        }
        try KafkaTestSupport.produceWorkload(lines, topic: topic)
        var io = try Self.io(topic: topic, namespace: "unused")
        io.output = .file(NSTemporaryDirectory() + topic + ".reports.ndjson")
        defer { try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + topic + ".reports.ndjson") }
        try await DriftMonitorJob(["window-size": "1m", "alert-topic": alerts]).job(io).run(parallelism: 1)
        let reports = try String(contentsOfFile: NSTemporaryDirectory() + topic + ".reports.ndjson", encoding: .utf8)
            .split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(reports.count >= 5)
        let alerted = reports.filter { !(($0["signals"] as? [Any]) ?? []).isEmpty }.map { $0["windowStart"] as! Int64 }
        // Each window is compared with the previous one: only the first shifted window differs from its reference.
        #expect(alerted == [1_700_000_220_000], "alerts in windows \(alerted)")
        let onTopic = try KafkaTopicReader.readAll(topic: alerts, configuration: KafkaTestSupport.kafka, timeout: .seconds(180))
        #expect(onTopic.count == alerted.count && onTopic.count > 0, "every alert went to the alert topic")
    }

    @Test func userFeaturesEqualABatchRecomputation() async throws {
        try #require(KafkaTestSupport.reachable)
        let topic = KafkaTestSupport.unique("user-features"), namespace = KafkaTestSupport.unique("uf")
        try KafkaTestSupport.createTopic(topic)
        let lines = KafkaTestSupport.workloadLines(20_000)
        try KafkaTestSupport.produceWorkload(lines, topic: topic)
        let result = try await UserFeaturesJob(["namespace": namespace]).job(try Self.io(topic: topic, namespace: namespace)).run(parallelism: 2)
        #expect(result.metrics.sourceRecords.current == 20_000)

        // Offline: every user's newest 5-minute window (the one ending at floor(last / 1 min) * 1 min + 5 min).
        struct Row { var type: String; var item: Int64; var amount: Double; var ts: Int64 }
        var byUser: [Int64: [Row]] = [:]
        for line in lines {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let a = o["after"] as! [String: Any]
            byUser[(a["user_id"] as! NSNumber).int64Value, default: []].append(
                Row(type: a["interaction_type"] as! String, item: (a["item_id"] as! NSNumber).int64Value,
                    amount: (a["amount"] as! NSNumber).doubleValue, ts: (a["ts_ms"] as! NSNumber).int64Value))
        }
        let users = Array(byUser.keys.sorted().prefix(500))
        let online = try await FeatureClient(configuration: try RedisConfiguration(url: Services.redisURL))
            .getMany(view: UserFeaturesJob.view5m(namespace: namespace), entities: users.map(String.init))
        for (user, vector) in zip(users, online) {
            let rows = byUser[user]!
            let end = rows.map(\.ts).max()! / 60_000 * 60_000 + 300_000
            let inWindow = rows.filter { $0.ts >= end - 300_000 && $0.ts < end }
            let v = try #require(vector, "user \(user)")
            func f(_ n: String) -> Double? { v.features.first { $0.name == n }?.value.doubleValue }
            #expect(v.eventTime == end - 1, "user \(user)")
            #expect(f("clicks") == Double(inWindow.filter { $0.type == "click" }.count), "user \(user)")
            #expect(f("purchases") == Double(inWindow.filter { $0.type == "purchase" }.count), "user \(user)")
            let spend = inWindow.filter { $0.type == "purchase" }.reduce(0.0) { $0 + $1.amount }
            #expect(abs((f("spend") ?? -1) - spend) < 1e-6, "user \(user)")
            #expect(f("distinct_items") == Double(Set(inWindow.map(\.item)).count), "user \(user)")
            // DDSketch: within 1 % of numpy's 'lower' p90 (rank floor(0.9 (n - 1))).
            let sorted = inWindow.map(\.amount).sorted()
            let exact = sorted[Int(0.9 * Double(sorted.count - 1))]
            #expect(abs((f("p90_amount") ?? -1) - exact) <= 0.01 * abs(exact) + 1e-9, "user \(user)")
        }
        try RedisConnection(try RedisConfiguration(url: Services.redisURL)).deleteKeys(matching: "\(namespace):*")
    }
}
