import CRdKafka
import Glibc
import Synchronization
import StreamKit
import Logging

/// A blocking Kafka producer: `send` queues a message (waiting while librdkafka's queue is full),
/// `flush` waits until every queued message was delivered. Delivery reports are counted; the
/// first failure is kept and thrown by ``checkDeliveries()`` and ``flush(timeout:)``.
///
/// Use it from a dedicated thread (a sink subtask, a tool, a test), never from the Swift
/// concurrency pool: `send` and `flush` block.
///
/// ```swift
/// let producer = try KafkaProducer(configuration: KafkaConfiguration(bootstrapServers: brokers))
/// try producer.send(topic: "events", message: KafkaMessage(key: "u1", value: "{...}"))
/// try producer.flush()
/// ```
public final class KafkaProducer: @unchecked Sendable {
    // @unchecked: the handle is thread-safe; the delivery state is behind a Mutex.
    let client: RDKafkaClient
    private let state: DeliveryState
    /// The `transactional.id`, if this producer is transactional.
    public let transactionalID: String?
    let requestTimeout: Duration

    final class DeliveryState: Sendable {
        struct Counts {
            var delivered = 0; var failed = 0; var firstError: String?
            /// Delivery results of messages sent with a non-zero `tag` (see ``KafkaProducer/send(topic:key:value:headers:partition:timestamp:tag:)``).
            var tagged: [(tag: UInt64, ok: Bool)] = []
        }
        let counts = Mutex(Counts())
    }

    /// Creates a producer. Idempotence (`enable.idempotence=true`) and `acks=all` are the defaults;
    /// `properties` of the configuration override them. `transactionalID` makes it transactional
    /// (call ``initTransactions()`` before the first transaction).
    public convenience init(configuration: KafkaConfiguration, idempotent: Bool = true, transactionalID: String? = nil,
                            extraProperties: [String: String] = [:]) throws {
        try self.init(configuration: configuration, idempotent: idempotent, transactionalID: transactionalID,
                      extraProperties: extraProperties, metrics: nil)
    }

