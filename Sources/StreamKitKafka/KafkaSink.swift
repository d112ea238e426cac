public import StreamKit
public import Glibc

/// What a ``KafkaSink`` does when a message could not be delivered (after librdkafka's own
/// retries, which run for ``KafkaSinkConfiguration/deliveryTimeout``).
public enum KafkaDeliveryFailurePolicy: Sendable, Hashable {
    /// Throw: the job fails and restarts from its last checkpoint. Default.
    case failJob
    /// Count the failure in ``KafkaSinkMetrics/failed`` and go on (the message is lost).
    case countAndContinue
}

/// Settings of a ``KafkaSink``.
public struct KafkaSinkConfiguration: Sendable {
    /// The topic to write to.
    public var topic: String
    /// `enable.idempotence`: no duplicates or reordering from librdkafka's retries. Default: true.
    public var idempotent: Bool = true
    /// Makes the sink transactional (one transaction per checkpoint); each subtask uses the ids
    /// `"<transactionalID>-<subtask>-<slot>"`. Default: nil (not transactional).
    public var transactionalID: String? = nil
    /// `linger.ms`: how long librdkafka waits to fill a batch. Default: 5 ms.
    public var linger: Duration = .milliseconds(5)
    /// `delivery.timeout.ms`: how long librdkafka retries a message before reporting it failed. Default: 120 s.
    public var deliveryTimeout: Duration = .seconds(120)
    /// Default: `.failJob`.
    public var onDeliveryFailure: KafkaDeliveryFailurePolicy = .failJob
    /// Longest wait of a flush (checkpoint, end of input). Default: 60 s.
    public var flushTimeout: Duration = .seconds(60)
    /// `transaction.timeout.ms`: the broker aborts a transaction left open this long. Default: 60 s.
    public var transactionTimeout: Duration = .seconds(60)
    /// Commits a linked ``KafkaSource``'s checkpointed offsets inside each transaction. Default: nil.
    public var transactionLink: KafkaTransactionLink?
    public init(topic: String) { self.topic = topic }
}

/// Counters of a ``KafkaSink`` (all subtasks).
public final class KafkaSinkMetrics: Sendable {
    /// Messages acknowledged by the broker.
    public let delivered = Counter()
    /// Messages whose delivery failed.
    public let failed = Counter()
    /// Bytes (message values) acknowledged by the broker.
    public let deliveredBytes = Counter()
    /// Transactions committed (transactional mode).
    public let transactionsCommitted = Counter()
    public init() {}
}

/// Writes records to a Kafka topic: `encode` turns each record into a key, a value and optional
/// headers. Blocking calls (`flush`, transaction commits) run on the sink's own subtask thread,
/// never on the concurrency pool.
///
/// ```swift
/// stream.writeToKafka(kafka, KafkaSinkConfiguration(topic: "results")) { r in
///     KafkaMessage(key: "\(r.key)", value: "\(r.value)")
/// }
/// ```
///
/// **Default mode (idempotent producer, at least once).** Each checkpoint flushes: a checkpoint
/// completes only when everything before its barrier was acknowledged; after a restore, records
/// sent after that checkpoint are sent again.
///
/// **Transactional mode** (``KafkaSinkConfiguration/transactionalID``): records between two
/// checkpoints form one transaction. `open` calls `init_transactions` (aborting what an earlier run
/// left open) and begins a transaction; a checkpoint's `snapshotState` flushes it (pre-commit) and
/// starts the next one on another producer of a small pool; `checkpointCompleted` commits it
/// (after `send_offsets_to_transaction` when a ``KafkaTransactionLink`` is set); end of input
/// commits what is open. `read_committed` consumers then see each checkpoint's output atomically.
/// **No loss window.** A failure between a checkpoint's completion and its commit aborts that
/// transaction (librdkafka cannot resume another producer's transaction). The runtime therefore
/// restores only from a *confirmed* checkpoint — one whose completion every task (this sink's
/// included) handled, i.e. whose transaction committed (see `CheckpointStore.restorePoint()`):
/// after such a failure the job restores from the previous checkpoint and produces the aborted
/// output again in a new transaction. A crash after the commit but before the confirmation is
/// recorded replays that checkpoint's input once more: duplicates, never loss.
/// Limit: **Tansu 0.6 does not hide records of aborted transactions** from `read_committed`
/// readers — it does hide open ones, and committed ones become visible — so on Tansu the output
/// after a failure is at least once (nothing lost; aborted records visible as repeats).
public struct KafkaSink<Element: Sendable>: StreamOperator {
    public typealias Input = Element
    public typealias Output = Never
    let kafka: KafkaConfiguration
    let configuration: KafkaSinkConfiguration
    let encode: @Sendable (Element) -> KafkaMessage
    /// Delivery and transaction counters.
    public let metrics: KafkaSinkMetrics

