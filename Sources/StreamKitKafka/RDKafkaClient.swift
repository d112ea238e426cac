import CRdKafka
import Glibc
import Synchronization
import StreamKit
import Logging

/// The librdkafka library loaded at run time.
///
/// StreamKit compiles against Debian's librdkafka headers (2.0.2) but needs a 2.1+ runtime: the
/// 2.0.x runtime cannot talk to Tansu ("ApiVersionRequest failed: Local: Read underflow").
/// `scripts/setup` installs 2.16 into `.deps/rdkafka`; run with `LD_LIBRARY_PATH=.deps/rdkafka`.
public enum KafkaRuntime {
    /// The version string of the loaded librdkafka, e.g. `"2.16.0"`.
    public static var version: String { String(cString: rd_kafka_version_str()) }
    /// The loaded version as `0xMMmmrrxx` (major, minor, revision, pre-release).
    public static var versionNumber: Int { Int(rd_kafka_version()) }
    /// The oldest runtime StreamKit accepts.
    public static let minimumVersionNumber = 0x0201_0000

    /// Throws a ``StreamKitError`` (`.connector`) when the loaded librdkafka is older than 2.1.
    public static func check() throws {
        if versionNumber < minimumVersionNumber {
            throw StreamKitError(.connector, "librdkafka \(version) is loaded but StreamKit needs 2.1 or newer (2.0.x cannot talk to Tansu): "
                + "run scripts/setup and set LD_LIBRARY_PATH=.deps/rdkafka")
        }
    }

    /// Logs the runtime version once per process, with the first client's logger (a silent
    /// fallback to the system's 2.0.2 is easy to miss).
    static func announce(_ logger: Logger) {
        if !announced.exchange(true, ordering: .relaxed) {
            logger.info("kafka connector using librdkafka \(version)")
        }
    }
    private static let announced = Atomic<Bool>(false)
}

/// Kafka's logical offsets and helpers shared by the connector's files.
enum RDKafka {
    /// Where a read "from the beginning" starts: offset 0, and a partition whose log starts later
    /// is moved to its log start by `auto.offset.reset=earliest` (OffsetOutOfRange on the first
    /// fetch). Not `RD_KAFKA_OFFSET_BEGINNING`, which librdkafka resolves with `ListOffsets(earliest)`:
    /// Tansu 0.6 answers that with the base offset of the batch *written first in time*, and when
    /// producers write one partition concurrently, that is sometimes a later batch than the one at
    /// offset 0 — a read would silently skip the records before it.
    static let logStart: Int64 = 0
    static let offsetEnd: Int64 = -1
    static let offsetInvalid: Int64 = -1001

    static func errorString(_ err: rd_kafka_resp_err_t) -> String { String(cString: rd_kafka_err2str(err)) }

    /// Converts an `rd_kafka_error_t` into a ``StreamKitError`` and destroys it.
    static func consume(_ error: OpaquePointer?, _ what: String) -> StreamKitError? {
        guard let error else { return nil }
        defer { rd_kafka_error_destroy(error) }
        let message = String(cString: rd_kafka_error_string(error))
        let retriable = rd_kafka_error_is_retriable(error) != 0
        let fatal = rd_kafka_error_is_fatal(error) != 0
        return StreamKitError(.connector, "\(what): \(message)\(fatal ? " (fatal)" : "")", retriable: retriable && !fatal,
                              libraryCode: KafkaErrorCode(rd_kafka_error_code(error)).libraryCode)
    }

    static func check(_ err: rd_kafka_resp_err_t, _ what: String, retriable: Bool = true) throws {
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw StreamKitError(.connector, "\(what): \(errorString(err))", retriable: retriable,
                                 libraryCode: KafkaErrorCode(err).libraryCode)
        }
    }

    static func millis(_ d: Duration) -> Int32 { Int32(clamping: d.milliseconds) }
}

/// Callbacks of one handle. librdkafka calls C function pointers that carry no context; the
/// handle's opaque pointer (`rd_kafka_conf_set_opaque`) is this object, unretained: the owning
/// ``RDKafkaClient`` keeps it alive for the handle's whole life.
final class RDKafkaEvents: @unchecked Sendable {
    // @unchecked: closures are set before the handle is created, then only called on the threads
    // that poll the handle (the owner's thread), except `fatal`, which is atomic-free but only read
    // after a failing call on that same thread.
    var onRebalance: ((OpaquePointer, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Void)?
    var onDelivery: ((UnsafePointer<rd_kafka_message_t>) -> Void)?
    /// librdkafka's log and error callbacks go here (they run on librdkafka's threads; `Logger` is thread-safe).
    var logger: Logger = .disabled
    /// The last error reported by the error callback (for messages), and whether it was fatal.
    var lastError: String?
    /// The code of `lastError`.
    var lastErrorCode: KafkaErrorCode?
    var fatal = false
}

/// Owns one librdkafka handle (`rd_kafka_t`), its callbacks and, for consumers, the consumer
/// queue; frees them in `deinit`. Every C call of the connector goes through one of these.
final class RDKafkaClient: @unchecked Sendable {
    // @unchecked: a client is used by one thread at a time (a source reader, a sink subtask, or a
    // short admin call); librdkafka handles are themselves thread-safe.
    enum Kind { case producer, consumer }

