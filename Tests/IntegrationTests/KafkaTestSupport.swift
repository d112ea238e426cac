import Foundation
import Synchronization
import StreamKit
import StreamKitKafka
import StreamKitWorkload

/// Helpers of the Kafka integration tests: the broker address, unique names, producing the workload.
enum KafkaTestSupport {
    static var kafka: KafkaConfiguration {
        var k = KafkaConfiguration(bootstrapServers: Services.kafkaBrokers)
        k.requestTimeout = .seconds(5)
        k.properties["log_level"] = "3"
        // KAFKA_DEBUG=cgrp,fetch,... turns on librdkafka's debug log (stderr) when a test misbehaves.
        if let d = ProcessInfo.processInfo.environment["KAFKA_DEBUG"] { k.properties["debug"] = d; k.properties["log_level"] = "7" }
        return k
    }

    /// Whether a TCP connection to the first broker succeeds.
    static let reachable: Bool = {
        let ok = Services.tcpReachable(Services.kafkaAddress)
        if !ok && !Services.requiredByCI {
            print("Kafka tests skipped: no broker at \(Services.kafkaBrokers) (run scripts/services up or set KAFKA_BROKERS)")
        }
        return ok
    }()
    /// Whether suites needing the broker run: it is reachable, or CI requires it (and they fail).
    static var runnable: Bool { reachable || Services.requiredByCI }

    static let counter = Atomic<Int>(0)
    static func unique(_ prefix: String) -> String {
        "\(prefix)-\(getpid())-\(counter.add(1, ordering: .relaxed).newValue)-\(UInt32.random(in: 0...UInt32.max))"
    }

    static func createTopic(_ name: String, partitions: Int = 4) throws {
        let admin = try KafkaAdmin(configuration: kafka)
        try admin.createTopics([KafkaTopicSpec(name: name, partitions: partitions)])
        _ = try admin.waitForTopic(name)
    }

    /// Source settings with short group timeouts (a join takes ~1 s on Tansu).
    static func source(_ topic: String, group: String, bounded: Bool = true, parallelism: Int = 1,
                       startFrom: KafkaStartOffset = .earliest, assignment: KafkaPartitionAssignment = .readers) -> KafkaSourceConfiguration {
        var c = KafkaSourceConfiguration(topics: [topic], groupID: group, startFrom: startFrom)
        c.assignment = assignment
        c.sessionTimeout = .milliseconds(2000)
        c.heartbeatInterval = .milliseconds(500)
        // A member that stopped polling (e.g. the consumer of a job that just failed) leaves the
        // group after 15 s instead of librdkafka's 300 s, so the next job's rebalance does not stall.
        c.maxPollInterval = .seconds(15)
        c.bounded = bounded
        c.parallelism = parallelism
        return c
    }

    /// The first `events` lines of the standard workload (Debezium JSON, without newline).
    static func workloadLines(_ events: Int) -> [String] {
        var gen = WorkloadGenerator(seed: 42, count: events)
        var out: [String] = []
        var buf: [UInt8] = []
        while let e = gen.next() {
            buf.removeAll(keepingCapacity: true)
            WorkloadGenerator.appendLine(of: e, to: &buf)
            out.append(String(decoding: buf.dropLast(), as: UTF8.self))
        }
        return out
    }

    /// Produces lines keyed by their user id (so each user's events stay in order in one partition).
    static func produceWorkload(_ lines: [String], topic: String) throws {
        let producer = try KafkaProducer(configuration: kafka)
        for line in lines {
            try producer.send(topic: topic, message: KafkaMessage(key: userID(line), value: line))
        }
        try producer.flush()
    }

    static func userID(_ line: String) -> String {
        guard let r = line.range(of: "\"user_id\":") else { return "" }
        return String(line[r.upperBound...].prefix { $0.isNumber })
    }
}