    var producer: KafkaProducer?
    // Transactional mode.
    var free: [KafkaProducer] = []
    var pendingTransactions: [(checkpointID: Int64, sequence: Int, producer: KafkaProducer)] = []
    var slots = 0
    /// Slot index of each producer; `usedSlots` is one past the highest slot that began a
    /// transaction in this run (what a restore must fence, written into checkpoints).
    var slotIndex: [ObjectIdentifier: Int] = [:]
    var usedSlots = 0
    var restoredSlots = 0
    var snapshots = 0
    var subtask = 0

    public init(kafka: KafkaConfiguration, _ configuration: KafkaSinkConfiguration, metrics: KafkaSinkMetrics = KafkaSinkMetrics(),
                encode: @escaping @Sendable (Element) -> KafkaMessage) {
        self.kafka = kafka; self.configuration = configuration; self.metrics = metrics; self.encode = encode
    }

    private var transactional: Bool { configuration.transactionalID != nil }

    private func makeProducer(transactionalID: String?) throws -> KafkaProducer {
        try KafkaProducer(configuration: kafka, idempotent: configuration.idempotent, transactionalID: transactionalID,
                          extraProperties: ["linger.ms": String(configuration.linger.milliseconds),
                                            "delivery.timeout.ms": String(transactional ? Swift.min(configuration.deliveryTimeout, configuration.transactionTimeout).milliseconds
                                                                                        : configuration.deliveryTimeout.milliseconds),
                                            "transaction.timeout.ms": String(configuration.transactionTimeout.milliseconds)],
                          metrics: metrics)
    }

    private mutating func newSlot() throws -> KafkaProducer {
        let p = try makeProducer(transactionalID: "\(configuration.transactionalID!)-\(subtask)-\(slots)")
        slotIndex[ObjectIdentifier(p)] = slots
        slots += 1
        try p.initTransactions(timeout: configuration.transactionTimeout)
        return p
    }

    public mutating func open(context: OperatorContext) throws {
        subtask = context.subtask
        let bridge = KafkaSinkMetricsBridge(metrics: metrics, topic: configuration.topic)
        context.jobMetrics.addPublisher(owner: metrics) { bridge.publish() }
        if transactional {
            // Re-register every transactional id the previous run may have used: this aborts its
            // open transactions. The restored checkpoint counted the slots up to it; the failed run
            // may have opened up to two more after it (the checkpoint that completed without its
            // commits, and the next one in flight), so those are re-registered too.
            // The pool hands out the lowest free slot first, so a run that restores keeps using
            // the same few ids (the count written into checkpoints does not grow per restore).
            var fenced: [KafkaProducer] = []
            for _ in 0..<(Swift.max(1, restoredSlots) + 2) { fenced.append(try newSlot()) }
            free = fenced.reversed()
            let first = free.removeLast()
            try begin(first)
            producer = first
        } else {
            producer = try makeProducer(transactionalID: nil)
        }
    }