    init(configuration: KafkaConfiguration, idempotent: Bool, transactionalID: String?,
         extraProperties: [String: String], metrics: KafkaSinkMetrics?) throws {
        var defaults: [String: String] = ["enable.idempotence": idempotent || transactionalID != nil ? "true" : "false", "acks": "all",
                                          "linger.ms": "5"]
        if let transactionalID { defaults["transactional.id"] = transactionalID }
        defaults.merge(extraProperties) { _, new in new }
        let state = DeliveryState()
        let events = RDKafkaEvents()
        let logger = configuration.logger
        events.onDelivery = { message in
            let m = message.pointee
            if let metrics {
                if m.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    metrics.delivered.add(1)
                    metrics.deliveredBytes.add(UInt64(m.len))
                } else {
                    metrics.failed.add(1)
                }
            }
            state.counts.withLock { c in
                let tag = UInt64(UInt(bitPattern: m._private))
                if tag != 0 { c.tagged.append((tag, m.err == RD_KAFKA_RESP_ERR_NO_ERROR)) }
                if m.err == RD_KAFKA_RESP_ERR_NO_ERROR { c.delivered += 1 } else {
                    c.failed += 1
                    // Logged for the first failure and every 1000th after it (a broker outage fails every message).
                    if c.firstError == nil || c.failed % 1000 == 0 {
                        let topic = m.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "?"
                        let text = "delivery to \(topic)[\(m.partition)] failed: \(RDKafka.errorString(m.err))"
                        if c.firstError == nil { c.firstError = text }
                        logger.error("kafka delivery failed", metadata: [
                            LogMetadataKey.topic: "\(topic)", LogMetadataKey.partition: "\(m.partition)",
                            LogMetadataKey.error: "\(RDKafka.errorString(m.err))", "failed_so_far": "\(c.failed)",
                        ])
                    }
                }
            }
        }
        self.state = state
        self.transactionalID = transactionalID
        self.requestTimeout = configuration.requestTimeout
        client = try RDKafkaClient.make(.producer, properties: configuration.librdkafkaProperties(defaults), events: events,
                                        logger: configuration.logger)
    }

    /// Messages delivered (acknowledged by the broker) so far.
    public var delivered: Int { state.counts.withLock { $0.delivered } }
    /// Messages whose delivery failed (after librdkafka's own retries) so far.
    public var failed: Int { state.counts.withLock { $0.failed } }
    /// Takes the delivery results of tagged messages reported since the last call (delivery
    /// reports are served by ``poll(timeout:)``, ``send(topic:message:)`` and ``flush(timeout:)``).
    public func takeTaggedDeliveries() -> [(tag: UInt64, ok: Bool)] {
        state.counts.withLock { c in
            let out = c.tagged
            c.tagged.removeAll(keepingCapacity: true)
            return out
        }
    }

    /// Messages queued or in flight.
    public var inFlight: Int { Int(rd_kafka_outq_len(client.handle)) }

    /// Queues one message (copied). Blocks while the local queue is full.
    public func send(topic: String, message: KafkaMessage) throws {
        try send(topic: topic, key: message.key, value: message.value, headers: message.headers,
                 partition: message.partition, timestamp: message.timestamp)
    }

    /// Queues one message (bytes copied). Blocks while the local queue is full. A non-zero `tag`
    /// comes back with the message's delivery result from ``takeTaggedDeliveries()``.
    ///
    /// No heap allocation of ours per message: the argument list lives on the stack and each
    /// header is passed as one `RD_KAFKA_VTYPE_HEADER` entry (librdkafka copies it).
    public func send(topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [],
                     partition: Int32? = nil, timestamp: Int64? = nil, tag: UInt64 = 0) throws {
        while true {
            let err: StreamKitError? = topic.withCString { topicPtr in
                withOptionalBytes(key) { k in
                    withOptionalBytes(value) { v in
                        withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: 7 + headers.count) { vus in
                            var n = 0
                            func add(_ vu: rd_kafka_vu_t) { vus.initializeElement(at: n, to: vu); n += 1 }
                            var vu = rd_kafka_vu_t()
                            vu.vtype = RD_KAFKA_VTYPE_TOPIC; vu.u.cstr = topicPtr; add(vu)
                            vu = rd_kafka_vu_t(); vu.vtype = RD_KAFKA_VTYPE_MSGFLAGS; vu.u.i = RD_KAFKA_MSG_F_COPY; add(vu)
                            if let k { vu = rd_kafka_vu_t(); vu.vtype = RD_KAFKA_VTYPE_KEY; vu.u.mem.ptr = UnsafeMutableRawPointer(mutating: k.baseAddress); vu.u.mem.size = k.count; add(vu) }
                            if let v { vu = rd_kafka_vu_t(); vu.vtype = RD_KAFKA_VTYPE_VALUE; vu.u.mem.ptr = UnsafeMutableRawPointer(mutating: v.baseAddress); vu.u.mem.size = v.count; add(vu) }
                            if let partition { vu = rd_kafka_vu_t(); vu.vtype = RD_KAFKA_VTYPE_PARTITION; vu.u.i32 = partition; add(vu) }
                            if let timestamp { vu = rd_kafka_vu_t(); vu.vtype = RD_KAFKA_VTYPE_TIMESTAMP; vu.u.i64 = timestamp; add(vu) }
                            if tag != 0 { vu = rd_kafka_vu_t(); vu.vtype = RD_KAFKA_VTYPE_OPAQUE; vu.u.ptr = UnsafeMutableRawPointer(bitPattern: UInt(tag)); add(vu) }
                            // Each header's name and value stay pinned while librdkafka copies them.
                            func produce(header i: Int) -> StreamKitError? {
                                guard i < headers.count else {
                                    let error = rd_kafka_produceva(client.handle, UnsafePointer(vus.baseAddress), n)
                                    guard let error else { return nil }
                                    if rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                                        rd_kafka_error_destroy(error)
                                        return StreamKitError(.connector, "queue full", retriable: true, libraryCode: KafkaErrorCode.queueFull.libraryCode)
                                    }
                                    return RDKafka.consume(error, "produce to \(topic)")
                                }
                                return headers[i].name.withCString { name in
                                    withOptionalBytes(headers[i].value) { hv in
                                        var h = rd_kafka_vu_t()
                                        h.vtype = RD_KAFKA_VTYPE_HEADER
                                        h.u.header.name = name
                                        h.u.header.val = hv?.baseAddress
                                        h.u.header.size = hv.map { $0.count } ?? 0
                                        add(h)
                                        return produce(header: i + 1)
                                    }
                                }
                            }
                            return produce(header: 0)
                        }
                    }
                }
            }
            guard let err else { return }
            if err.message == "queue full" { rd_kafka_poll(client.handle, 10); continue }
            throw err
        }
    }

    /// Serves delivery reports (non-blocking unless `timeout` > 0).
    public func poll(timeout: Duration = .zero) {
        rd_kafka_poll(client.handle, RDKafka.millis(timeout))
    }

    /// Throws the first delivery failure seen so far (once).
    public func checkDeliveries() throws {
        let e = state.counts.withLock { c -> String? in defer { c.firstError = nil }; return c.firstError }
        if let e { throw StreamKitError(.connector, e, retriable: true) }
        if client.events.fatal {
            throw StreamKitError(.connector, "fatal producer error: \(client.events.lastError ?? "?")",
                                 libraryCode: (client.events.lastErrorCode ?? .fatal).libraryCode)
        }
    }

    /// Waits until every queued message was delivered or failed, then throws the first failure.
    public func flush(timeout: Duration = .seconds(60)) throws {
        let err = rd_kafka_flush(client.handle, RDKafka.millis(timeout))
        if err == RD_KAFKA_RESP_ERR__TIMED_OUT {
            throw StreamKitError(.connector, "flush timed out after \(timeout) with \(inFlight) messages in flight", retriable: true)
        }
        try checkDeliveries()
    }

    // MARK: Transactions (blocking; used by the transactional sink)

    /// Registers the `transactional.id` with the broker, aborting its unfinished transactions.
    public func initTransactions(timeout: Duration = .seconds(30)) throws {
        if let e = RDKafka.consume(rd_kafka_init_transactions(client.handle, RDKafka.millis(timeout)), "init_transactions") { throw e }
    }
    public func beginTransaction() throws {
        if let e = RDKafka.consume(rd_kafka_begin_transaction(client.handle), "begin_transaction") { throw e }
    }
    /// Flushes and commits the open transaction. On an abortable failure the transaction is aborted
    /// and a retriable error is thrown.
    public func commitTransaction(timeout: Duration = .seconds(30)) throws {
        guard let error = rd_kafka_commit_transaction(client.handle, RDKafka.millis(timeout)) else { return }
        let needsAbort = rd_kafka_error_txn_requires_abort(error) != 0
        let e = RDKafka.consume(error, "commit_transaction")!
        if needsAbort { try? abortTransaction(timeout: timeout) }
        throw e
    }
    public func abortTransaction(timeout: Duration = .seconds(30)) throws {
        if let e = RDKafka.consume(rd_kafka_abort_transaction(client.handle, RDKafka.millis(timeout)), "abort_transaction") { throw e }
    }
    /// Adds consumer offsets (`next offset to read` per partition) of `groupID` to the open transaction.
    func sendOffsetsToTransaction(_ offsets: [KafkaPartitionOffset], groupID: String, timeout: Duration = .seconds(30)) throws {
        guard !offsets.isEmpty else { return }
        let list = RDTopicPartitionList(capacity: offsets.count)
        for o in offsets { list.add(o.topic, o.partition, offset: o.offset) }
        guard let meta = rd_kafka_consumer_group_metadata_new(groupID) else {
            throw StreamKitError(.connector, "cannot create group metadata for \(groupID)")
        }
        defer { rd_kafka_consumer_group_metadata_destroy(meta) }
        if let e = RDKafka.consume(rd_kafka_send_offsets_to_transaction(client.handle, list.list, meta, RDKafka.millis(timeout)),
                                   "send_offsets_to_transaction") { throw e }
    }
}

