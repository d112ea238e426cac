import Foundation
import Synchronization
import Testing
import StreamKit
import StreamKitKafka
import StreamKitWorkload

/// Throughput of the Kafka connector (run with KAFKA_BENCH=1, ideally in a release build):
/// produce N workload messages (~334 B) to a 4-partition topic with ``KafkaProducer``, then read
/// them with a bounded ``KafkaSource`` into a discarding sink.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["KAFKA_BENCH"] == "1" && KafkaTestSupport.reachable))
struct KafkaBench {
    @Test func consumeAndProduceRates() async throws {
        let K = KafkaTestSupport.self
        let n = Int(ProcessInfo.processInfo.environment["KAFKA_BENCH_EVENTS"] ?? "") ?? 1_000_000
        let topic = K.unique("bench")
        try K.createTopic(topic)
        var gen = WorkloadGenerator(seed: 42, count: n)
        var line: [UInt8] = []
        let producer = try KafkaProducer(configuration: K.kafka)
        let t0 = ContinuousClock.now
        var bytes = 0
        while let e = gen.next() {
            line.removeAll(keepingCapacity: true)
            WorkloadGenerator.appendLine(of: e, to: &line)
            line.removeLast()
            bytes += line.count
            try producer.send(topic: topic, key: Array(String(e.userId).utf8), value: line)
        }
        try producer.flush()
        let produceSeconds = (ContinuousClock.now - t0) / .seconds(1)
        print("kafka bench: produced \(n) messages (avg \(bytes / n) B) in \(produceSeconds) s = \(Int(Double(n) / produceSeconds)) msg/s")

        for parallelism in [1, 2] {
            let count = Atomic<Int>(0)
            var config = K.source(topic, group: K.unique("bench-g"), parallelism: parallelism)
            config.pollTimeout = .milliseconds(100)
            let source = KafkaSource(kafka: K.kafka, config, decoder: ClosureLineDecoder { $0.count })
            var options = Job.RunOptions(parallelism: parallelism)
            options.batchSize = 4096
            let t1 = ContinuousClock.now
            let result = try await Job("bench") { env in
                env.source(source).sink("discard") {
                    DiscardSink(initial: 0, observe: { c, _ in c += 1 }, done: { c in count.add(c, ordering: .relaxed) })
                }
            }.run(options)
            let seconds = (ContinuousClock.now - t1) / .seconds(1)
            #expect(count.load(ordering: .relaxed) == n)
            print("kafka bench: consumed \(n) messages with \(parallelism) reader(s) in \(seconds) s = \(Int(Double(n) / seconds)) msg/s (job \(result.seconds) s, incl. ~1 s group join)")
        }
    }
}
