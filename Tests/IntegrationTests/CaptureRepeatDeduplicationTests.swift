import Foundation
import Testing
import StreamKit
import StreamKitTesting
import StreamKitDebezium
import StreamKitKafka

/// kill -9 of the capture process while many small transactions stream, then a restart: what
/// Kafka acknowledged after the saved position is published again (at least once), with the same
/// `source.sequence` as the first time, so ``DebeziumDeduplicator`` (one position per partition)
/// turns the topic back into every row exactly once — also for the first transactions after the
/// restart, whose sequence continues from the saved position (`sequenceBase`).
@Suite(.enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up)"))
struct CaptureRepeatDeduplicationTests {
    struct IdRow: Decodable, Sendable { let id: Int }

    @Test(.timeLimit(.minutes(15)))
    func repeatsAfterAKillCarryTheirSequenceAndAreDropped() async throws {
        let n = PostgresCaptureTests.Names()
        defer {
            PostgresCaptureRecoveryTests.cleanUp(n)
            PostgresCaptureTests.cleanUp(n)
        }
        _ = try PostgresCaptureTests.sql("CREATE TABLE \(n.table)(id int PRIMARY KEY, v int)")
        func stateLSN() -> Int {
            guard let d = FileManager.default.contents(atPath: n.stateFile),
                  let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else { return 0 }
            return (o["lsn"] as? Int) ?? 0
        }
        let first = try startCaptureProcess(n)
        try await waitFor(.seconds(300)) { try PostgresCaptureTests.slotIsConsistent(n) }
        let transactions = 400, perTransaction = 50, rows = transactions * perTransaction
        let writer = Task.detached {
            for t in 0..<transactions {
                let from = t * perTransaction + 1
                _ = try PostgresCaptureTests.sql("INSERT INTO \(n.table) SELECT g, g FROM generate_series(\(from), \(from + perTransaction - 1)) g")
            }
        }
        // Kill once the saved position moved twice: Kafka has acknowledged past it by then.
        let lsn0 = stateLSN()
        try await waitUntil(timeout: .seconds(180), every: .milliseconds(5)) { stateLSN() > lsn0 }
        let lsn1 = stateLSN()
        try await waitUntil(timeout: .seconds(180), every: .milliseconds(5)) { stateLSN() > lsn1 }
        kill(first.processIdentifier, SIGKILL)
        first.waitForExit(timeout: .seconds(300))
        try await writer.value

        let second = try startCaptureProcess(n)
        defer { if second.isRunning { second.terminate(); second.waitForExit(timeout: .seconds(300)) } }
        var records: [KafkaRecord] = []
        try await waitFor(.seconds(300)) {
            records = try KafkaTopicReader.readAll(topic: n.topic, configuration: KafkaTestSupport.kafka)
            return Set(records.compactMap { r in r.value.flatMap { _ in r.key } }).count >= rows
        }
        second.terminate()
        second.waitForExit(timeout: .seconds(300))
        records = try KafkaTopicReader.readAll(topic: n.topic, configuration: KafkaTestSupport.kafka)

        var decoder = DebeziumDecoder<IdRow>()
        var sequences: [Int: Set<String>] = [:]
        var byPartition: [Int32: [DebeziumRecord<IdRow>]] = [:]
        for r in records.sorted(by: { ($0.partition, $0.offset) < ($1.partition, $1.offset) }) {
            guard let v = r.value else { continue }
            let record = try v.withUnsafeBytes { try decoder.decode($0) }
            let e = try #require(record.envelope)
            sequences[e.after!.id, default: []].insert(e.source.sequence ?? "nil")
            byPartition[r.partition, default: []].append(record)
        }
        let published = sequences.count
        #expect(published == rows, "every row published")
        let repeated = records.count - rows
        #expect(sequences.values.allSatisfy { $0.count == 1 }, "a row published again carries the sequence of its first publication")

        // The job-side operator, split by partition as the Kafka source hands them out.
        let h = try OperatorTestHarness(DebeziumDeduplicator<IdRow>())
        for (partition, list) in byPartition.sorted(by: { $0.key < $1.key }) {
            var b = Batch<DebeziumRecord<IdRow>>()
            for record in list { b.append(record, timestamp: 0, watermark: Watermark.none) }
            b.split = partition
            try h.processBatch(b)
        }
        let ids = h.outputValues.compactMap { $0.envelope?.after?.id }
        #expect(ids.count == rows && Set(ids).count == rows, "after deduplication every row exactly once (\(ids.count) events, \(Set(ids).count) rows; \(repeated) repeats in the topic)")
        #expect(h.operator.dropped == UInt64(repeated))
    }
}
