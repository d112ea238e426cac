import CRdKafka
public import Glibc
public import StreamKit
import Logging

/// Settings of a ``KafkaSource``.
/// How a ``KafkaSource`` spreads partitions over its readers.
public enum KafkaPartitionAssignment: Sendable, Equatable {
    /// Each reader owns a fixed share of the partitions (partition p of topic t goes to reader
    /// `(hash(t) + p) % readers`, Flink's rule) and assigns them itself (`rd_kafka_assign`): no
    /// group membership, no rebalances, nothing to wait for on start or after a failure. Offsets
    /// are still committed to `groupID` after checkpoints, for monitoring and `.committed` starts.
    case readers
    /// Readers are members of the consumer group `groupID`, which assigns partitions (eager or
    /// `cooperative-sticky`, set `partition.assignment.strategy` in the properties). Several jobs
    /// or processes can then share the partitions. Note: Tansu 0.6 can keep a departed leader in a
    /// group, so that a group whose members all left never completes its next rebalance.
    case group
}

public struct KafkaSourceConfiguration: Sendable {
    /// Topics to subscribe to.
    public var topics: [String]
    /// The consumer group (`group.id`); offsets are committed to it after completed checkpoints.
    public var groupID: String
    /// Where partitions without a checkpointed offset start. Default: `.committed`.
    public var startFrom: KafkaStartOffset = .committed
    /// Readers (source subtasks). Default: 1.
    public var parallelism: Int = 1
    /// Who decides which reader reads which partition. Default: `.readers` (as Flink's KafkaSource).
    public var assignment: KafkaPartitionAssignment = .readers
    /// `.readers` assignment of an unbounded source: how often each reader looks for partitions
    /// added to its topics. nil: never. Default: 30 s.
    public var partitionDiscoveryInterval: Duration? = .seconds(30)
    /// `session.timeout.ms`. The first group join waits about half of it on Tansu. Default: 10 s.
    public var sessionTimeout: Duration = .seconds(10)
    /// `heartbeat.interval.ms`. Default: 3 s.
    public var heartbeatInterval: Duration = .seconds(3)
    /// `max.poll.interval.ms`: a reader that has not polled for this long (e.g. blocked by
    /// back-pressure, or the consumer of a failed job not yet closed) leaves the group, and a
    /// rebalance waits for it at most this long. Default: nil (librdkafka's 300 s).
    public var maxPollInterval: Duration? = nil
    /// `isolation.level`. Default: `.readCommitted`.
    public var isolation: KafkaIsolationLevel = .readCommitted
    /// How long one poll waits for messages before reporting `.idle`. Default: 50 ms.
    public var pollTimeout: Duration = .milliseconds(50)
    /// Stop (report `.finished`) once every partition of the topics (as listed when the job starts)
    /// reached its end (librdkafka's partition EOF, the high watermark seen by the fetcher): a
    /// bounded read for batch jobs, tests and benchmarks. Default: false.
    public var bounded: Bool = false
    /// Bounded mode: each partition also ends at its first record whose Kafka timestamp is after
    /// this time (ms since the epoch); that record and the ones after it are not read, and the
    /// partition's fetching is paused — a time range of a topic without reading to its end (as
    /// `startFrom: .timestamp` starts one). Records are taken in offset order: a record with an
    /// earlier timestamp after the stop (a producer's clock going back) is not read either.
    /// nil: read to the end. Default: nil.
    public var stopAfterTimestamp: Int64? = nil
    /// What to do with null values. Default: `.decodeAsEmpty`.
    public var tombstones: KafkaTombstonePolicy = .decodeAsEmpty
    /// Values larger than this many bytes are dead-lettered (code `record_too_large`) without being
    /// decoded. nil: no limit (beyond the consumer's `receive.message.max.bytes`). Default: nil.
    public var maxRecordBytes: Int? = nil
    /// A dead letter keeps at most this many bytes of the original value (`DeadLetter.payload`;
    /// `originalSize` says how long it was), so the dead-letter topic's own message size limit is
    /// not exceeded. Default: 256 KiB.
    public var maxDeadLetterPayloadBytes: Int = 262_144
    /// Commit checkpointed offsets to the group when a checkpoint completes (for monitoring and
    /// for starting other jobs with `.committed`). Default: true.
    public var commitOffsetsOnCheckpoint: Bool = true
    /// How often each reader refreshes the lag metric. Default: 1 s.
    public var lagUpdateInterval: Duration = .seconds(1)
    /// Shares checkpointed offsets with a transactional ``KafkaSink`` (which then commits them
    /// inside its transaction instead of the source). Default: nil.
    public var transactionLink: KafkaTransactionLink?

    public init(topics: [String], groupID: String, startFrom: KafkaStartOffset = .committed) {
        self.topics = topics; self.groupID = groupID; self.startFrom = startFrom
    }
}