    let kind: Kind
    let handle: OpaquePointer
    let events: RDKafkaEvents
    /// Consumers: the consumer queue (after `rd_kafka_poll_set_consumer`).
    private(set) var queue: OpaquePointer?
    private var closed = false

    private init(kind: Kind, handle: OpaquePointer, events: RDKafkaEvents) {
        self.kind = kind; self.handle = handle; self.events = events
    }

    /// Creates a handle from string properties (passed to librdkafka unchanged). On failure the
    /// configuration object is freed and a ``StreamKitError`` names the offending property.
    static func make(_ kind: Kind, properties: [String: String], events: RDKafkaEvents = RDKafkaEvents(),
                     logger: Logger = .disabled) throws -> RDKafkaClient {
        try KafkaRuntime.check()
        KafkaRuntime.announce(logger)
        events.logger = logger
        guard let conf = rd_kafka_conf_new() else { throw StreamKitError(.connector, "rd_kafka_conf_new failed") }
        var errstr = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            if rd_kafka_conf_set(conf, key, value, &errstr, errstr.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                let shown = KafkaConfiguration.isSecret(key) ? "***" : value
                let reason = KafkaConfiguration.isSecret(key) ? "invalid value" : String(cString: errstr)
                throw StreamKitError(.configuration, "kafka property \(key)=\(shown): \(reason)")
            }
        }
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(events).toOpaque())
        if DataPathScheduling.isConfigured {
            // librdkafka's own threads (main, broker) are data path too: each lowers its priority
            // and moves to the data path's CPUs as it starts.
            rd_kafka_conf_interceptor_add_on_new(conf, "streamkit.data-path-scheduling", { rk, _, _, _, _ in
                rd_kafka_interceptor_add_on_thread_start(rk, "streamkit.data-path-scheduling", { _, _, _, _ in
                    DataPathScheduling.applyToCurrentThread()
                    return RD_KAFKA_RESP_ERR_NO_ERROR
                }, nil)
            }, nil)
        }
        rd_kafka_conf_set_error_cb(conf) { _, err, reason, opaque in
            guard let opaque else { return }
            let events = Unmanaged<RDKafkaEvents>.fromOpaque(opaque).takeUnretainedValue()
            let text = reason.map { String(cString: $0) } ?? "error \(err)"
            events.lastError = text
            events.lastErrorCode = KafkaErrorCode(rawValue: err)
            let fatal = rd_kafka_resp_err_t(err) == RD_KAFKA_RESP_ERR__FATAL
            if fatal { events.fatal = true }
            events.logger.log(level: fatal ? .error : .warning, "librdkafka error", metadata: [
                LogMetadataKey.errorCode: "\(String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(err))))",
                LogMetadataKey.error: "\(text)",
            ])
        }
        // librdkafka's log lines (syslog levels) go to the logger instead of stderr. They may come
        // from librdkafka's own threads, and during rd_kafka_new/destroy; `events` outlives both.
        rd_kafka_conf_set_log_cb(conf) { rk, level, facility, line in
            guard let rk, let opaque = rd_kafka_opaque(rk) else { return }
            let events = Unmanaged<RDKafkaEvents>.fromOpaque(opaque).takeUnretainedValue()
            let swiftLevel: Logger.Level
            switch level {
            case ...2: swiftLevel = .critical
            case 3: swiftLevel = .error
            case 4: swiftLevel = .warning
            case 5: swiftLevel = .notice
            case 6: swiftLevel = .info
            default: swiftLevel = .debug
            }
            guard events.logger.logLevel <= swiftLevel else { return }
            events.logger.log(level: swiftLevel, "\(line.map { String(cString: $0) } ?? "")", metadata: [
                "librdkafka.facility": "\(facility.map { String(cString: $0) } ?? "")",
                "librdkafka.client": "\(String(cString: rd_kafka_name(rk)))",
            ])
        }
        if events.onRebalance != nil {
            rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, opaque in
                guard let opaque, let rk, let partitions else { return }
                Unmanaged<RDKafkaEvents>.fromOpaque(opaque).takeUnretainedValue().onRebalance?(rk, err, partitions)
            }
        }
        if events.onDelivery != nil {
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
                guard let opaque, let message else { return }
                Unmanaged<RDKafkaEvents>.fromOpaque(opaque).takeUnretainedValue().onDelivery?(message)
            }
        }
        // rd_kafka_new takes ownership of `conf` only on success.
        guard let rk = rd_kafka_new(kind == .producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw StreamKitError(.configuration, "cannot create kafka \(kind): \(String(cString: errstr))")
        }
        let client = RDKafkaClient(kind: kind, handle: rk, events: events)
        logger.debug("kafka client created", metadata: [
            "kafka.kind": "\(kind)", "kafka.client": "\(String(cString: rd_kafka_name(rk)))",
            "kafka.properties": "\(KafkaConfiguration.redacted(properties))",
        ])
        if kind == .consumer && properties["group.id"] != nil {
            rd_kafka_poll_set_consumer(rk)
            client.queue = rd_kafka_queue_get_consumer(rk)
        }
        return client
    }

    /// Leaves the consumer group (runs the final revoke callback). Idempotent.
    func closeConsumer() {
        guard kind == .consumer, !closed else { return }
        closed = true
        if queue != nil { _ = rd_kafka_consumer_close(handle) }
    }

    deinit {
        closeConsumer()
        if let queue { rd_kafka_queue_destroy(queue) }
        rd_kafka_destroy(handle)
    }

    /// Topic metadata: partition ids per topic (blocking, at most `timeout`).
    func partitions(of topic: String, timeout: Duration) throws -> [Int32]? {
        var meta: UnsafePointer<rd_kafka_metadata>? = nil
        let rkt = rd_kafka_topic_new(handle, topic, nil)
        defer { if let rkt { rd_kafka_topic_destroy(rkt) } }
        try RDKafka.check(rd_kafka_metadata(handle, 0, rkt, &meta, RDKafka.millis(timeout)), "metadata of \(topic)")
        defer { rd_kafka_metadata_destroy(meta) }
        guard let m = meta?.pointee, m.topic_cnt > 0 else { return nil }
        let t = m.topics[0]
        if t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART { return nil }
        try RDKafka.check(t.err, "metadata of \(topic)")
        return (0..<Int(t.partition_cnt)).map { t.partitions[$0].id }.sorted()
    }

    /// Low and high watermark offsets of a partition, asking the broker (blocking).
    func queryWatermarks(topic: String, partition: Int32, timeout: Duration) throws -> (low: Int64, high: Int64) {
        var low: Int64 = 0, high: Int64 = 0
        try RDKafka.check(rd_kafka_query_watermark_offsets(handle, topic, partition, &low, &high, RDKafka.millis(timeout)),
                          "watermarks of \(topic)[\(partition)]")
        return (low, high)
    }

    /// Cached watermarks (updated by fetch responses; non-blocking). nil when unknown.
    func cachedWatermarks(topic: String, partition: Int32) -> (low: Int64, high: Int64)? {
        var low: Int64 = -1, high: Int64 = -1
        guard rd_kafka_get_watermark_offsets(handle, topic, partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 else { return nil }
        return (low, high)
    }
}

