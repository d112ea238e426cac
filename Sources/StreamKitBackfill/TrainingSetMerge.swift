import StreamKit
package import StreamKitRedis

/// Puts the training set together after the join: streams the sorted labels and every
/// subtask's answers (``AnswerSpillSink`` files, each in label order) side by side and yields one
/// ``TrainingRow`` per label in label order — the answer of the subtask that had the entity's
/// rows, or missing when none had any. It holds one label and one answer per subtask.
///
/// A merge covers all the labels or one chunk of them (``SortedLabels/chunk(_:)``): chunks are
/// independent, so ``Backfill`` puts several together at once and hands them on in order.
public struct TrainingSetMerge {
    var labels: SortedLabels.Reader
    var answers: [RecordFileReader]
    var heads: [(sequence: Int64, features: [FeatureValue?]?, eventTime: EventTime?)?]
    /// Labels still to yield.
    var remaining: Int

    /// All labels, with the answers of `answerFiles` (``AnswerSpillSink`` files).
    public init(labels: SortedLabels, answerFiles: [String]) throws {
        try self.init(labels: try labels.makeReader(), count: labels.count, answers: answerFiles.map { ($0, 0) })
    }

    /// The labels of chunk `k`, with each answer file read from its offset for the chunk
    /// (its ``AnswerSpillSink`` index).
    public init(labels: SortedLabels, chunk k: Int, answers: [(path: String, offset: Int64)]) throws {
        try self.init(labels: try labels.makeReader(chunk: k), count: labels.chunk(k).count, answers: answers)
    }

    init(labels: SortedLabels.Reader, count: Int, answers files: [(path: String, offset: Int64)]) throws {
        self.labels = labels
        remaining = count
        answers = try files.map { try RecordFileReader(path: $0.path, offset: $0.offset) }
        heads = []
        for i in answers.indices { heads.append(try Self.read(answers[i])) }
    }

    static func read(_ file: RecordFileReader) throws -> (sequence: Int64, features: [FeatureValue?]?, eventTime: EventTime?)? {
        guard var r = try file.next() else { return nil }
        return try AnswerSpillSink.decode(&r)
    }

    /// The next row, nil after the last label.
    public mutating func next() throws -> TrainingRow? {
        guard remaining > 0 else { return nil }
        guard let label = try labels.next() else { throw StreamKitError(.state, "backfill: the sorted labels ended early") }
        remaining -= 1
        var row = TrainingRow(label: label, features: nil, featureEventTime: nil)
        var answered = false
        for i in heads.indices {
            guard let head = heads[i] else { continue }
            if head.sequence < label.sequence { throw StreamKitError(.state, "backfill: answers of label \(head.sequence) out of order") }
            guard head.sequence == label.sequence else { continue }
            if answered { throw StreamKitError(.state, "backfill: label \(label.sequence) answered twice (an entity's rows came from two subtasks)") }
            answered = true
            row.features = head.features; row.featureEventTime = head.eventTime
            heads[i] = try Self.read(answers[i])
        }
        return row
    }

    /// Where a whole training set goes: rows to a closure, or text to a writer (formatted by the
    /// threads that put the chunks together).
    package enum Destination {
        case rows((TrainingRow) throws -> Void)
        case writer(TrainingSetWriter)
        /// Every row in memory, in label order (each chunk's rows built in place).
        case collect(Collected)
    }

    /// The rows of a ``Destination/collect(_:)`` merge.
    package final class Collected {
        package var rows: [TrainingRow] = []
        package init() {}
    }