/// Reads Kafka topics through a consumer group, decoding each message value with a ``LineDecoder``.
///
/// ```swift
/// var config = KafkaSourceConfiguration(topics: ["events"], groupID: "window-job")
/// config.parallelism = 2
/// env.source(KafkaSource(kafka: KafkaConfiguration(bootstrapServers: brokers), config, decoder: MyDecoder()))
///     .assignTimestamps({ $0.time }, watermark: .boundedOutOfOrderness(.seconds(2)), idleness: .seconds(5))
/// ```
///
/// - Each reader owns a fixed share of the partitions (``KafkaPartitionAssignment/readers``, the
///   default) or is one member of `groupID` (``KafkaPartitionAssignment/group``).
/// - Decoders see each message's key too (``LineDecoder/decodeIfRelevant(_:key:)``; the default
///   ignores it).
/// - Messages are consumed in batches (`rd_kafka_consume_batch_queue`) and handed to the job one
///   partition run at a time, with `batch.split` set to the partition (`topicIndex << 16 | partition`
///   with several topics), so watermarks and idleness are tracked per partition.
/// - A value that fails to decode, or is larger than `maxRecordBytes` (not decoded), goes to the
///   dead letters with its code, reason, origin (`topic[partition]@offset`, key) and original bytes.
/// - A ``CheckpointedLineDecoder``'s state (e.g. recent event identities for deduplication) is
///   written with the reader's position in checkpoints and restored with it.
/// - Back-pressure pauses the assigned partitions (`rd_kafka_pause_partitions`) until it is released.
/// - Consumer lag per partition is in ``metrics``.
///
/// **Delivery guarantee.** The offsets in the job's checkpoints are authoritative: on restore each
/// partition resumes at its checkpointed offset, so the job's *state* is exactly once. Offsets are
/// committed to the group only after a checkpoint completed (never auto-committed), and on revoke
/// the revoked partitions' offsets of the last completed checkpoint are committed. Side effects of
/// records read after the last checkpoint may repeat after a failure (at least once), unless the
/// sink is transactional (see ``KafkaTransactionLink``). A partition that moves between readers
/// while a checkpoint is in flight is restored at the lower of its two offsets (at least once).
public struct KafkaSource<Decoder: LineDecoder>: Source {
    public let kafka: KafkaConfiguration
    public let configuration: KafkaSourceConfiguration
    public let decoder: Decoder
    /// Counters and consumer lag of all readers of this source.
    public let metrics: KafkaSourceMetrics
    let registry = KafkaSourceRunRegistry()

    public init(kafka: KafkaConfiguration, _ configuration: KafkaSourceConfiguration, decoder: Decoder,
                metrics: KafkaSourceMetrics = KafkaSourceMetrics()) {
        self.kafka = kafka; self.configuration = configuration; self.decoder = decoder; self.metrics = metrics
    }

    public var parallelism: Int { configuration.parallelism }

    public func makeReader(subtask: Int) throws -> Reader {
        precondition(!configuration.topics.isEmpty, "KafkaSource needs at least one topic")
        let config = configuration
        let run = registry.run(forSubtask: subtask) {
            config.transactionLink?.beginRun(groupID: config.groupID, readers: config.parallelism)
        }
        return Reader(core: KafkaReaderCore(kafka: kafka, configuration: configuration, metrics: metrics, run: run, subtask: subtask),
                      decoder: decoder)
    }

    /// One group member. Its state lives in a class because librdkafka's rebalance callback and the
    /// non-mutating `snapshotPosition` both need to reach it.
    public struct Reader: SourceReader {
        let core: KafkaReaderCore
        var decoder: Decoder

        public mutating func open(context: SourceContext) throws {
            let bridge = KafkaSourceMetricsBridge(metrics: core.metrics, group: core.configuration.groupID)
            context.jobMetrics.addPublisher(owner: core.metrics) { bridge.publish() }
            let metrics = core.metrics
            context.jobMetrics.addBacklog(owner: metrics) { metrics.partitionLags.isEmpty ? nil : metrics.totalLag }
            try core.open()
        }
        public func snapshotPosition(into writer: inout ByteWriter) {
            core.snapshot(into: &writer)
            // The decoder's state follows the offsets (readers of format 1 stop after the offsets).
            if let stateful = decoder as? any CheckpointedLineDecoder {
                var state = ByteWriter()
                stateful.snapshotState(into: &state)
                writer.writeBytes(state.bytes)
            }
        }
        public mutating func restorePosition(_ bytes: [UInt8]) throws {
            var r = ByteReader(bytes)
            try core.restore(&r)
            if !r.isAtEnd, var stateful = decoder as? any CheckpointedLineDecoder {
                var state = ByteReader(try r.readBytes())
                try stateful.restoreState(from: &state)
                if let restored = stateful as? Decoder { decoder = restored }
            }
        }
        public mutating func checkpointCompleted(_ checkpointID: Int64) throws { core.checkpointCompleted() }
        public mutating func pause() { core.setPaused(true) }
        public mutating func resume() { core.setPaused(false) }
        public mutating func close() { core.close() }

