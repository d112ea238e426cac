public import StreamKit

/// Drops change events that a capture published again after it restarted (a capture is at least
/// once after a crash: what Kafka acknowledged after its last saved position is published again).
///
/// A PostgreSQL change event's `source.sequence` (`["<last commit LSN>","<LSN>"]`, Debezium's
/// field for exactly this) increases strictly in the order the capture publishes, and a capture
/// that restarts publishes again from its saved position, in the same order and to the same
/// partitions (the key decides). So per source split (Kafka partition) an event whose sequence is
/// not above the highest one already seen is a repeat: the state is one position per partition,
/// checkpointed with the job (restored with the source offsets it belongs to).
///
/// Runs in the source's chain, right after the source, where batches still carry their split:
/// ```swift
/// env.source(KafkaSource(kafka: kafka, config, decoder: DebeziumLineDecoder(Booking.self)))
///     .deduplicatingChanges()
/// ```
/// Events without a sequence (other connectors, snapshot reads `op: r`, tombstones) pass
/// unchanged. Dropped repeats are counted in the operator's `droppedRecords`. Restoring a
/// checkpoint with another source parallelism starts with no positions (repeats published
/// before that checkpoint are then not recognised).
public struct DebeziumDeduplicator<Row: Decodable & Sendable>: StreamOperator {
    public typealias Input = DebeziumRecord<Row>
    public typealias Output = DebeziumRecord<Row>

    /// A change event's place in the capture's publishing order.
    public struct Position: Comparable, Sendable {
        public var lastCommit: UInt64
        public var lsn: UInt64
        @inlinable public init(lastCommit: UInt64, lsn: UInt64) { self.lastCommit = lastCommit; self.lsn = lsn }
        @inlinable public static func < (a: Position, b: Position) -> Bool { (a.lastCommit, a.lsn) < (b.lastCommit, b.lsn) }
    }

    /// Highest position seen per split.
    @usableFromInline var highest: [Int32: Position] = [:]
    /// Repeats dropped by this subtask.
    public var dropped: UInt64 { droppedCount }
    @usableFromInline var droppedCount: UInt64 = 0

    @inlinable public init() {}

    /// The position of a PostgreSQL change event from its `source.sequence`; nil when it has none
    /// (or it is a snapshot read, whose events all share the snapshot's LSN).
    @inlinable
    public static func position(of envelope: DebeziumEnvelope<Row>) -> Position? {
        guard envelope.op != .read, let sequence = envelope.source.sequence else { return nil }
        // `["123","456"]` or `[null,"456"]`: the first number (0 for null), then the second.
        var numbers: (UInt64, UInt64) = (0, 0)
        var index = 0, current: UInt64 = 0, inNumber = false
        for byte in sequence.utf8 {
            if byte >= 48 && byte <= 57 {
                let (m, o1) = current.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(UInt64(byte - 48))
                if o1 || o2 { return nil }
                current = s; inNumber = true
            } else if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "]") {
                if index == 0 { numbers.0 = inNumber ? current : 0 } else if index == 1 { numbers.1 = current }
                if index == 1 && !inNumber { return nil }
                index += 1; current = 0; inNumber = false
            }
        }
        guard index == 2 else { return nil }
        return Position(lastCommit: numbers.0, lsn: numbers.1)
    }

    @inlinable
    public mutating func processBatch(_ input: inout Batch<Input>, into output: inout Batch<Output>,
                                      side: inout Batch<Never>, context: OperatorContext) throws {
        let split = input.split
        var top = highest[split]
        var repeats: UInt64 = 0
        for i in 0..<input.count {
            let record = input.values[i]
            if case let .change(envelope) = record, let p = Self.position(of: envelope) {
                if let t = top, p <= t { repeats &+= 1; continue }
                top = p
            }
            output.append(record, timestamp: input.timestamps[i], watermark: input.watermarks[i])
        }
        if let top { highest[split] = top }
        if repeats > 0 { droppedCount &+= repeats; context.metrics.droppedRecords.add(repeats) }
    }

    @inlinable
    public mutating func snapshotState(_ snapshot: inout OperatorSnapshot, context: OperatorContext) throws {
        snapshot.operatorState.writeVarUInt(UInt64(highest.count))
        for (split, p) in highest.sorted(by: { $0.key < $1.key }) {
            snapshot.operatorState.writeVarInt(Int64(split))
            snapshot.operatorState.writeVarUInt(p.lastCommit)
            snapshot.operatorState.writeVarUInt(p.lsn)
        }
    }

    @inlinable
    public mutating func restoreState(_ restore: OperatorRestore, context: OperatorContext) throws {
        guard let bytes = restore.operatorState else { return }
        var r = ByteReader(bytes)
        let n = try r.readVarUInt()
        for _ in 0..<n {
            let split = Int32(try r.readVarInt())
            highest[split] = Position(lastCommit: try r.readVarUInt(), lsn: try r.readVarUInt())
        }
    }
}

extension DataStream {
    /// Drops the repeats a restarted capture published again (see ``DebeziumDeduplicator``).
    /// Put it right after the Kafka source.
    @inlinable
    public func deduplicatingChanges<Row: Decodable & Sendable>(name: String = "deduplicate-changes") -> DataStream<Element>
    where Element == DebeziumRecord<Row> {
        transform(name) { DebeziumDeduplicator<Row>() }
    }
}
