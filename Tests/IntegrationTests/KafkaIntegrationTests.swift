import Foundation
import Synchronization
import Testing
@_spi(Testing) import StreamKit
import StreamKitKafka
import StreamKitQuery

/// The Kafka connector against the real Tansu broker (`scripts/services up`, KAFKA_BROKERS).
/// Every test uses its own topics and consumer groups.
@Suite(.enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up, KAFKA_BROKERS)"))
struct KafkaIntegrationTests {
    typealias K = KafkaTestSupport

    static func decoder() throws -> FieldRecordDecoder<Int64> {
        try FieldRecordDecoder<Int64>(keyPath: "after.user_id", timePath: "after.ts_ms", valuePaths: ["after.amount"])
    }

    /// source → timestamps → keyBy → 10 s tumbling window (count, sum of cents) → "key,start,count,cents" lines.
    static func windows(_ raw: DataStream<FieldRecord<Int64>>) -> DataStream<String> {
        raw.filter("rows") { $0.kind == .row }
            .assignTimestamps({ $0.time }, watermark: .boundedOutOfOrderness(.seconds(3)))
            .keyBy { $0.key }
            .window(.tumbling(size: .seconds(10)))
            .aggregate(.count(), .sum { ($0.v0 * 100).rounded() }) { (count: $0, cents: $1) }
            .map("format") { r in "\(r.key),\(r.windowStart),\(r.count),\(Int64(r.cents))" }
    }

    /// The same window query over a file holding the same lines.
    static func fileReference(_ lines: [String]) async throws -> [String] {
        let path = NSTemporaryDirectory() + K.unique("kafka-ref") + ".jsonl"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let out = CollectedOutput<String>()
        let decoder = try decoder()
        try await Job("file-reference") { env in
            windows(env.source(FileSource(path: path, decoder: decoder))).collect(into: out)
        }.run()
        return out.values.sorted()
    }

    @Test(.timeLimit(.minutes(15)), arguments: [KafkaPartitionAssignment.readers, .group])
    func windowJobOverKafkaEqualsTheFileRun(assignment: KafkaPartitionAssignment) async throws {
        let topic = K.unique("win"), group = K.unique("g")
        try K.createTopic(topic)
        let lines = K.workloadLines(20_000)
        try K.produceWorkload(lines, topic: topic)
        let expected = try await Self.fileReference(lines)
        #expect(expected.count > 1000)

        let out = CollectedOutput<String>()
        let source = KafkaSource(kafka: K.kafka, K.source(topic, group: group, parallelism: 2, assignment: assignment), decoder: try Self.decoder())
        var options = Job.RunOptions(parallelism: 2)
        options.batchSize = 1000
        let result = try await Job("kafka-window") { env in
            Self.windows(env.source(source, name: "kafka")).collect(into: out)
        }.run(options)
        #expect(result.metrics.sourceRecords.current == UInt64(lines.count))
        let got = out.values.sorted()
        #expect(got.count == expected.count)
        #expect(got == expected, "\(difference(got, expected))")
        #expect(source.metrics.messages.current == UInt64(lines.count))
        // Message age at poll: the records were produced before the reference run, so every
        // sampled poll saw them some milliseconds to minutes (a loaded machine: not hours, not the
        // epoch) after their timestamp.
        #expect(source.metrics.messageAge.count > 0)
        let age = source.metrics.messageAge.percentileMillis(50)
        #expect(age >= 1 && age < 3_600_000, "message age p50 \(age) ms")
    }

    @Test(.timeLimit(.minutes(15)))
    func failureThenRestoreResumesFromCheckpointedOffsets() async throws {
        let topic = K.unique("restore"), group = K.unique("g")
        try K.createTopic(topic)
        let lines = K.workloadLines(20_000)
        try K.produceWorkload(lines, topic: topic)
        let expected = try await Self.fileReference(lines)

        let dir = NSTemporaryDirectory() + K.unique("kafka-cp")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let outPath = dir + "/out.txt"
        let decoder = try Self.decoder()
        func job() -> Job {
            Job("kafka-restore") { env in
                let source = KafkaSource(kafka: K.kafka, K.source(topic, group: group, parallelism: 2), decoder: decoder)
                Self.windows(env.source(source, name: "kafka")).writeLines(to: outPath) { s, out in out.append(contentsOf: s.utf8) }
            }
        }
        var options = Job.RunOptions(parallelism: 2)
        options.batchSize = 500
        options.checkpoints = CheckpointConfiguration(directory: dir + "/cp", interval: nil, everyRecords: 1_000)
        // The readers start at once (no group join): do not outrun the first checkpoint.
        options.faults = FaultInjection(failAfterRecords: 9_000, afterACheckpoint: true)
        await #expect(throws: StreamKitError.self) { try await job().run(options) }
        let committedAfterFailure = try KafkaAdmin(configuration: K.kafka).committedOffsets(group: group, topic: topic)
        // Commits follow completed checkpoints (exactly tested in offsetsAreCommittedOnlyAfterACheckpointCompletes);
        // whether one reaches the group before the injected failure is timing, so only the bound is checked here.
        #expect(committedAfterFailure.values.reduce(0, +) < Int64(lines.count), "nothing past the failure was committed")

        options.faults = nil
        options.restore = true
        let resumed = try await job().run(options)
        #expect(resumed.restoredCheckpoint != nil)
        #expect(resumed.metrics.sourceRecords.current < UInt64(lines.count), "resumed from the checkpointed offsets")
        let got = try String(contentsOfFile: outPath, encoding: .utf8).split(separator: "\n").map(String.init).sorted()
        #expect(got.count == expected.count)
        #expect(got == expected, "no loss, no duplicates: \(difference(got, expected))")
    }