        public mutating func poll(into batch: inout Batch<Decoder.Output>, deadLetters: inout [DeadLetter<String>],
                                  maxRecords: Int) throws -> SourceStatus {
            let core = self.core
            if core.cursor >= core.count {
                // Nothing fetched: still announce partitions known to have data (see `updateLag`).
                if let status = try core.fill(maxRecords: maxRecords), status != .idle || core.unannounced.isEmpty { return status }
            }
            // Newly assigned partitions are announced first, as empty batches carrying their split:
            // the timestamp assigner then tracks them from the start (without a watermark), so one
            // partition cannot run ahead and make another partition's first records late. A
            // partition that stays silent is released by the assigner's idleness timeout (as in Flink),
            // unless its high watermark shows it still has data (then it is announced again).
            if let split = core.unannounced.first {
                core.unannounced.remove(split)
                batch.split = core.topics.count > 1 ? Int32(split.topic << 16) | split.partition : split.partition
                return .more
            }
            // Hand out one run of messages of the same partition.
            var runTopic = -1
            var runPartition: Int32 = -1
            var runState: KafkaReaderCore.PartitionState? = nil
            var produced = 0
            let skipTombstones = core.configuration.tombstones == .skip
            let maxRecordBytes = core.configuration.maxRecordBytes ?? Int.max
            let stopAfter = core.configuration.bounded ? core.configuration.stopAfterTimestamp : nil
            while produced < maxRecords && core.cursor < core.count {
                let index = core.cursor
                guard let m = core.buffer[index] else { core.cursor += 1; continue }
                let msg = m.pointee
                if msg.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    core.consumerError(m)
                    core.release(index)
                    continue
                }
                let ti = core.topicIndex(msg.rkt)
                if runState != nil && (ti != runTopic || msg.partition != runPartition) { break }
                guard ti >= 0, let state = core.state(ti, msg.partition), !state.stopped, msg.offset >= state.next,
                      state.skipBefore == nil || !core.skipForTimestamp(m, state) else {
                    // Not ours any more (revoked), already emitted (re-fetched after a reassignment),
                    // before the replay time, or after the partition's stop time.
                    core.release(index)
                    continue
                }
                if let stopAfter, core.isAfter(m, stopAfter) {
                    core.stop(ti, msg.partition, state)
                    core.release(index)
                    continue
                }
                if runState == nil {
                    runTopic = ti; runPartition = msg.partition; runState = state
                    core.unannounced.remove(KafkaReaderCore.Split(topic: ti, partition: msg.partition))
                }
                state.next = msg.offset + 1
                if msg.len > maxRecordBytes {
                    deadLetters.append(core.deadLetter(m, topic: ti, error: StreamKitError(.recordTooLarge,
                        "value of \(msg.len) bytes exceeds maxRecordBytes \(maxRecordBytes) (not decoded)")))
                } else if let payload = msg.payload {
                    do {
                        let key = msg.key.map { UnsafeRawBufferPointer(start: $0, count: msg.key_len) }
                        if let value = try decoder.decodeIfRelevant(UnsafeRawBufferPointer(start: payload, count: msg.len), key: key) {
                            batch.append(value, timestamp: Watermark.none, watermark: Watermark.none)
                            produced += 1
                        }
                    } catch {
                        deadLetters.append(core.deadLetter(m, topic: ti, error: error))
                    }
                } else if skipTombstones {
                    core.metrics.tombstones.add(1)
                } else {
                    do {
                        if let value = try decoder.decodeIfRelevant(UnsafeRawBufferPointer(start: nil, count: 0)) {
                            batch.append(value, timestamp: Watermark.none, watermark: Watermark.none)
                            produced += 1
                        }
                    } catch {
                        deadLetters.append(core.deadLetter(m, topic: ti, error: StreamKitError(.tombstone, "tombstone (null value): \(error)")))
                    }
                }
                core.release(index)
            }
            if let runState {
                batch.split = core.topics.count > 1 ? Int32(runTopic << 16) | runPartition : runPartition
                core.metrics.messages.add(UInt64(produced))
            }
            return .more
        }
    }
}

/// The state and C calls of one ``KafkaSource`` reader.
final class KafkaReaderCore {
    final class PartitionState {
        var next: Int64
        /// `.timestamp` start: skip records older than this (Tansu 0.6 answers a timestamp lookup
        /// with the offset of the record *batch*, so the first records may be older).
        var skipBefore: Int64?
        /// Reached ``KafkaSourceConfiguration/stopAfterTimestamp``: nothing more is read.
        var stopped = false
        init(next: Int64, skipBefore: Int64?) { self.next = next; self.skipBefore = skipBefore }
    }