/// An owned `rd_kafka_topic_partition_list_t`.
final class RDTopicPartitionList {
    let list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>
    init(capacity: Int = 4) { list = rd_kafka_topic_partition_list_new(Int32(capacity)) }
    init(copying other: UnsafePointer<rd_kafka_topic_partition_list_t>) {
        list = rd_kafka_topic_partition_list_copy(other)
    }
    deinit { rd_kafka_topic_partition_list_destroy(list) }

    @discardableResult
    func add(_ topic: String, _ partition: Int32, offset: Int64 = RDKafka.offsetInvalid) -> UnsafeMutablePointer<rd_kafka_topic_partition_t> {
        let p = rd_kafka_topic_partition_list_add(list, topic, partition)!
        p.pointee.offset = offset
        return p
    }

    var count: Int { Int(list.pointee.cnt) }
    var elements: UnsafeMutableBufferPointer<rd_kafka_topic_partition_t> {
        UnsafeMutableBufferPointer(start: list.pointee.elems, count: count)
    }
    static func entries(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> [(topic: String, partition: Int32, offset: Int64, err: rd_kafka_resp_err_t)] {
        (0..<Int(list.pointee.cnt)).map { i in
            let e = list.pointee.elems[i]
            return (String(cString: e.topic), e.partition, e.offset, e.err)
        }
    }
}