    @Test(.timeLimit(.minutes(15)))
    func offsetsAreCommittedOnlyAfterACheckpointCompletes() async throws {
        let topic = K.unique("commit"), group = K.unique("g")
        try K.createTopic(topic)
        try K.produceWorkload(K.workloadLines(2_000), topic: topic)
        let source = KafkaSource(kafka: K.kafka, K.source(topic, group: group, bounded: false), decoder: StringLines())
        let dir = NSTemporaryDirectory() + K.unique("kafka-commit")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = Job.RunOptions(parallelism: 1)
        options.checkpoints = CheckpointConfiguration(directory: dir, interval: nil)
        let running = try Job("commit") { env in
            env.source(source).sink("discard") { DiscardSink(initial: 0, observe: { n, _ in n += 1 }, done: { _ in }) }
        }.start(options)
        let admin = try KafkaAdmin(configuration: K.kafka)
        try await waitUntil { source.metrics.messages.current == 2_000 }
        try await Task.sleep(for: .milliseconds(300))
        #expect(try admin.committedOffsets(group: group, topic: topic).isEmpty, "nothing committed before a checkpoint")
        let id = try #require(running.triggerCheckpoint())
        #expect(running.waitForCheckpoint(id))
        try await waitUntil { (try? admin.committedOffsets(group: group, topic: topic).values.reduce(0, +)) == 2_000 }
        #expect(source.metrics.commits.current >= 1)
        try await waitUntil { source.metrics.partitionLags.count == 4 && source.metrics.totalLag == 0 }
        running.stop(checkpoint: false)
    }

    /// A new topic of `records` records "0", "1", … one second apart from `timedBase` (Kafka
    /// timestamps), keyed over `keys` keys.
    static let timedBase: Int64 = 1_700_000_000_000
    static func timedTopic(_ prefix: String, records: Int, partitions: Int, keys: Int) throws -> String {
        let topic = K.unique(prefix)
        try K.createTopic(topic, partitions: partitions)
        let producer = try KafkaProducer(configuration: K.kafka)
        for i in 0..<records {
            try producer.send(topic: topic, message: KafkaMessage(key: "k\(i % keys)", value: "\(i)", timestamp: timedBase + Int64(i) * 1000))
        }
        try producer.flush()
        return topic
    }

    /// The records of a bounded read of `topic` from `.timestamp(from)` (nil: the beginning) with
    /// `stopAfterTimestamp`, as numbers, sorted.
    static func readTimed(_ topic: String, from: Int64?, stopAfter: Int64? = nil) async throws -> [Int] {
        var c = K.source(topic, group: K.unique("g"), startFrom: from.map { .timestamp($0) } ?? .earliest)
        c.stopAfterTimestamp = stopAfter
        let source = KafkaSource(kafka: K.kafka, c, decoder: StringLines())
        let out = CollectedOutput<String>()
        try await Job("timed") { env in env.source(source).collect(into: out) }.run()
        return out.values.compactMap(Int.init).sorted()
    }

    @Test(.timeLimit(.minutes(15)))
    func replayFromATimestamp() async throws {
        let topic = try Self.timedTopic("replay", records: 100, partitions: 2, keys: 7)
        #expect(try await Self.readTimed(topic, from: Self.timedBase + 60_000) == Array(60..<100))
    }