    let kafka: KafkaConfiguration
    let configuration: KafkaSourceConfiguration
    let metrics: KafkaSourceMetrics
    let run: KafkaSourceRun
    let subtask: Int
    let topics: [String]
    var client: RDKafkaClient?
    /// `partitions[topicIndex][partition]`, nil when not assigned to this reader.
    var partitions: [[PartitionState?]]
    /// Topic handles seen in messages, by topic index (pointer comparison instead of string compares).
    var topicHandles: [OpaquePointer?]
    /// Messages consumed but not yet handed out: `buffer[cursor..<count]`.
    var buffer: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>
    let capacity = 8192
    var cursor = 0
    var count = 0
    var paused = false
    var snapshots = 0
    var pending: [(sequence: Int, offsets: [KafkaTopicPartition: Int64])] = []
    var lastCompleted: [KafkaTopicPartition: Int64] = [:]
    var lastLagUpdate: UInt64 = 0
    var lastDiscovery: UInt64 = 0
    var finished = false
    struct Split: Hashable { var topic: Int; var partition: Int32 }
    /// Assigned partitions not yet announced to the job (see `poll`).
    var unannounced: Set<Split> = []

    /// Destroys the message at `index` (handed out or dropped); advances the cursor past released slots.
    @inline(__always)
    func release(_ index: Int) {
        if let m = buffer[index] { rd_kafka_message_destroy(m); buffer[index] = nil }
        while cursor < count && buffer[cursor] == nil { cursor += 1 }
    }


    /// The configuration's logger with the group and subtask as metadata.
    let logger: Logger

    init(kafka: KafkaConfiguration, configuration: KafkaSourceConfiguration, metrics: KafkaSourceMetrics, run: KafkaSourceRun, subtask: Int) {
        self.kafka = kafka; self.configuration = configuration; self.metrics = metrics; self.run = run; self.subtask = subtask
        var logger = kafka.logger
        logger[metadataKey: LogMetadataKey.group] = "\(configuration.groupID)"
        logger[metadataKey: LogMetadataKey.subtask] = "\(subtask)"
        self.logger = logger
        topics = configuration.topics
        partitions = Array(repeating: [], count: topics.count)
        topicHandles = Array(repeating: nil, count: topics.count)
        buffer = .allocate(capacity: capacity)
        buffer.initialize(repeating: nil, count: capacity)
    }

    deinit {
        close()
        buffer.deallocate()
    }

    // MARK: lifecycle

    func open() throws {
        let events = RDKafkaEvents()
        if configuration.assignment == .group {
            events.onRebalance = { [weak self] rk, err, list in self?.rebalance(rk, err, list) }
        }
        let ms = { (d: Duration) in String(d.milliseconds) }
        var overrides = [
            "group.id": configuration.groupID,
            "enable.auto.commit": "false",
            "enable.auto.offset.store": "false",
            "auto.offset.reset": "earliest",
            "isolation.level": configuration.isolation.rawValue,
            "session.timeout.ms": ms(configuration.sessionTimeout),
            "heartbeat.interval.ms": ms(configuration.heartbeatInterval),
            "client.id": "\(kafka.clientID)-\(configuration.groupID)-\(subtask)",
            "enable.partition.eof": "true",
        ]
        if let interval = configuration.maxPollInterval { overrides["max.poll.interval.ms"] = ms(interval) }
        let props = kafka.librdkafkaProperties(overrides)
        let client = try RDKafkaClient.make(.consumer, properties: props, events: events, logger: logger)
        self.client = client
        logger.info("kafka source reader started", metadata: [
            "topics": "\(topics.joined(separator: ","))", "assignment": "\(configuration.assignment)",
            "bounded": "\(configuration.bounded)",
        ])
        if configuration.bounded { try resolveEnds(client) }
        switch configuration.assignment {
        case .group:
            let list = RDTopicPartitionList(capacity: topics.count)
            for t in topics { list.add(t, -1) }  // RD_KAFKA_PARTITION_UA: the whole topic
            try RDKafka.check(rd_kafka_subscribe(client.handle, list.list), "subscribe to \(topics)", retriable: false)
        case .readers:
            try assignOwnedPartitions(client, required: true)
            lastDiscovery = MonotonicClock.nanos()
        }
    }

    /// `.readers` assignment: whether partition `p` of `topic` belongs to this reader (Flink's
    /// KafkaSourceEnumerator rule, with a stable FNV-1a hash of the topic name).
    func owns(topic: String, partition: Int32) -> Bool {
        var h: UInt32 = 2_166_136_261
        for b in topic.utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
        let readers = Swift.max(1, configuration.parallelism)
        let start = Int(h & 0x7FFF_FFFF) % readers
        return (start + Int(partition)) % readers == subtask
    }

