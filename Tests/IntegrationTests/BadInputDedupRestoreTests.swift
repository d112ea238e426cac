import Foundation
import Testing
import StreamKit
import StreamKitKafka
import StreamKitQuery

/// Deduplication state is checkpointed with the Kafka source position: a repeat of an event read
/// before a checkpoint is still recognised after the job is stopped and restored from it.
@Suite(.serialized) struct BadInputDedupRestoreTests {
    typealias B = BadInput

    @Test(.timeLimit(.minutes(15)))
    func duplicateOfAnEventBeforeTheCheckpointIsCaughtAfterRestore() async throws {
        try #require(KafkaTestSupport.reachable, "no Kafka broker at \(Services.kafkaBrokers)")
        let topic = KafkaTestSupport.unique("badinput-dedup"), group = KafkaTestSupport.unique("g")
        try KafkaTestSupport.createTopic(topic, partitions: 1)
        defer { _ = try? KafkaAdmin(configuration: KafkaTestSupport.kafka).deleteTopics([topic]) }
        let dir = NSTemporaryDirectory() + KafkaTestSupport.unique("badinput-cp")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)

        let producer = try KafkaProducer(configuration: KafkaTestSupport.kafka)
        let first = B.goodEvents(50)
        for e in first { try producer.send(topic: topic, message: B.message(e)) }
        try producer.flush()

        var validation = FieldRecordValidation()
        validation.identityPaths = ["source.lsn"]
        let decoder = try StrictFieldRecordDecoder<Int64>(keyPath: "after.user_id", timePath: "after.ts_ms", valuePaths: ["after.amount"],
                                                          validation: validation)
        let rows = CollectedOutput<FieldRecord<Int64>>(), dead = CollectedOutput<DeadLetter<String>>()
        func job(bounded: Bool) -> (Job, KafkaSource<StrictFieldRecordDecoder<Int64>>) {
            let source = KafkaSource(kafka: KafkaTestSupport.kafka, KafkaTestSupport.source(topic, group: group, bounded: bounded), decoder: decoder)
            let job = Job("dedup-restore") { env in
                let raw = env.source(source, name: "kafka")
                raw.sideOutput(DeadLetter<String>.self).collect(into: dead)
                raw.collect(into: rows)
            }
            return (job, source)
        }
        var options = Job.RunOptions(parallelism: 1)
        options.checkpoints = CheckpointConfiguration(directory: dir, interval: nil)

        // Run 1: read the first 50 events, checkpoint, stop.
        let (job1, source1) = job(bounded: false)
        let running = try job1.start(options)
        try await waitUntil { source1.metrics.messages.current == 50 }
        let id = try #require(running.triggerCheckpoint())
        #expect(running.waitForCheckpoint(id))
        running.stop(checkpoint: false)
        #expect(rows.count == 50 && dead.count == 0)

        // Then a repeat of event 10 (read before the checkpoint) and five new events.
        let second = B.goodEvents(5, firstID: 51, start: B.base + 5_000)
        try producer.send(topic: topic, message: B.message(first[10]))
        for e in second { try producer.send(topic: topic, message: B.message(e)) }
        try producer.flush()

        // Run 2: restored from the checkpoint, bounded.
        options.restore = true
        let (job2, _) = job(bounded: true)
        let resumed = try await job2.run(options)
        #expect(resumed.restoredCheckpoint != nil)
        #expect(rows.count == 55, "the five new events, not the repeat")
        #expect(dead.count == 1)
        #expect(dead.values.first?.code == .duplicate)
        #expect(dead.values.first?.origin?.position == 50)
        #expect(dead.values.first?.record == B.line(first[10]))
    }
}
