import Testing
import StreamKit
import StreamKitTesting
import StreamKitDebezium

/// ``DebeziumDeduplicator``: repeats of a restarted capture (not above the highest `sequence`
/// seen in their partition) are dropped, per partition, and the positions survive a checkpoint.
@Suite struct DebeziumDeduplicatorTests {
    struct Row: Decodable, Sendable, Equatable { let id: Int }
    typealias Dedup = DebeziumDeduplicator<Row>

    static func change(_ id: Int, _ lastCommit: UInt64?, _ lsn: UInt64, op: DebeziumOperation = .create) -> DebeziumRecord<Row> {
        let sequence = "[\(lastCommit.map { "\"\($0)\"" } ?? "null"),\"\(lsn)\"]"
        let source = DebeziumSource(version: "2.5.0.Final", connector: "postgresql", name: "app", tsMs: 0, db: "app",
                                    sequence: sequence, lsn: Int64(lsn))
        return .change(DebeziumEnvelope(before: nil, after: Row(id: id), source: source, op: op, tsMs: 0))
    }
    static func batch(_ records: [DebeziumRecord<Row>], split: Int32) -> Batch<DebeziumRecord<Row>> {
        var b = Batch<DebeziumRecord<Row>>()
        for r in records { b.append(r, timestamp: 0, watermark: Watermark.none) }
        b.split = split
        return b
    }
    static func ids(_ h: OperatorTestHarness<Dedup>) -> [Int] { h.takeOutput().compactMap { $0.value.envelope?.after?.id } }

    @Test func positionsParseFromTheSequence() throws {
        guard case let .change(e) = Self.change(1, 100, 164) else { Issue.record("no change"); return }
        #expect(Dedup.position(of: e) == Dedup.Position(lastCommit: 100, lsn: 164, part: 1))
        guard case let .change(first) = Self.change(1, nil, 7, op: .update) else { return }
        #expect(Dedup.position(of: first) == Dedup.Position(lastCommit: 0, lsn: 7))
        guard case let .change(read) = Self.change(1, 100, 164, op: .read) else { return }
        #expect(Dedup.position(of: read) == nil, "snapshot reads share one LSN: never deduplicated")
    }

    @Test func repeatsArePerPartitionAndSurviveACheckpoint() throws {
        let h = try OperatorTestHarness(Dedup())
        try h.processBatch(Self.batch([Self.change(1, 10, 20), Self.change(2, 10, 21), Self.change(3, 30, 25)], split: 0))
        // Another partition's lower positions are its own.
        try h.processBatch(Self.batch([Self.change(10, 10, 22)], split: 1))
        #expect(Self.ids(h) == [1, 2, 3, 10])
        let snapshot = try h.snapshot()

        // The capture restarted from (10, 21): 2 and 3 come again, then 4 is new.
        try h.processBatch(Self.batch([Self.change(2, 10, 21), Self.change(3, 30, 25), Self.change(4, 30, 26)], split: 0))
        #expect(Self.ids(h) == [4])
        #expect(h.operator.dropped == 2)
        #expect(h.metrics.droppedRecords.current == 2)

        // Restored from the checkpoint (before 4): the repeats are still recognised.
        let restored = try OperatorTestHarness.restore(from: [snapshot]) { Dedup() }
        try restored.processBatch(Self.batch([Self.change(3, 30, 25), Self.change(4, 30, 26)], split: 0))
        try restored.processBatch(Self.batch([Self.change(10, 10, 22), Self.change(11, 40, 50)], split: 1))
        #expect(Self.ids(restored) == [4, 11])
        // Snapshot reads and tombstones always pass.
        try restored.processBatch(Self.batch([Self.change(5, 10, 1, op: .read), .tombstone], split: 0))
        #expect(restored.takeOutput().count == 2)
    }

    static func mysqlChange(_ id: Int, file: String, pos: Int64, row: Int64, op: DebeziumOperation = .create) -> DebeziumRecord<Row> {
        let source = DebeziumSource(version: "2.5.0.Final", connector: "mysql", name: "app", tsMs: 0, db: "app", table: "t",
                                    file: file, pos: pos, row: row)
        return .change(DebeziumEnvelope(before: op == .create ? nil : Row(id: id), after: op == .delete ? nil : Row(id: id),
                                        source: source, op: op, tsMs: 0))
    }

    /// MySQL positions: binlog file number, rows-event position, row index; a key-changing update
    /// (delete + create at one place) keeps its create.
    @Test func mysqlPositionsOrderByFileEventAndRow() throws {
        guard case let .change(e) = Self.mysqlChange(1, file: "binlog.000012", pos: 4_567, row: 3, op: .update) else { return }
        #expect(Dedup.position(of: e) == Dedup.Position(lastCommit: 12, lsn: 4_567, row: 3))
        guard case let .change(bad) = Self.mysqlChange(1, file: "binlog", pos: 4, row: 0) else { return }
        #expect(Dedup.position(of: bad) == nil, "a file name without a number has no position")

        let h = try OperatorTestHarness(Dedup())
        let first: [DebeziumRecord<Row>] = [
            Self.mysqlChange(1, file: "binlog.000009", pos: 900, row: 0),
            Self.mysqlChange(2, file: "binlog.000009", pos: 900, row: 1),
            Self.mysqlChange(2, file: "binlog.000009", pos: 1_200, row: 0, op: .delete),   // key change: delete 2 ...
            Self.mysqlChange(3, file: "binlog.000009", pos: 1_200, row: 0),                // ... create 3, same place
            Self.mysqlChange(4, file: "binlog.000010", pos: 256, row: 0),                  // after a rotation: a lower offset
        ]
        try h.processBatch(Self.batch(first, split: 0))
        #expect(h.takeOutput().count == 5, "nothing of the first publication is dropped")
        let snapshot = try h.snapshot()
        // Restarted inside the transaction at 1,200: the tail again, then new rows.
        let again: [DebeziumRecord<Row>] = [
            Self.mysqlChange(2, file: "binlog.000009", pos: 1_200, row: 0, op: .delete),
            Self.mysqlChange(3, file: "binlog.000009", pos: 1_200, row: 0),
            Self.mysqlChange(4, file: "binlog.000010", pos: 256, row: 0),
            Self.mysqlChange(5, file: "binlog.000010", pos: 256, row: 1),
        ]
        let restored = try OperatorTestHarness.restore(from: [snapshot]) { Dedup() }
        try restored.processBatch(Self.batch(again, split: 0))
        #expect(Self.ids(restored) == [5])
        #expect(restored.operator.dropped == 3)
    }
}