    /// A bounded read of a time range: each partition from `.timestamp(from)` to its first
    /// record after `stopAfterTimestamp`: exactly the records in between, and the source finishes
    /// although every partition has records after the stop.
    @Test(.timeLimit(.minutes(15)))
    func boundedReadStopsEachPartitionAfterATimestamp() async throws {
        let topic = try Self.timedTopic("stop", records: 300, partitions: 3, keys: 11)
        let base = Self.timedBase
        // Records 0…299 are 1 s apart: stop after 120.5 s keeps 0…120; with a start at 60 s, 60…120.
        #expect(try await Self.readTimed(topic, from: nil, stopAfter: base + 120_500) == Array(0...120))
        #expect(try await Self.readTimed(topic, from: base + 60_000, stopAfter: base + 120_500) == Array(60...120))
        // A stop time on a record's own timestamp keeps that record; one before every record keeps none.
        #expect(try await Self.readTimed(topic, from: nil, stopAfter: base + 10_000) == Array(0...10))
        #expect(try await Self.readTimed(topic, from: nil, stopAfter: base - 1) == [])
    }

    @Test(.timeLimit(.minutes(15)))
    func malformedMessagesGoToTheDeadLetterTopicAndTheJobContinues() async throws {
        let topic = K.unique("dlq-in"), dlq = K.unique("dlq"), group = K.unique("g")
        try K.createTopic(topic, partitions: 2)
        try K.createTopic(dlq, partitions: 1)
        let producer = try KafkaProducer(configuration: K.kafka)
        let lines = K.workloadLines(200)
        for (i, line) in lines.enumerated() {
            try producer.send(topic: topic, message: KafkaMessage(key: "k", value: line))
            if i % 50 == 0 { try producer.send(topic: topic, message: KafkaMessage(key: "k", value: "{not json \(i)")) }
        }
        try producer.send(topic: topic, key: Array("k".utf8), value: nil)  // a tombstone
        try producer.flush()
        let out = CollectedOutput<FieldRecord<Int64>>()
        let source = KafkaSource(kafka: K.kafka, K.source(topic, group: group), decoder: try Self.decoder())
        try await Job("dlq") { env in
            let raw = env.source(source)
            raw.sideOutput(DeadLetter<String>.self).writeDeadLetters(toKafka: K.kafka, topic: dlq)
            raw.filter { $0.kind == .row }.collect(into: out)
        }.run()
        #expect(out.count == 200, "the job went on past the malformed messages")
        let dead = try KafkaTopicReader.readAll(topic: dlq, configuration: K.kafka)
        #expect(dead.count == 5, "4 malformed + 1 tombstone")
        for d in dead {
            #expect(d.header("streamkit.dlq.source.topic")?.stringValue == topic, "headers name topic, partition and offset")
            #expect(d.header("streamkit.dlq.source.partition")?.stringValue.flatMap { Int32($0) } != nil)
            #expect(d.header("streamkit.dlq.source.offset")?.stringValue.flatMap { Int64($0) } != nil)
            #expect(d.header("streamkit.dlq.error")?.stringValue?.isEmpty == false)
        }
        #expect(dead.contains { $0.header("streamkit.dlq.reason")?.stringValue == "tombstone" })
        #expect(dead.contains { $0.valueString == "{not json 50" })
    }

    struct SlowOperator: StreamOperator {
        typealias Input = String
        typealias Output = String
        mutating func processBatch(_ input: inout Batch<String>, into output: inout Batch<String>,
                                   side: inout Batch<Never>, context: OperatorContext) throws {
            usleep(3_000)
            for i in 0..<input.count { output.append(input.values[i], timestamp: input.timestamps[i], watermark: input.watermarks[i]) }
        }
    }

    @Test(.timeLimit(.minutes(15)))
    func backPressurePausesThePartitions() async throws {
        let topic = K.unique("bp"), group = K.unique("g")
        try K.createTopic(topic, partitions: 2)
        try K.produceWorkload(K.workloadLines(5_000), topic: topic)
        let out = CollectedOutput<String>()
        let source = KafkaSource(kafka: K.kafka, K.source(topic, group: group), decoder: StringLines())
        var options = Job.RunOptions(parallelism: 1)
        options.batchSize = 100
        options.channelPolicy = HighLowWatermark(low: 1, high: 2)
        try await Job("bp") { env in
            env.source(source).keyBy { $0.count }.transform("slow") { SlowOperator() }.collect(into: out)
        }.run(options)
        #expect(out.count == 5_000, "nothing lost while paused")
        #expect(source.metrics.pauses.current > 0)
        #expect(source.metrics.resumes.current > 0)
    }