    /// `.readers` assignment: assigns this reader's partitions that it does not read yet (all of
    /// them on open, partitions added to the topics later on discovery).
    private func assignOwnedPartitions(_ client: RDKafkaClient, required: Bool) throws {
        var new: [KafkaTopicPartition] = []
        for (ti, t) in topics.enumerated() {
            guard let ps = try client.partitions(of: t, timeout: kafka.requestTimeout) else {
                if required { throw StreamKitError(.connector, "topic \(t) does not exist", retriable: true) }
                continue
            }
            for p in ps where owns(topic: t, partition: p) && state(ti, p) == nil { new.append(KafkaTopicPartition(t, p)) }
        }
        guard !new.isEmpty else { return }
        let list = RDTopicPartitionList(capacity: new.count)
        for tp in new { list.add(tp.topic, tp.partition) }
        prepareAssignment(client.handle, list.list)
        if let e = RDKafka.consume(rd_kafka_incremental_assign(client.handle, list.list), "assign \(new.count) partitions") { throw e }
        if paused { _ = rd_kafka_pause_partitions(client.handle, list.list) }
        metrics.rebalances.add(1)
        logger.info(required ? "kafka partitions assigned" : "kafka partitions discovered", metadata: [
            "partitions": "\(new.map { "\($0.topic)[\($0.partition)]" }.joined(separator: ","))",
        ])
    }

    /// Bounded mode: the partitions to read to their end, listed once per run by the first reader.
    private func resolveEnds(_ client: RDKafkaClient) throws {
        try run.state.withLock { s in
            guard s.ends == nil else { return }
            var all: Set<KafkaTopicPartition> = []
            for t in topics {
                for p in try client.partitions(of: t, timeout: kafka.requestTimeout) ?? [] { all.insert(KafkaTopicPartition(t, p)) }
            }
            s.ends = all
        }
    }

    func close() {
        guard let client else { return }
        client.closeConsumer()  // final revoke callback: commits and hands positions over
        while cursor < count {
            if let m = buffer[cursor] { rd_kafka_message_destroy(m); buffer[cursor] = nil }
            cursor += 1
        }
        for ti in 0..<topics.count {
            for (p, s) in partitions[ti].enumerated() where s != nil { metrics.removeLag(KafkaTopicPartition(topics[ti], Int32(p))) }
            partitions[ti] = []
        }
        self.client = nil
    }

    // MARK: polling

    /// Refills the buffer. Returns a status when there is nothing to hand out.
    func fill(maxRecords: Int) throws -> SourceStatus? {
        guard let client, let queue = client.queue else { return .finished }
        cursor = 0; count = 0
        if finished { return .finished }
        let n = rd_kafka_consume_batch_queue(queue, RDKafka.millis(configuration.pollTimeout), buffer, Swift.min(capacity, Swift.max(1, maxRecords)))
        if n < 0 {
            let err = rd_kafka_last_error()
            throw StreamKitError(.connector, "consume from \(topics): \(RDKafka.errorString(err))", retriable: true,
                                 libraryCode: KafkaErrorCode(err).libraryCode)
        }
        count = n
        if n > 0, let first = buffer[0] {
            let ts = rd_kafka_message_timestamp(first, nil)
            if ts > 0 { metrics.messageAge.record(micros: UInt64(Swift.max(0, WallClock.millis() - ts)) * 1000) }
        }
        let now = MonotonicClock.nanos()
        if now &- lastLagUpdate >= UInt64(configuration.lagUpdateInterval.milliseconds) * 1_000_000 {
            lastLagUpdate = now
            updateLag()
        }
        if client.events.fatal {
            throw StreamKitError(.connector, "fatal consumer error: \(client.events.lastError ?? "?")",
                                 libraryCode: (client.events.lastErrorCode ?? .fatal).libraryCode)
        }
        if configuration.assignment == .readers, !configuration.bounded, let every = configuration.partitionDiscoveryInterval,
           now &- lastDiscovery >= UInt64(every.milliseconds) * 1_000_000 {
            lastDiscovery = now
            do { try assignOwnedPartitions(client, required: false) } catch {
                metrics.error("partition discovery: \(error)")
                logger.warning("kafka partition discovery failed", metadata: [LogMetadataKey.error: "\(error)"])
            }
        }
        if n == 0 {
            if configuration.bounded {
                if run.state.withLock({ s in s.ends.map { ends in ends.allSatisfy { s.done.contains($0) } } ?? false }) {
                    finished = true
                    return .finished
                }
            }
            return .idle
        }
        return nil
    }

    @inline(__always)
    func topicIndex(_ rkt: OpaquePointer?) -> Int {
        for i in 0..<topicHandles.count where topicHandles[i] == rkt { return i }
        guard let rkt else { return -1 }
        let name = String(cString: rd_kafka_topic_name(rkt))
        guard let i = topics.firstIndex(of: name) else { return -1 }
        topicHandles[i] = rkt
        return i
    }

    @inline(__always)
    func state(_ topic: Int, _ partition: Int32) -> PartitionState? {
        let list = partitions[topic]
        return Int(partition) < list.count ? list[Int(partition)] : nil
    }