    /// Merges the labels with the answers into `destination`; returns the rows and those with
    /// missing features. At parallelism 1 it streams one merge. Above, it puts chunks of the
    /// labels together `2 × parallelism` at a time on `parallelism` threads (for a writer,
    /// also formatted there) and hands them on in order, so at most that many chunks are in memory.
    package static func merge(_ labels: SortedLabels, answerFiles: [String], parallelism: Int, view: FeatureView,
                              into destination: Destination) throws -> (rows: Int, missing: Int) {
        var count = 0, missing = 0
        let chunks = labels.chunkCount
        guard parallelism > 1, chunks > 1, labels.chunkOffsets.count == chunks else {
            var merge = try TrainingSetMerge(labels: labels, answerFiles: answerFiles)
            if case let .collect(collected) = destination { collected.rows.reserveCapacity(labels.count) }
            while let row = try merge.next() {
                count += 1
                if row.features == nil { missing += 1 }
                switch destination {
                case let .rows(body): try body(row)
                case let .writer(writer): try writer.write(row)
                case let .collect(collected): collected.rows.append(row)
                }
            }
            return (count, missing)
        }
        let indexes = try answerFiles.map { try AnswerSpillSink.readIndex(of: $0) }
        for index in indexes where index.count != chunks {
            throw StreamKitError(.state, "backfill: an answer index has \(index.count) chunks, the labels \(chunks)")
        }
        if case let .collect(collected) = destination {
            collected.rows = try collectChunks(labels, answerFiles: answerFiles, indexes: indexes, parallelism: parallelism)
            return (collected.rows.count, collected.rows.reduce(0) { $0 + ($1.features == nil ? 1 : 0) })
        }
        let wave = 2 * parallelism
        for first in stride(from: 0, to: chunks, by: wave) {
            let ks = Array(first..<Swift.min(chunks, first + wave))
            switch destination {
            case let .rows(body):
                let parts = try ParallelWork.map(ks.count, threads: parallelism) { i -> [TrainingRow] in
                    var merge = try TrainingSetMerge(labels: labels, chunk: ks[i], answers: zip(answerFiles, indexes).map { ($0, $1[ks[i]]) })
                    var rows: [TrainingRow] = []
                    rows.reserveCapacity(labels.chunk(ks[i]).count)
                    while let row = try merge.next() { rows.append(row) }
                    return rows
                }
                for rows in parts {
                    for row in rows {
                        count += 1
                        if row.features == nil { missing += 1 }
                        try body(row)
                    }
                }
            case let .writer(writer):
                let format = writer.format
                let parts = try ParallelWork.map(ks.count, threads: parallelism) { i -> (text: [UInt8], rows: Int, missing: Int) in
                    var merge = try TrainingSetMerge(labels: labels, chunk: ks[i], answers: zip(answerFiles, indexes).map { ($0, $1[ks[i]]) })
                    var text: [UInt8] = []
                    text.reserveCapacity(labels.chunk(ks[i]).count * 128)
                    var rows = 0, missing = 0
                    while let row = try merge.next() {
                        rows += 1
                        if row.features == nil { missing += 1 }
                        format.append(row, view: view, to: &text); text.append(0x0A)
                    }
                    return (text, rows, missing)
                }
                for part in parts {
                    try writer.write(formatted: part.text, rows: part.rows, missing: part.missing)
                    count += part.rows; missing += part.missing
                }
            case .collect:
                preconditionFailure("collected above")
            }
        }
        return (count, missing)
    }

    /// All chunks, `parallelism` at a time, each chunk's rows built in place in one array (no copies).
    static func collectChunks(_ labels: SortedLabels, answerFiles: [String], indexes: [[Int64]], parallelism: Int) throws -> [TrainingRow] {
        try [TrainingRow](unsafeUninitializedCapacity: labels.count) { buffer, initialized in
            let base = RowBase(pointer: buffer.baseAddress!)
            // Each chunk initializes its own range of the array; one that fails undoes its part.
            let outcomes = try ParallelWork.map(labels.chunkCount, threads: parallelism) { k -> (any Error)? in
                let range = labels.chunk(k)
                var made = 0
                do {
                    var merge = try TrainingSetMerge(labels: labels, chunk: k, answers: zip(answerFiles, indexes).map { ($0, $1[k]) })
                    while let row = try merge.next() {
                        (base.pointer + range.lowerBound + made).initialize(to: row)
                        made += 1
                    }
                    return nil
                } catch {
                    (base.pointer + range.lowerBound).deinitialize(count: made)
                    return error
                }
            }
            if let failure = outcomes.lazy.compactMap({ $0 }).first {
                for (k, outcome) in outcomes.enumerated() where outcome == nil {
                    (base.pointer + labels.chunk(k).lowerBound).deinitialize(count: labels.chunk(k).count)
                }
                initialized = 0
                throw failure
            }
            initialized = labels.count
        }
    }

    /// The chunks' threads initialize disjoint ranges of the array.
    struct RowBase: @unchecked Sendable { let pointer: UnsafeMutablePointer<TrainingRow> }
}
