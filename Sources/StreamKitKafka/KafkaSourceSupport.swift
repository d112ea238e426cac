import CRdKafka
import Synchronization
public import StreamKit

/// Where a partition starts when the restored checkpoint has no offset for it.
public enum KafkaStartOffset: Sendable, Hashable {
    /// The partition's first available offset (ignores the group's committed offsets): offset 0,
    /// moved to the log start by `auto.offset.reset=earliest` when the log starts later. Not found
    /// with `ListOffsets(earliest)`, which Tansu 0.6 answers by write time: with concurrent
    /// producers, a later batch than the first.
    case earliest
    /// The partition's end: only records produced from now on (ignores committed offsets).
    /// Found with `ListOffsets`, which Tansu 0.6 answers at batch granularity: there it may start
    /// too early.
    case latest
    /// The group's committed offset; partitions without one start at the earliest offset.
    case committed
    /// The first record whose timestamp is at or after this time (ms since the epoch), found with
    /// `rd_kafka_offsets_for_times`; partitions without such a record start at their end. Replays history.
    case timestamp(Int64)
}

/// What the source does with a message whose value is null (a tombstone).
public enum KafkaTombstonePolicy: Sendable, Hashable {
    /// Hands the decoder an empty value: a decoder that knows tombstones (e.g. a Debezium
    /// decoder) turns it into a tombstone record, others throw and the message becomes a dead letter.
    case decodeAsEmpty
    /// Drops tombstones silently (counted in ``KafkaSourceMetrics/tombstones``).
    case skip
}

/// One partition's consumer lag.
public struct KafkaPartitionLag: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    /// The next offset the source will emit.
    public var position: Int64
    /// The partition's high watermark (next offset to be written) as last seen by the consumer.
    public var highWatermark: Int64
    /// `highWatermark - position` (records not yet read).
    public var lag: Int64 { Swift.max(0, highWatermark - position) }
}

/// Counters and consumer lag of a ``KafkaSource`` (all its readers), readable from any thread.
public final class KafkaSourceMetrics: Sendable {
    /// Messages consumed and emitted.
    public let messages = Counter()
    /// Messages that failed to decode (sent to the dead letters).
    public let deadLetters = Counter()
    /// Null-value messages dropped under ``KafkaTombstonePolicy/skip``.
    public let tombstones = Counter()
    /// Times the readers paused their partitions because downstream was full.
    public let pauses = Counter()
    /// Times they resumed.
    public let resumes = Counter()
    /// Rebalance callbacks (assign + revoke).
    public let rebalances = Counter()
    /// Offset commits to the group after completed checkpoints (and on revoke).
    public let commits = Counter()
    /// Offset commits that failed (not fatal: checkpoints are authoritative).
    public let commitFailures = Counter()
    /// Consumer errors reported by librdkafka (transient; the consumer retries).
    public let consumerErrors = Counter()
    /// Age of the messages when the source polls them: wall clock − the message's Kafka timestamp
    /// (producer create time, or log-append time), sampled at the first message of every non-empty
    /// poll. Time spent in the producer, the broker, the fetch and librdkafka's prefetch queue —
    /// the part of end-to-end latency before the job sees a record (Flink's fetch event-time lag).
    public let messageAge = LatencyHistogram()
    private let lags = Mutex<[KafkaTopicPartition: KafkaPartitionLag]>([:])
    private let lastErrorText = Mutex<String?>(nil)

    public init() {}

    /// Lag of every partition currently assigned to a reader, sorted by topic and partition.
    public var partitionLags: [KafkaPartitionLag] {
        lags.withLock { Array($0.values) }.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
    }
    /// Sum of the lags of all assigned partitions.
    public var totalLag: Int64 { lags.withLock { $0.values.reduce(0) { $0 + $1.lag } } }
    /// The last consumer error message, if any.
    public var lastError: String? { lastErrorText.withLock { $0 } }

    func setLag(_ lag: KafkaPartitionLag) { lags.withLock { $0[KafkaTopicPartition(lag.topic, lag.partition)] = lag } }
    func removeLag(_ tp: KafkaTopicPartition) { _ = lags.withLock { $0.removeValue(forKey: tp) } }
    func error(_ text: String) { consumerErrors.add(1); lastErrorText.withLock { $0 = text } }
}