    /// A dead letter for message `m`: its code and reason from `error`, its origin (topic,
    /// partition, offset, key) and at most `maxDeadLetterPayloadBytes` of its value.
    func deadLetter(_ m: UnsafeMutablePointer<rd_kafka_message_t>, topic: Int, error: any Error) -> DeadLetter<String> {
        metrics.deadLetters.add(1)
        let msg = m.pointee
        let kept = Swift.min(msg.len, configuration.maxDeadLetterPayloadBytes)
        let payload = msg.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: kept)) }
        let key = msg.key.map { Array(UnsafeRawBufferPointer(start: $0, count: msg.key_len)) }
        let origin = RecordOrigin(source: topics[topic], split: msg.partition, position: msg.offset, key: key)
        return DeadLetter(record: payload.map { String(decoding: $0, as: UTF8.self) } ?? "", error: error, origin: origin,
                          payload: payload, originalSize: kept < msg.len ? msg.len : nil)
    }

    func consumerError(_ m: UnsafeMutablePointer<rd_kafka_message_t>) {
        let msg = m.pointee
        if msg.err == RD_KAFKA_RESP_ERR__PARTITION_EOF {
            let ti = topicIndex(msg.rkt)
            if ti >= 0, let s = state(ti, msg.partition), s.skipBefore == nil || msg.offset >= s.next { markDone(ti, msg.partition) }
            return
        }
        let text = msg.payload.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: msg.len), as: UTF8.self) } ?? RDKafka.errorString(msg.err)
        metrics.error("\(RDKafka.errorString(msg.err)): \(text)")
    }

    /// Whether a message of a `.timestamp`-started partition is older than the replay time.
    func skipForTimestamp(_ m: UnsafeMutablePointer<rd_kafka_message_t>, _ state: PartitionState) -> Bool {
        if let ts = Self.timestamp(m), ts < state.skipBefore! { state.next = m.pointee.offset + 1; return true }
        state.skipBefore = nil
        return false
    }

    func markDone(_ topic: Int, _ partition: Int32) {
        _ = run.state.withLock { $0.done.insert(KafkaTopicPartition(topics[topic], partition)) }
    }

    /// Whether message `m`'s Kafka timestamp is after `time` (a message without one is not).
    func isAfter(_ m: UnsafeMutablePointer<rd_kafka_message_t>, _ time: Int64) -> Bool {
        Self.timestamp(m).map { $0 > time } ?? false
    }

    /// Message `m`'s Kafka timestamp (ms), nil when it has none.
    static func timestamp(_ m: UnsafeMutablePointer<rd_kafka_message_t>) -> Int64? {
        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let ts = rd_kafka_message_timestamp(m, &type)
        return ts >= 0 ? ts : nil
    }

    /// Ends a partition at its stop time: done for the bounded read, and its fetching paused
    /// (back-pressure's pause and resume leave it alone: see `assignedList`).
    func stop(_ topic: Int, _ partition: Int32, _ state: PartitionState) {
        state.stopped = true
        markDone(topic, partition)
        guard let client else { return }
        let list = RDTopicPartitionList()
        list.add(topics[topic], partition)
        _ = rd_kafka_pause_partitions(client.handle, list.list)
        logger.debug("kafka partition reached its stop time", metadata: ["topic": "\(topics[topic])", "partition": "\(partition)"])
    }

    /// Refreshes the lag metric and keeps every partition that still has data to deliver active
    /// for the timestamp assigner: such a partition is announced again (an empty batch with its
    /// split), so its idleness timeout cannot release the watermark past records it has not
    /// delivered yet (slow fetches after a restore or a rebalance, fetch imbalance between
    /// partitions). Only a partition that is caught up can become idle.
    private func updateLag() {
        guard let client else { return }
        // librdkafka's application position steps over transaction markers (our `next` does not,
        // so a transactional partition would look one record behind forever).
        let positions = assignedList()
        _ = rd_kafka_position(client.handle, positions.list)
        var appPosition: [Split: Int64] = [:]
        for e in positions.elements where e.err == RD_KAFKA_RESP_ERR_NO_ERROR && e.offset >= 0 {
            let name = String(cString: e.topic)
            if let ti = topics.firstIndex(of: name) { appPosition[Split(topic: ti, partition: e.partition)] = e.offset }
        }
        for ti in 0..<topics.count {
            for (p, s) in partitions[ti].enumerated() {
                guard let s, let w = client.cachedWatermarks(topic: topics[ti], partition: Int32(p)) else { continue }
                // A partition past its stop time has nothing left to read: no lag, not announced
                // again (like a partition at its end).
                metrics.setLag(KafkaPartitionLag(topic: topics[ti], partition: Int32(p), position: s.stopped ? w.high : s.next,
                                                 highWatermark: w.high))
                let split = Split(topic: ti, partition: Int32(p))
                if !s.stopped, Swift.max(s.next, appPosition[split] ?? -1) < w.high { unannounced.insert(split) }
            }
        }
    }

    // MARK: back-pressure

    func setPaused(_ pause: Bool) {
        guard let client, pause != paused else { return }
        paused = pause
        let list = assignedList()
        if list.count > 0 {
            if pause { _ = rd_kafka_pause_partitions(client.handle, list.list) } else { _ = rd_kafka_resume_partitions(client.handle, list.list) }
        }
        (pause ? metrics.pauses : metrics.resumes).add(1)
        logger.debug(pause ? "kafka source paused (back-pressure)" : "kafka source resumed", metadata: ["partitions": "\(list.count)"])
    }

    private func assignedList() -> RDTopicPartitionList {
        let list = RDTopicPartitionList()
        for ti in 0..<topics.count { for (p, s) in partitions[ti].enumerated() where s.map({ !$0.stopped }) ?? false { list.add(topics[ti], Int32(p)) } }
        return list
    }

    // MARK: checkpoints

    private func currentOffsets() -> [KafkaTopicPartition: Int64] {
        var out: [KafkaTopicPartition: Int64] = [:]
        for ti in 0..<topics.count { for (p, s) in partitions[ti].enumerated() { if let s { out[KafkaTopicPartition(topics[ti], Int32(p))] = s.next } } }
        return out
    }

    func snapshot(into writer: inout ByteWriter) {
        var offsets = currentOffsets()
        if subtask == 0 {
            // Restored partitions no reader has claimed yet keep their offsets in the new checkpoint.
            for (tp, o) in run.unclaimedRestored() where offsets[tp] == nil { offsets[tp] = o }
        }
        snapshots += 1
        pending.append((snapshots, offsets))
        if pending.count > 16 { pending.removeFirst() }
        configuration.transactionLink?.record(sequence: snapshots, reader: subtask,
            offsets: offsets.map { KafkaPartitionOffset(topic: $0.key.topic, partition: $0.key.partition, offset: $0.value) })
        writer.writeVarUInt(1)  // format version
        writer.writeVarUInt(UInt64(offsets.count))
        for (tp, o) in offsets.sorted(by: { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }) {
            writer.writeString(tp.topic); writer.writeVarInt(Int64(tp.partition)); writer.writeVarInt(o)
        }
    }

    func restore(_ r: inout ByteReader) throws {
        let version = try r.readVarUInt()
        guard version == 1 else { throw StreamKitError(.checkpoint, "unknown kafka source position format \(version)") }
        let n = Int(try r.readVarUInt())
        var offsets: [KafkaTopicPartition: Int64] = [:]
        for _ in 0..<n {
            let topic = try r.readString()
            let p = Int32(try r.readVarInt())
            offsets[KafkaTopicPartition(topic, p)] = try r.readVarInt()
        }
        run.addRestored(offsets)
    }

    /// The oldest pending snapshot belongs to the completed checkpoint (one checkpoint is in flight
    /// at a time; if one was abandoned, an older snapshot is committed, which is safe).
    func checkpointCompleted() {
        guard !pending.isEmpty else { return }
        let (_, offsets) = pending.removeFirst()
        lastCompleted.merge(offsets) { _, new in new }
        guard configuration.commitOffsetsOnCheckpoint, configuration.transactionLink == nil else { return }
        commit(offsets.filter { state(topics.firstIndex(of: $0.key.topic) ?? 0, $0.key.partition) != nil })
    }

    private func commit(_ offsets: [KafkaTopicPartition: Int64]) {
        guard let client, !offsets.isEmpty else { return }
        let list = RDTopicPartitionList(capacity: offsets.count)
        for (tp, o) in offsets { list.add(tp.topic, tp.partition, offset: o) }
        let err = rd_kafka_commit(client.handle, list.list, 0)
        if err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET { metrics.commits.add(1) } else {
            metrics.commitFailures.add(1)
            logger.warning("kafka offset commit failed", metadata: [LogMetadataKey.error: "\(RDKafka.errorString(err))"])
            metrics.error("commit: \(RDKafka.errorString(err))")
        }
    }

    // MARK: rebalance

    func rebalance(_ rk: OpaquePointer, _ err: rd_kafka_resp_err_t, _ parts: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        metrics.rebalances.add(1)
        let cooperative = String(cString: rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE"
        let entries = RDTopicPartitionList.entries(parts)
        if err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS || err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS {
            logger.info(err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "kafka partitions assigned" : "kafka partitions revoked", metadata: [
                "partitions": "\(entries.map { "\($0.topic)[\($0.partition)]" }.joined(separator: ","))",
                "protocol": "\(cooperative ? "cooperative" : "eager")",
            ])
        }
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            prepareAssignment(rk, parts)
            if cooperative { _ = RDKafka.consume(rd_kafka_incremental_assign(rk, parts), "incremental assign") }
            else { _ = rd_kafka_assign(rk, parts) }
            if paused { _ = rd_kafka_pause_partitions(rk, parts) }
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            var toCommit: [KafkaTopicPartition: Int64] = [:]
            for e in entries {
                let tp = KafkaTopicPartition(e.topic, e.partition)
                guard let ti = topics.firstIndex(of: e.topic), let s = state(ti, e.partition) else { continue }
                run.state.withLock { $0.handoff[tp] = s.next }
                if let o = lastCompleted[tp] { toCommit[tp] = o }
                partitions[ti][Int(e.partition)] = nil
                unannounced.remove(Split(topic: ti, partition: e.partition))
                lastCompleted[tp] = nil
                metrics.removeLag(tp)
            }
            if configuration.commitOffsetsOnCheckpoint && configuration.transactionLink == nil { commit(toCommit) }
            if cooperative { _ = RDKafka.consume(rd_kafka_incremental_unassign(rk, parts), "incremental unassign") }
            else { _ = rd_kafka_assign(rk, nil) }
        default:
            metrics.error("rebalance: \(RDKafka.errorString(err))")
            logger.warning("kafka rebalance error", metadata: [LogMetadataKey.error: "\(RDKafka.errorString(err))"])
            _ = rd_kafka_assign(rk, nil)
        }
    }

    /// Sets the start offset of each partition in `parts` and starts tracking it.
    private func prepareAssignment(_ rk: OpaquePointer, _ parts: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        let entries = RDTopicPartitionList.entries(parts)
        let starts = startOffsets(rk, entries.map { KafkaTopicPartition($0.topic, $0.partition) })
        for i in 0..<Int(parts.pointee.cnt) {
            let tp = KafkaTopicPartition(entries[i].topic, entries[i].partition)
            guard let ti = topics.firstIndex(of: tp.topic) else { continue }
            let start = starts[tp] ?? (0, nil)
            parts.pointee.elems[i].offset = start.offset
            while partitions[ti].count <= Int(tp.partition) { partitions[ti].append(nil) }
            partitions[ti][Int(tp.partition)] = PartitionState(next: start.offset, skipBefore: start.skipBefore)
            unannounced.insert(Split(topic: ti, partition: tp.partition))
        }
    }

    /// Start offsets: handed over in this process > restored checkpoint > start mode.
    private func startOffsets(_ rk: OpaquePointer, _ tps: [KafkaTopicPartition]) -> [KafkaTopicPartition: (offset: Int64, skipBefore: Int64?)] {
        var out: [KafkaTopicPartition: (offset: Int64, skipBefore: Int64?)] = [:]
        var rest: [KafkaTopicPartition] = []
        run.state.withLock { s in
            for tp in tps {
                s.claimed.insert(tp)
                if let o = s.handoff.removeValue(forKey: tp) { out[tp] = (o, nil) } else if let o = s.restored[tp] { out[tp] = (o, nil) } else { rest.append(tp) }
            }
        }
        guard !rest.isEmpty, let client else { return out }
        let timeout = RDKafka.millis(kafka.requestTimeout)
        func end(_ tp: KafkaTopicPartition) -> Int64 {
            (try? client.queryWatermarks(topic: tp.topic, partition: tp.partition, timeout: kafka.requestTimeout).high) ?? RDKafka.offsetEnd
        }
        // The earliest offset is the log start without asking ListOffsets (see RDKafka.logStart).
        switch configuration.startFrom {
        case .earliest: for tp in rest { out[tp] = (RDKafka.logStart, nil) }
        case .latest: for tp in rest { out[tp] = (end(tp), nil) }
        case .committed:
            let list = RDTopicPartitionList(capacity: rest.count)
            for tp in rest { list.add(tp.topic, tp.partition) }
            let ok = rd_kafka_committed(rk, list.list, timeout) == RD_KAFKA_RESP_ERR_NO_ERROR
            var committed: [KafkaTopicPartition: Int64] = [:]
            if ok { for e in RDTopicPartitionList.entries(list.list) where e.offset >= 0 { committed[KafkaTopicPartition(e.topic, e.partition)] = e.offset } }
            for tp in rest { out[tp] = (committed[tp] ?? RDKafka.logStart, nil) }
        case let .timestamp(ms):
            let list = RDTopicPartitionList(capacity: rest.count)
            for tp in rest { list.add(tp.topic, tp.partition, offset: ms) }
            let ok = rd_kafka_offsets_for_times(rk, list.list, timeout) == RD_KAFKA_RESP_ERR_NO_ERROR
            var found: [KafkaTopicPartition: Int64] = [:]
            if ok { for e in RDTopicPartitionList.entries(list.list) where e.err == RD_KAFKA_RESP_ERR_NO_ERROR && e.offset >= 0 { found[KafkaTopicPartition(e.topic, e.partition)] = e.offset } }
            if !ok { metrics.error("offsets_for_times failed; starting at the end") }
            for tp in rest { out[tp] = (found[tp] ?? end(tp), ms) }
        }
        return out
    }
}