    @Test(.timeLimit(.minutes(15)))
    func sinkProducesKeyedRecordsThatReadBack() async throws {
        let topic = K.unique("sink")
        try K.createTopic(topic)
        let metrics = KafkaSinkMetrics()
        try await Job("sink") { env in
            env.fromCollection(Array(0..<1_000)).writeToKafka(K.kafka, KafkaSinkConfiguration(topic: topic), metrics: metrics) { i in
                KafkaMessage(key: "k\(i % 10)", value: "\(i)", headers: [KafkaHeader(name: "n", string: "\(i)")])
            }
        }.run()
        #expect(metrics.delivered.current == 1_000)
        let records = try KafkaTopicReader.readAll(topic: topic, configuration: K.kafka)
        #expect(records.count == 1_000)
        let byKey = Dictionary(grouping: records) { $0.keyString ?? "" }
        #expect(byKey.count == 10)
        for (key, rs) in byKey {
            #expect(Set(rs.map(\.partition)).count == 1, "one key, one partition")
            let values = rs.sorted { $0.offset < $1.offset }.compactMap { Int($0.valueString ?? "") }
            #expect(values == values.sorted(), "in order within the key")
            #expect(values.allSatisfy { "k\($0 % 10)" == key })
            #expect(rs.allSatisfy { $0.header("n")?.stringValue == $0.valueString })
        }
    }

    @Test(.timeLimit(.minutes(15)))
    func openTransactionsAreHiddenAndCommittedOnesVisible() async throws {
        let topic = K.unique("txn")
        try K.createTopic(topic, partitions: 1)
        let producer = try KafkaProducer(configuration: K.kafka, transactionalID: K.unique("tx"))
        try producer.initTransactions()
        try producer.beginTransaction()
        for i in 0..<10 { try producer.send(topic: topic, message: KafkaMessage(key: nil, value: "\(i)")) }
        try producer.flush()
        #expect(try KafkaTopicReader.readAll(topic: topic, configuration: K.kafka, isolation: .readCommitted).isEmpty)
        #expect(try KafkaTopicReader.readAll(topic: topic, configuration: K.kafka, isolation: .readUncommitted).count == 10)
        try producer.commitTransaction()
        #expect(try KafkaTopicReader.readAll(topic: topic, configuration: K.kafka, isolation: .readCommitted).count == 10)
    }

    /// Kafka → map → transactional KafkaSink linked to the source: the output is invisible to
    /// read_committed readers until the checkpoint completes, then visible with the source offsets
    /// committed in the same transaction.
    @Test(.timeLimit(.minutes(15)))
    func transactionalSinkCommitsOnCheckpointWithTheSourceOffsets() async throws {
        let input = K.unique("tx-in"), output = K.unique("tx-out"), group = K.unique("g")
        try K.createTopic(input, partitions: 2)
        try K.createTopic(output, partitions: 2)
        try K.produceWorkload(K.workloadLines(300), topic: input)
        let link = KafkaTransactionLink()
        var sourceConfig = K.source(input, group: group, bounded: false)
        sourceConfig.transactionLink = link
        let source = KafkaSource(kafka: K.kafka, sourceConfig, decoder: StringLines())
        var sinkConfig = KafkaSinkConfiguration(topic: output)
        sinkConfig.transactionalID = K.unique("txjob")
        sinkConfig.transactionLink = link
        let sinkMetrics = KafkaSinkMetrics()
        let dir = NSTemporaryDirectory() + K.unique("kafka-tx")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = Job.RunOptions(parallelism: 1)
        options.checkpoints = CheckpointConfiguration(directory: dir, interval: nil)
        let finalSinkConfig = sinkConfig
        let running = try Job("tx") { env in
            env.source(source).map { K.userID($0) }.writeToKafka(K.kafka, finalSinkConfig, metrics: sinkMetrics) { u in
                KafkaMessage(key: u, value: u)
            }
        }.start(options)
        try await waitUntil { sinkMetrics.delivered.current == 300 }
        #expect(try KafkaTopicReader.readAll(topic: output, configuration: K.kafka).isEmpty, "open transaction hidden")
        let id = try #require(running.triggerCheckpoint())
        #expect(running.waitForCheckpoint(id))
        try await waitUntil { sinkMetrics.transactionsCommitted.current >= 1 }
        #expect(try KafkaTopicReader.readAll(topic: output, configuration: K.kafka).count == 300)
        let committed = try KafkaAdmin(configuration: K.kafka).committedOffsets(group: group, topic: input)
        #expect(committed.values.reduce(0, +) == 300, "source offsets committed in the transaction")
        running.stop(checkpoint: false)
    }
}

/// A short description of how two sorted line lists differ (instead of printing both).
func difference(_ got: [String], _ expected: [String]) -> String {
    let g = Set(got), e = Set(expected)
    return "\(got.count) rows vs \(expected.count) expected; missing \(e.subtracting(g).count) e.g. \(e.subtracting(g).sorted().prefix(3)); extra \(g.subtracting(e).count) e.g. \(g.subtracting(e).sorted().prefix(3))"
}