/// The offset of one partition (Kafka convention: the next offset to read).
public struct KafkaPartitionOffset: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public init(topic: String, partition: Int32, offset: Int64) { self.topic = topic; self.partition = partition; self.offset = offset }
}

@inline(__always)
func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) throws -> R) rethrows -> R {
    guard let bytes else { return try body(nil) }
    return try bytes.withUnsafeBytes { try body($0) }
}

/// Reads a topic from its beginning to its end (a bounded read without a consumer group) — for
/// tools, tests and the demo.
public enum KafkaTopicReader {
    /// All records of `topic` up to its end, in partition then offset order: each partition is read
    /// from its log start until the broker reports its end (partition EOF). With `.readCommitted`,
    /// records of open transactions stop a partition's read at the last stable offset.
    ///
    /// No `ListOffsets` is asked: Tansu 0.6 answers it per record batch and by write time (see
    /// `RDKafka.logStart`), which made reads of partitions written by concurrent producers start
    /// after their first batch.
    public static func readAll(topic: String, configuration: KafkaConfiguration, isolation: KafkaIsolationLevel = .readCommitted,
                               timeout: Duration = .seconds(10)) throws -> [KafkaRecord] {
        let client = try RDKafkaClient.make(.consumer, properties: configuration.librdkafkaProperties([
            "isolation.level": isolation.rawValue, "enable.partition.eof": "true", "group.id": "streamkit-reader-\(getpid())",
            "enable.auto.commit": "false", "auto.offset.reset": "earliest",
        ]), logger: configuration.logger)
        defer { client.closeConsumer() }
        guard let parts = try client.partitions(of: topic, timeout: configuration.requestTimeout), !parts.isEmpty else { return [] }
        let list = RDTopicPartitionList(capacity: parts.count)
        var remaining = Set<Int32>()
        for p in parts { list.add(topic, p, offset: RDKafka.logStart); remaining.insert(p) }
        try RDKafka.check(rd_kafka_assign(client.handle, list.list), "assign \(topic)")
        var out: [KafkaRecord] = []
        let deadline = MonotonicClock.nanos() &+ UInt64(timeout.milliseconds) * 1_000_000
        while !remaining.isEmpty && MonotonicClock.nanos() < deadline {
            guard let m = rd_kafka_consumer_poll(client.handle, 100) else { continue }
            defer { rd_kafka_message_destroy(m) }
            if m.pointee.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { remaining.remove(m.pointee.partition); continue }
            try RDKafka.check(m.pointee.err, "read \(topic)")
            out.append(copyRecord(m, topic: topic))
        }
        if !remaining.isEmpty { throw StreamKitError(.connector, "reading \(topic) timed out (partitions \(remaining.sorted()) not at their end)", retriable: true) }
        return out.sorted { ($0.partition, $0.offset) < ($1.partition, $1.offset) }
    }

    static func copyRecord(_ m: UnsafeMutablePointer<rd_kafka_message_t>, topic: String) -> KafkaRecord {
        let msg = m.pointee
        let key = msg.key.map { Array(UnsafeRawBufferPointer(start: $0, count: msg.key_len)) }
        let value = msg.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: msg.len)) }
        var headers: [KafkaHeader] = []
        var hdrs: OpaquePointer? = nil
        if rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR, let hdrs {
            var i = 0
            var name: UnsafePointer<CChar>? = nil
            var val: UnsafeRawPointer? = nil
            var size = 0
            while rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                headers.append(KafkaHeader(name: String(cString: name!), value: val.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }))
                i += 1
            }
        }
        var tsType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let ts = rd_kafka_message_timestamp(m, &tsType)
        return KafkaRecord(topic: topic, partition: msg.partition, offset: msg.offset, key: key, value: value, headers: headers, timestamp: ts)
    }
}