struct KafkaTopicPartition: Hashable, Sendable {
    var topic: String
    var partition: Int32
    init(_ topic: String, _ partition: Int32) { self.topic = topic; self.partition = partition }
}

/// Links a ``KafkaSource`` and a transactional ``KafkaSink`` of the same job so that the sink
/// commits the source's checkpointed offsets inside its transaction
/// (`send_offsets_to_transaction`): output records and consumed offsets become visible atomically,
/// the Kafka-native exactly-once read-process-write loop.
///
/// Give the same object to ``KafkaSourceConfiguration/transactionLink`` and
/// ``KafkaSinkConfiguration/transactionLink``. The source then stops committing offsets itself.
/// The sink's N-th checkpoint of a run is matched with the source readers' N-th snapshot, which
/// holds as long as every checkpoint reaches both (checkpoints are aligned and one is in flight at
/// a time). Use one sink subtask with a link (every subtask would commit the same offsets).
public final class KafkaTransactionLink: Sendable {
    struct State {
        var groupID: String?
        /// Per snapshot sequence number (1-based within a run): reader subtask → offsets.
        var snapshots: [Int: [Int: [KafkaPartitionOffset]]] = [:]
        var readers = 0
    }
    let state = Mutex(State())
    public init() {}

    func beginRun(groupID: String, readers: Int) {
        state.withLock { $0 = State(groupID: groupID, snapshots: [:], readers: readers) }
    }
    func record(sequence: Int, reader: Int, offsets: [KafkaPartitionOffset]) {
        state.withLock { s in
            s.snapshots[sequence, default: [:]][reader] = offsets
            s.snapshots = s.snapshots.filter { $0.key > sequence - 16 }
        }
    }
    /// The merged offsets of snapshot `sequence` once every reader recorded it.
    func offsets(sequence: Int) -> (groupID: String, offsets: [KafkaPartitionOffset])? {
        state.withLock { s in
            guard let g = s.groupID, let snap = s.snapshots[sequence], snap.count >= s.readers else { return nil }
            var merged: [KafkaTopicPartition: Int64] = [:]
            for list in snap.values { for o in list { merged[KafkaTopicPartition(o.topic, o.partition)] = o.offset } }
            return (g, merged.map { KafkaPartitionOffset(topic: $0.key.topic, partition: $0.key.partition, offset: $0.value) })
        }
    }
}

/// State shared by the readers of one source in one run: restored offsets (merged from every
/// reader's checkpoint bytes), positions handed over when a partition moves between readers of
/// this process, and, in bounded mode, the end offsets and which partitions reached them.
final class KafkaSourceRun: Sendable {
    struct State {
        var restored: [KafkaTopicPartition: Int64] = [:]
        var claimed: Set<KafkaTopicPartition> = []
        var handoff: [KafkaTopicPartition: Int64] = [:]
        /// Bounded mode: every partition to read to its end.
        var ends: Set<KafkaTopicPartition>? = nil
        var done: Set<KafkaTopicPartition> = []
        var subtasks: Set<Int> = []
    }
    let state = Mutex(State())
    init() {}

    func addRestored(_ offsets: [KafkaTopicPartition: Int64]) {
        state.withLock { s in
            // A partition in two snapshots moved during that checkpoint: the lower offset loses nothing.
            for (tp, o) in offsets { s.restored[tp] = Swift.min(s.restored[tp] ?? .max, o) }
        }
    }
    /// Restored offsets not yet claimed by any reader (kept in subtask 0's snapshots).
    func unclaimedRestored() -> [KafkaTopicPartition: Int64] {
        state.withLock { s in s.restored.filter { !s.claimed.contains($0.key) } }
    }
}

/// Hands each run of a job its own ``KafkaSourceRun``: a reader for a subtask that already has
/// one means a new run (the source value may be reused by several runs or restores).
final class KafkaSourceRunRegistry: Sendable {
    let current = Mutex(KafkaSourceRun())
    init() {}
    func run(forSubtask subtask: Int, onNewRun: () -> Void) -> KafkaSourceRun {
        current.withLock { run in
            let isNew = run.state.withLock { s in
                if s.subtasks.contains(subtask) { return true }
                s.subtasks.insert(subtask); return false
            }
            if isNew {
                run = KafkaSourceRun()
                run.state.withLock { _ = $0.subtasks.insert(subtask) }
            }
            if subtask == 0 || isNew { onNewRun() }
            return run
        }
    }
}
