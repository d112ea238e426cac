public import StreamKit

/// Drops change events that a capture published again after it restarted (a capture is at least
/// once after a crash: what Kafka acknowledged after its last saved position is published again).
///
/// A change event's place in its capture's publishing order comes from its `source` block:
/// PostgreSQL's `source.sequence` (`["<last commit LSN>","<LSN>"]`, Debezium's field for exactly
/// this); MySQL's `source.file`, `pos` and `row` (the binlog file, the position of the row's rows
/// event in it, the row's index in that event — the same bytes of the server's binlog however the
/// capture got there, so a restart that resumes inside a transaction republishes its tail with
/// the positions it had the first time). Either increases strictly in the order the capture
/// publishes (a key-changing update, a delete and a create at one place, orders the create after
/// the delete), and a capture that restarts publishes again from its saved position, in the same
/// order and to the same partitions (the key decides). So per source split (Kafka partition) an
/// event whose position is not above the highest one already seen is a repeat: the state is one
/// position per partition, checkpointed with the job (restored with the source offsets it
/// belongs to).
///
/// Runs in the source's chain, right after the source, where batches still carry their split:
/// ```swift
/// env.source(KafkaSource(kafka: kafka, config, decoder: DebeziumLineDecoder(Booking.self)))
///     .deduplicatingChanges()
/// ```
/// Events without a position (other connectors, snapshot reads `op: r`, tombstones) pass
/// unchanged. Dropped repeats are counted in the operator's `droppedRecords`. Restoring a
/// checkpoint with another source parallelism starts with no positions (repeats published
/// before that checkpoint are then not recognised).
public struct DebeziumDeduplicator<Row: Decodable & Sendable>: StreamOperator {
    public typealias Input = DebeziumRecord<Row>
    public typealias Output = DebeziumRecord<Row>

    /// A change event's place in the capture's publishing order.
    public struct Position: Comparable, Sendable {
        /// PostgreSQL: the last commit LSN; MySQL: the binlog file's number.
        public var lastCommit: UInt64
        /// PostgreSQL: the change's LSN; MySQL: the position of its rows event in the file.
        public var lsn: UInt64
        /// MySQL: the row's index in its rows event (PostgreSQL: 0).
        public var row: UInt64
        /// 1 for a create, else 0: a key-changing update publishes a delete and a create at one place.
        public var part: UInt64
        @inlinable public init(lastCommit: UInt64, lsn: UInt64, row: UInt64 = 0, part: UInt64 = 0) {
            self.lastCommit = lastCommit; self.lsn = lsn; self.row = row; self.part = part
        }
        @inlinable public static func < (a: Position, b: Position) -> Bool {
            (a.lastCommit, a.lsn, a.row, a.part) < (b.lastCommit, b.lsn, b.row, b.part)
        }
    }

    /// Highest position seen per split.
    @usableFromInline var highest: [Int32: Position] = [:]
    /// Repeats dropped by this subtask.
    public var dropped: UInt64 { droppedCount }
    @usableFromInline var droppedCount: UInt64 = 0

    @inlinable public init() {}

    /// The position of a change event from its `source` block (PostgreSQL's `sequence`, MySQL's
    /// `file`/`pos`/`row`); nil when it has none (or it is a snapshot read, whose events all share
    /// the snapshot's position).
    @inlinable
    public static func position(of envelope: DebeziumEnvelope<Row>) -> Position? {
        guard envelope.op != .read else { return nil }
        let part: UInt64 = envelope.op == .create ? 1 : 0
        guard let sequence = envelope.source.sequence else {
            guard let file = envelope.source.file, let pos = envelope.source.pos, pos >= 0,
                  let number = binlogFileNumber(file) else { return nil }
            return Position(lastCommit: number, lsn: UInt64(pos), row: UInt64(max(0, envelope.source.row ?? 0)), part: part)
        }
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
        return Position(lastCommit: numbers.0, lsn: numbers.1, part: part)
    }

    /// The number of a binlog file (`binlog.000012` → 12): the digits after the last dot.
    @inlinable
    static func binlogFileNumber(_ file: String) -> UInt64? {
        var n: UInt64 = 0, digits = 0
        for byte in file.utf8 {
            if byte == UInt8(ascii: ".") { n = 0; digits = 0; continue }
            guard byte >= 48 && byte <= 57 else { n = 0; digits = 0; continue }
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(byte - 48))
            if o1 || o2 { return nil }
            n = s; digits += 1
        }
        return digits > 0 ? n : nil
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
        let sorted = highest.sorted(by: { $0.key < $1.key })
        for (split, p) in sorted {
            snapshot.operatorState.writeVarInt(Int64(split))
            snapshot.operatorState.writeVarUInt(p.lastCommit)
            snapshot.operatorState.writeVarUInt(p.lsn)
        }
        // Appended after the original layout, so checkpoints written before MySQL positions restore.
        for (_, p) in sorted {
            snapshot.operatorState.writeVarUInt(p.row)
            snapshot.operatorState.writeVarUInt(p.part)
        }
    }

    @inlinable
    public mutating func restoreState(_ restore: OperatorRestore, context: OperatorContext) throws {
        guard let bytes = restore.operatorState else { return }
        var r = ByteReader(bytes)
        let n = try r.readVarUInt()
        var splits: [Int32] = []
        for _ in 0..<n {
            let split = Int32(try r.readVarInt())
            highest[split] = Position(lastCommit: try r.readVarUInt(), lsn: try r.readVarUInt())
            splits.append(split)
        }
        guard !r.isAtEnd else { return }
        for split in splits {
            highest[split]!.row = try r.readVarUInt()
            highest[split]!.part = try r.readVarUInt()
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
