import CRdKafka
import Glibc
import StreamKit

/// A topic to create.
public struct KafkaTopicSpec: Sendable {
    public var name: String
    /// Default: 4.
    public var partitions: Int
    /// Default: 1.
    public var replicationFactor: Int
    /// Topic configs. Tansu needs explicit ones for clients that read them (e.g. `retention.ms`);
    /// the default sets `retention.ms` to 7 days and `cleanup.policy` to `delete`.
    public var configs: [String: String]
    public init(name: String, partitions: Int = 4, replicationFactor: Int = 1,
                configs: [String: String] = ["retention.ms": "604800000", "cleanup.policy": "delete"]) {
        self.name = name; self.partitions = partitions; self.replicationFactor = replicationFactor; self.configs = configs
    }
}

/// What ``KafkaAdmin/describe(topic:)`` reports about a topic.
public struct KafkaTopicDescription: Sendable, Hashable {
    public struct Partition: Sendable, Hashable {
        public var id: Int32
        /// First available offset.
        public var low: Int64
        /// The next offset to be written (the high watermark).
        public var high: Int64
        /// Records currently in the partition.
        public var count: Int64 { high - low }
    }
    public var name: String
    public var partitions: [Partition]
    /// Records in all partitions.
    public var count: Int64 { partitions.reduce(0) { $0 + $1.count } }
}

/// Topic administration: create, describe, list, delete, and read a group's committed offsets.
/// Every call blocks (at most ``KafkaConfiguration/requestTimeout``): use it from a thread, a tool
/// or a test, not from the concurrency pool's hot path.
///
/// ```swift
/// let admin = try KafkaAdmin(configuration: KafkaConfiguration(bootstrapServers: "127.0.0.1:19092"))
/// try admin.createTopics([KafkaTopicSpec(name: "events", partitions: 4)])
/// ```
public final class KafkaAdmin: @unchecked Sendable {
    // @unchecked: librdkafka handles are thread-safe; the rest is immutable.
    let client: RDKafkaClient
    let configuration: KafkaConfiguration

    public init(configuration: KafkaConfiguration) throws {
        self.configuration = configuration
        client = try RDKafkaClient.make(.producer, properties: configuration.librdkafkaProperties(), logger: configuration.logger)
    }

    private var timeoutMillis: Int32 { RDKafka.millis(configuration.requestTimeout) }

    /// Creates topics. With `ignoreExisting`, a topic that already exists is not an error.
    public func createTopics(_ topics: [KafkaTopicSpec], ignoreExisting: Bool = true) throws {
        guard !topics.isEmpty else { return }
        var errstr = [CChar](repeating: 0, count: 512)
        var newTopics: [OpaquePointer?] = []
        defer { for t in newTopics { rd_kafka_NewTopic_destroy(t) } }
        for spec in topics {
            guard let nt = rd_kafka_NewTopic_new(spec.name, Int32(spec.partitions), Int32(spec.replicationFactor), &errstr, errstr.count) else {
                throw StreamKitError(.configuration, "topic \(spec.name): \(String(cString: errstr))")
            }
            newTopics.append(nt)
            for (k, v) in spec.configs.sorted(by: { $0.key < $1.key }) {
                try RDKafka.check(rd_kafka_NewTopic_set_config(nt, k, v), "topic \(spec.name) config \(k)", retriable: false)
            }
        }
        try runAdmin("create topics") { options, queue in
            newTopics.withUnsafeMutableBufferPointer { rd_kafka_CreateTopics(client.handle, $0.baseAddress, $0.count, options, queue) }
        } results: { event in
            var n = 0
            let res = rd_kafka_event_CreateTopics_result(event)
            let arr = rd_kafka_CreateTopics_result_topics(res, &n)
            return (0..<n).map { arr![$0] }
        } ignore: { ignoreExisting && $0 == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS }
    }

    /// Deletes topics. With `ignoreMissing`, an unknown topic is not an error.
    public func deleteTopics(_ names: [String], ignoreMissing: Bool = true) throws {
        guard !names.isEmpty else { return }
        var dts: [OpaquePointer?] = names.map { rd_kafka_DeleteTopic_new($0) }
        defer { for t in dts { rd_kafka_DeleteTopic_destroy(t) } }
        try runAdmin("delete topics") { options, queue in
            dts.withUnsafeMutableBufferPointer { rd_kafka_DeleteTopics(client.handle, $0.baseAddress, $0.count, options, queue) }
        } results: { event in
            var n = 0
            let res = rd_kafka_event_DeleteTopics_result(event)
            let arr = rd_kafka_DeleteTopics_result_topics(res, &n)
            return (0..<n).map { arr![$0] }
        } ignore: { ignoreMissing && $0 == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART }
    }