    private mutating func begin(_ p: KafkaProducer) throws {
        try p.beginTransaction()
        usedSlots = Swift.max(usedSlots, (slotIndex[ObjectIdentifier(p)] ?? 0) + 1)
    }

    private func checkDeliveries(_ p: KafkaProducer) throws {
        do { try p.checkDeliveries() } catch {
            if configuration.onDeliveryFailure == .failJob { throw error }
        }
    }

    public mutating func processBatch(_ input: inout Batch<Element>, into output: inout Batch<Never>,
                                      side: inout Batch<Never>, context: OperatorContext) throws {
        guard let p = producer else { throw StreamKitError(.state, "kafka sink used before open") }
        let topic = configuration.topic
        for v in input.values { try p.send(topic: topic, message: encode(v)) }
        p.poll()
        try checkDeliveries(p)
        recordLatency(input, context)
    }

    /// Serves delivery reports while no batches arrive.
    public mutating func processProcessingTime(_ now: Int64, into output: inout Batch<Never>,
                                               side: inout Batch<Never>, context: OperatorContext) throws {
        guard let p = producer else { return }
        p.poll()
        try checkDeliveries(p)
    }

    private func flush(_ p: KafkaProducer) throws {
        do { try p.flush(timeout: configuration.flushTimeout) } catch let e as StreamKitError {
            if configuration.onDeliveryFailure == .failJob || e.message.hasPrefix("flush timed out") { throw e }
        }
    }

    public mutating func snapshotState(_ snapshot: inout OperatorSnapshot, context: OperatorContext) throws {
        guard let p = producer else { return }
        try flush(p)
        if transactional {
            snapshots += 1
            pendingTransactions.append((snapshot.checkpointID, snapshots, p))
            let next = try free.popLast() ?? newSlot()
            try begin(next)
            producer = next
        }
        snapshot.operatorState.writeVarUInt(UInt64(transactional ? usedSlots : slots))
    }

    public mutating func restoreState(_ restore: OperatorRestore, context: OperatorContext) throws {
        if let b = restore.operatorState, !b.isEmpty { var r = ByteReader(b); restoredSlots = Int(try r.readVarUInt()) }
    }

    public mutating func checkpointCompleted(_ checkpointID: Int64, context: OperatorContext) throws {
        while let first = pendingTransactions.first, first.checkpointID <= checkpointID {
            pendingTransactions.removeFirst()
            try commit(first.producer, sequence: first.sequence)
            free.append(first.producer)
        }
    }

    private func commit(_ p: KafkaProducer, sequence: Int?) throws {
        if let link = configuration.transactionLink, let sequence, let (group, offsets) = link.offsets(sequence: sequence) {
            try p.sendOffsetsToTransaction(offsets, groupID: group, timeout: configuration.transactionTimeout)
        }
        try p.commitTransaction(timeout: configuration.transactionTimeout)
        metrics.transactionsCommitted.add(1)
    }

    public mutating func finish(into output: inout Batch<Never>, side: inout Batch<Never>, context: OperatorContext) throws {
        guard let p = producer else { return }
        try flush(p)
        if transactional {
            for t in pendingTransactions { try commit(t.producer, sequence: t.sequence) }
            pendingTransactions.removeAll()
            try commit(p, sequence: nil)
            producer = nil
        }
    }
}

extension DataStream {
    /// Writes the stream to a Kafka topic (see ``KafkaSink``). `parallelism` nil runs one sink per
    /// upstream subtask.
    @discardableResult
    public func writeToKafka(_ kafka: KafkaConfiguration, _ configuration: KafkaSinkConfiguration, name: String = "kafka-sink",
                             parallelism: Int? = nil, metrics: KafkaSinkMetrics = KafkaSinkMetrics(),
                             encode: @escaping @Sendable (Element) -> KafkaMessage) -> DataStream<Never> {
        sink(name, parallelism: parallelism) { KafkaSink(kafka: kafka, configuration, metrics: metrics, encode: encode) }
    }
}
