import Foundation
import Testing
@_spi(Testing) import StreamKit
import StreamKitJobs
import StreamKitKafka
import StreamKitRedis

/// Inference requests are idempotent by identity, on the real Tansu broker and Redis: the
/// user-activity pipeline run cleanly and run with a failure and an in-process restore produce
/// the same *set* of `streamkit.request.id`s (repeats after the restore carry the same id), and
/// every request's header equals its body's `request_id`.
@Suite(.enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up, KAFKA_BROKERS)"))
struct InferenceRequestIdTests {
    typealias K = KafkaTestSupport

    /// Runs the pipeline over `topic` to its end; returns the inference records.
    static func run(topic: String, label: String, options: Job.RunOptions) async throws -> (JobResult, [KafkaRecord]) {
        let inference = K.unique("\(label)-inference")
        try K.createTopic(inference, partitions: 2)
        defer { _ = try? KafkaAdmin(configuration: K.kafka).deleteTopics([inference]) }
        let redis = try RedisConfiguration(url: Services.redisURL)
        var o = UserActivityFeatures.Options(kafka: K.kafka, topic: topic, groupID: K.unique("\(label)-g"),
                                             redis: RedisFeatureSinkConfiguration(redis: redis))
        o.bounded = true
        // One reader: a second one could read its whole partition before the first checkpoint's
        // barrier reaches it, and a checkpoint a finished task missed never completes.
        o.sourceParallelism = 1
        o.sessionTimeout = .seconds(2); o.heartbeatInterval = .milliseconds(500)
        o.namespace = K.unique("\(label)-ns")
        o.inferenceTopic = inference
        o.modelVersion = "v7"
        defer { _ = try? RedisConnection(redis).deleteKeys(matching: "\(o.namespace):*") }
        let result = try await UserActivityFeatures.job(o).run(options)
        return (result, try KafkaTopicReader.readAll(topic: inference, configuration: K.kafka, timeout: .seconds(180)))
    }

    static func ids(_ records: [KafkaRecord]) throws -> [String] {
        try records.map { r in
            let header = try #require(r.headers.first { $0.name == InferenceRequestID.header }?.stringValue, "every request has the header")
            let body = try #require(try JSONSerialization.jsonObject(with: Data(r.value!)) as? [String: Any])
            #expect(body[InferenceRequestID.bodyField] as? String == header, "header and body carry the same id")
            #expect(header.count == 32)
            return header
        }
    }

    @Test(.timeLimit(.minutes(15)))
    func idsAfterACrashAndRestoreEqualACleanRun() async throws {
        let topic = K.unique("ids-interactions")
        try K.createTopic(topic, partitions: 2)
        defer { _ = try? KafkaAdmin(configuration: K.kafka).deleteTopics([topic]) }
        try K.produceWorkload(K.workloadLines(12_000), topic: topic)

        let (_, clean) = try await Self.run(topic: topic, label: "clean", options: Job.RunOptions(parallelism: 2))
        let cleanIDs = try Self.ids(clean)
        #expect(Set(cleanIDs).count == cleanIDs.count, "one request per (user, window) in a clean run")

        let dir = NSTemporaryDirectory() + K.unique("ids-cp")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = Job.RunOptions(parallelism: 2)
        options.batchSize = 500
        options.checkpoints = CheckpointConfiguration(directory: dir, interval: nil, everyRecords: 2_000)
        var faults = FaultInjection(failAfterRecords: 7_000, afterACheckpoint: true)
        faults.failingAttempts = 1
        options.faults = faults
        options.restartStrategy = .fixedDelay(attempts: 2, delay: .zero)
        let (result, crashed) = try await Self.run(topic: topic, label: "crash", options: options)
        #expect(result.restarts == 1, "last checkpoint \(result.lastCheckpoint), read \(result.metrics.sourceRecords.current)")
        #expect(result.restoredCheckpoint != nil, "the restart restored a checkpoint")
        let crashedIDs = try Self.ids(crashed)
        let lost = Set(cleanIDs).subtracting(crashedIDs), spurious = Set(crashedIDs).subtracting(cleanIDs)
        #expect(lost.isEmpty && spurious.isEmpty, "ids lost \(lost.count), spurious \(spurious.count)")
        #expect(crashedIDs.count >= cleanIDs.count, "repeats after the restore are allowed, with the same id")
    }
}