    private func runAdmin(_ what: String, _ start: (OpaquePointer?, OpaquePointer?) -> Void,
                          results: (OpaquePointer) -> [OpaquePointer?],
                          ignore: (rd_kafka_resp_err_t) -> Bool) throws {
        guard let queue = rd_kafka_queue_new(client.handle) else { throw StreamKitError(.connector, "\(what): no queue") }
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(client.handle, RD_KAFKA_ADMIN_OP_ANY)
        defer { rd_kafka_AdminOptions_destroy(options) }
        var errstr = [CChar](repeating: 0, count: 256)
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, timeoutMillis, &errstr, errstr.count)
        _ = rd_kafka_AdminOptions_set_request_timeout(options, timeoutMillis, &errstr, errstr.count)
        start(options, queue)
        guard let event = rd_kafka_queue_poll(queue, timeoutMillis + 1000) else {
            throw StreamKitError(.connector, "\(what) timed out", retriable: true)
        }
        defer { rd_kafka_event_destroy(event) }
        if rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw StreamKitError(.connector, "\(what): \(String(cString: rd_kafka_event_error_string(event)))", retriable: true,
                                 libraryCode: KafkaErrorCode(rd_kafka_event_error(event)).libraryCode)
        }
        var failures: [String] = []
        var firstCode: KafkaErrorCode? = nil
        for r in results(event) {
            let err = rd_kafka_topic_result_error(r)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR && !ignore(err) {
                if firstCode == nil { firstCode = KafkaErrorCode(err) }
                let msg = rd_kafka_topic_result_error_string(r).map { String(cString: $0) } ?? RDKafka.errorString(err)
                failures.append("\(String(cString: rd_kafka_topic_result_name(r))): \(msg)")
            }
        }
        if !failures.isEmpty {
            throw StreamKitError(.connector, "\(what): \(failures.joined(separator: "; "))",
                                 retriable: firstCode?.isRetriable ?? false, libraryCode: firstCode?.libraryCode)
        }
    }

    /// Partitions and their offsets (`ListOffsets`); nil when the topic does not exist.
    /// Note: Tansu 0.6 answers `ListOffsets` at record-*batch* granularity and by write time: `high`
    /// is the base offset + 1 of the batch written last (a partition holding 50 records written in
    /// one batch reports high = 1), `low` the base offset of the batch written first, which is not
    /// the one at offset 0 when producers wrote the partition concurrently. `low`, `high` and
    /// `count` are only exact on Kafka; StreamKit's reads do not use them to find where to start.
    public func describe(topic: String) throws -> KafkaTopicDescription? {
        guard let ids = try client.partitions(of: topic, timeout: configuration.requestTimeout) else { return nil }
        let parts = try ids.map { id in
            let (low, high) = try client.queryWatermarks(topic: topic, partition: id, timeout: configuration.requestTimeout)
            return KafkaTopicDescription.Partition(id: id, low: low, high: high)
        }
        return KafkaTopicDescription(name: topic, partitions: parts)
    }

    /// Names of all topics in the cluster.
    public func listTopics() throws -> [String] {
        var meta: UnsafePointer<rd_kafka_metadata>? = nil
        try RDKafka.check(rd_kafka_metadata(client.handle, 1, nil, &meta, timeoutMillis), "list topics")
        defer { rd_kafka_metadata_destroy(meta) }
        guard let m = meta?.pointee else { return [] }
        return (0..<Int(m.topic_cnt)).map { String(cString: m.topics[$0].topic) }.sorted()
    }

    /// Waits until `topic` exists with metadata for all its partitions (auto-created or just created).
    public func waitForTopic(_ topic: String, timeout: Duration = .seconds(10)) throws -> KafkaTopicDescription {
        let deadline = MonotonicClock.nanos() &+ UInt64(timeout.milliseconds) * 1_000_000
        while true {
            if let d = try? describe(topic: topic), !d.partitions.isEmpty { return d }
            if MonotonicClock.nanos() > deadline { throw StreamKitError(.connector, "topic \(topic) did not appear within \(timeout)", retriable: true) }
            usleep(50_000)
        }
    }

    /// The offsets `group` committed for the partitions of `topic` (partitions without a commit are absent).
    public func committedOffsets(group: String, topic: String) throws -> [Int32: Int64] {
        guard let ids = try client.partitions(of: topic, timeout: configuration.requestTimeout) else { return [:] }
        let consumer = try RDKafkaClient.make(.consumer, properties: configuration.librdkafkaProperties([
            "group.id": group, "enable.auto.commit": "false"]), logger: configuration.logger)
        defer { consumer.closeConsumer() }
        let list = RDTopicPartitionList(capacity: ids.count)
        for id in ids { list.add(topic, id) }
        try RDKafka.check(rd_kafka_committed(consumer.handle, list.list, timeoutMillis), "committed offsets of \(group)")
        var out: [Int32: Int64] = [:]
        for e in RDTopicPartitionList.entries(list.list) where e.offset >= 0 { out[e.partition] = e.offset }
        return out
    }
}
