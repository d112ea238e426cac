import Foundation
import Testing
import StreamKit
import StreamKitKafka

/// Reads "from the beginning" start at the log start even when the broker's `ListOffsets(earliest)`
/// says otherwise. Tansu 0.6 answers it with the base offset of the batch *written first in time*;
/// when several producers write one partition at once, a batch with a later offset is sometimes
/// stored before the one at offset 0, and a read that started where `ListOffsets` said silently
/// skipped the records before it (seen as inference topics a few thousand requests short).
///
/// The test first makes the broker show the condition: rounds of eight producers each writing one
/// record to each of 16 partitions at the same moment, until some partition's reported earliest
/// offset is above 0 (about one partition in thirty per round on this machine). Then the topic is
/// read with ``KafkaTopicReader/readAll(topic:configuration:isolation:timeout:)`` and with a
/// bounded `.earliest` ``KafkaSource``: both must return every record.
@Suite(.enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up, KAFKA_BROKERS)"))
struct KafkaLogStartTests {
    typealias K = KafkaTestSupport
    static let producers = 8, partitions: Int32 = 16, maxRounds = 40

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

    @Test(.timeLimit(.minutes(5)))
    func readsFromTheBeginningStartAtTheLogStartNotAtListOffsets() async throws {
        // Not idempotent and without linger: idempotent produces queue on the broker's one metadata
        // document, which mostly orders them and hides the race.
        let producers = try (0..<Self.producers).map { _ in
            try KafkaProducer(configuration: K.kafka, idempotent: false, extraProperties: ["linger.ms": "0"])
        }
        var found: (topic: String, records: Int, wrong: [Int32])? = nil
        var topics: [String] = []
        defer { _ = try? KafkaAdmin(configuration: K.kafka).deleteTopics(topics) }
        for _ in 0..<Self.maxRounds {
            let r = try Self.round(producers)
            topics.append(r.topic)
            if !r.wrong.isEmpty { found = r; break }
        }
        let r = try #require(found, "in \(Self.maxRounds) rounds no partition's ListOffsets(earliest) was above 0: the broker did not show the condition this test is about")

        let all = try KafkaTopicReader.readAll(topic: r.topic, configuration: K.kafka)
        #expect(all.count == r.records, "readAll: \(all.count) of \(r.records) records (partitions \(r.wrong) report an earliest offset above 0)")
        for p in r.wrong {
            #expect(all.filter { $0.partition == p }.map(\.offset) == Array(0..<Int64(Self.producers)), "partition \(p) from offset 0")
        }

        let source = KafkaSource(kafka: K.kafka, K.source(r.topic, group: K.unique("log-start-g")), decoder: StringLines())
        let out = CollectedOutput<String>()
        try await Job("log-start") { env in env.source(source).collect(into: out) }.run()
        #expect(out.count == r.records, "bounded .earliest source: \(out.count) of \(r.records) records")
    }
}
