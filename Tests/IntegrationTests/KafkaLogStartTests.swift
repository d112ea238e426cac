import Foundation
import Logging
import Testing
import StreamKit
import StreamKitKafka

/// Reads "from the beginning" start at the log start even when the broker's `ListOffsets(earliest)`
/// says otherwise. Tansu 0.6 answers it with the base offset of the batch *written first in time*;
/// when several producers write one partition at once, a batch with a later offset is sometimes
/// stored before the one at offset 0, and a read that started where `ListOffsets` said silently
/// skipped the records before it (seen as inference topics a few thousand requests short).
///
/// Two tests: reads from the beginning send no `ListOffsets` request at all (librdkafka's protocol
/// log, deterministic); and, on a topic where the broker shows a wrong earliest offset, they still
/// return every record. Making the broker show it takes a race: rounds of eight producers writing
/// one record to each of 16 partitions at the same moment, until some partition's reported
/// earliest offset is above 0 — one or two rounds on a quiet machine, but on a loaded one the
/// producers' threads rarely overlap, so that test does not fail when no round shows it.
@Suite(.serialized, .enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up, KAFKA_BROKERS)"))
struct KafkaLogStartTests {
    typealias K = KafkaTestSupport
    static let producers = 8, partitions: Int32 = 16, maxRounds = 20

    /// One round: a new topic (one extra partition for warming the producers' metadata), then every
    /// producer writes one record to each partition at once. Returns the topic, the records it holds
    /// and the partitions whose reported earliest offset is above 0.
    static func round(_ producers: [KafkaProducer]) throws -> (topic: String, records: Int, wrong: [Int32]) {
        let topic = K.unique("log-start")
        try K.createTopic(topic, partitions: Int(partitions) + 1)
        for p in producers {
            try p.send(topic: topic, key: nil, value: Array("warm".utf8), partition: partitions)
            try p.flush()
        }
        // One thread per producer, all released at once (not the concurrency pool: send and flush block).
        let start = DispatchSemaphore(value: 0), done = DispatchGroup()
        let errors = Errors()
        for producer in producers {
            done.enter()
            Thread {
                defer { done.leave() }
                start.wait()
                do {
                    for p in 0..<partitions { try producer.send(topic: topic, key: nil, value: Array("\(p)".utf8), partition: p) }
                    try producer.flush()
                } catch { errors.add("\(error)") }
            }.start()
        }
        for _ in producers { start.signal() }
        done.wait()
        if let e = errors.first { throw StreamKitError(.connector, e) }
        let described = try #require(try KafkaAdmin(configuration: K.kafka).describe(topic: topic))
        let wrong = described.partitions.filter { $0.id < partitions && $0.low > 0 }.map(\.id)
        return (topic, producers.count * (Int(partitions) + 1), wrong)
    }

    final class Errors: @unchecked Sendable {
        private let lock = NSLock()
        private var list: [String] = []
        func add(_ e: String) { lock.withLock { list.append(e) } }
        var first: String? { lock.withLock { list.first } }
    }

    /// Every record of `topic` read by ``KafkaTopicReader/readAll(topic:configuration:isolation:timeout:)``
    /// and by a bounded `.earliest` ``KafkaSource``, with librdkafka's protocol log in `log` when given.
    static func reads(_ topic: String, log: CapturingLogHandlerStore? = nil) async throws -> (readAll: [KafkaRecord], source: Int) {
        var kafka = K.kafka
        if let log {
            kafka.logger = log.logger("kafka")
            kafka.properties["debug"] = "protocol"
            kafka.properties["log_level"] = "7"
        }
        let reader = kafka
        let all = try await BlockingCall.run { try KafkaTopicReader.readAll(topic: topic, configuration: reader) }
        let source = KafkaSource(kafka: kafka, K.source(topic, group: K.unique("log-start-g")), decoder: StringLines())
        let out = CollectedOutput<String>()
        try await Job("log-start") { env in env.source(source).collect(into: out) }.run()
        return (all, out.count)
    }

    @Test(.timeLimit(.minutes(10)))
    func readsFromTheBeginningAskNoListOffsets() async throws {
        let topic = K.unique("log-start-plain")
        try K.createTopic(topic, partitions: 2)
        defer { _ = try? KafkaAdmin(configuration: K.kafka).deleteTopics([topic]) }
        try await BlockingCall.run {
            let producer = try KafkaProducer(configuration: K.kafka)
            for i in 0..<20 { try producer.send(topic: topic, key: nil, value: Array("\(i)".utf8), partition: Int32(i % 2)) }
            try producer.flush()
        }
        let log = CapturingLogHandlerStore()
        let (all, source) = try await Self.reads(topic, log: log)
        #expect(all.count == 20 && source == 20, "readAll \(all.count), source \(source) of 20")
        let lines = log.lines.withLock { $0 }
        #expect(lines.contains { $0.contains("FetchRequest") }, "librdkafka's protocol log was captured")
        let asked = lines.filter { $0.contains("ListOffsets") }
        #expect(asked.isEmpty, "reads from the beginning asked ListOffsets: \(asked.prefix(3))")
    }

    @Test(.timeLimit(.minutes(10)))
    func readsFromTheBeginningReturnEveryRecordWhereTheBrokersEarliestIsWrong() async throws {
        // Not idempotent and without linger: idempotent produces queue on the broker's one metadata
        // document, which mostly orders them and hides the race.
        // The rounds take up to a minute on a loaded machine: off the concurrency pool.
        let rounds = try await BlockingCall.run {
            let producers = try (0..<Self.producers).map { _ in
                try KafkaProducer(configuration: K.kafka, idempotent: false, extraProperties: ["linger.ms": "0"])
            }
            var rounds: [(topic: String, records: Int, wrong: [Int32])] = []
            for _ in 0..<Self.maxRounds {
                rounds.append(try Self.round(producers))
                if !rounds.last!.wrong.isEmpty { break }
            }
            return rounds
        }
        defer { _ = try? KafkaAdmin(configuration: K.kafka).deleteTopics(rounds.map(\.topic)) }
        let r = try #require(rounds.last)
        if r.wrong.isEmpty {
            print("KafkaLogStartTests: no partition's ListOffsets(earliest) was above 0 in \(Self.maxRounds) rounds (a loaded machine); the reads are checked on the last topic")
        }
        let (all, source) = try await Self.reads(r.topic)
        #expect(all.count == r.records, "readAll: \(all.count) of \(r.records) records (partitions \(r.wrong) report an earliest offset above 0)")
        for p in r.wrong {
            #expect(all.filter { $0.partition == p }.map(\.offset) == Array(0..<Int64(Self.producers)), "partition \(p) from offset 0")
        }
        #expect(source == r.records, "bounded .earliest source: \(source) of \(r.records) records")
    }
}
