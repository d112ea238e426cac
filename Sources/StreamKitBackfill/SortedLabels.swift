import StreamKit

/// Labels sorted by ``ExternalLabelSort``: each reader (every subtask of the join, and the final
/// merge) streams them in order.
///
/// Labels that fitted in the sort's buffer stay in memory, in that buffer (nothing to encode,
/// write and decode again per reader); labels that were spilled in runs are merged into a file
/// and every reader streams it, holding one label at a time.
public final class SortedLabels: Sendable {
    /// The file of the sorted labels; nil when they are held in memory (``inMemory``).
    public let path: String?
    /// The sorted labels when they fitted in the sort's buffer (empty when they are in ``path``).
    let memory: [LabelEvent]
    /// Number of labels.
    public let count: Int
    /// Sorted runs written to disk before the merge (0: the labels fit in one buffer).
    public let runs: Int
    /// Labels per chunk: the training set is put together in chunks of this many labels,
    /// several at once (``Backfill``'s final merge at parallelism > 1).
    public let chunkSize: Int
    /// Where each chunk's first label starts: its offset in the file (chunk `k` starts with label
    /// `k × chunkSize`), or its index for labels in memory; empty when the writer did not record them.
    public let chunkOffsets: [Int64]

    /// Labels in the file `path`.
    public init(path: String, count: Int, runs: Int, chunkSize: Int = SortedLabels.defaultChunkSize, chunkOffsets: [Int64] = []) {
        self.path = path; memory = []; self.count = count; self.runs = runs
        self.chunkSize = Swift.max(1, chunkSize); self.chunkOffsets = chunkOffsets
    }

    /// Labels held in memory, already sorted and numbered 0, 1, 2, … (``LabelEvent/sequence``).
    public init(sorted labels: [LabelEvent], chunkSize: Int = SortedLabels.defaultChunkSize) {
        path = nil; memory = labels; count = labels.count; runs = 0
        self.chunkSize = Swift.max(1, chunkSize)
        chunkOffsets = stride(from: 0, to: labels.count, by: self.chunkSize).map { Int64($0) }
    }

    /// Whether the labels are held in memory rather than in a file.
    public var inMemory: Bool { path == nil }

    /// Labels per chunk unless told otherwise.
    public static let defaultChunkSize = 8192

    /// Number of chunks (the last may be short).
    public var chunkCount: Int { (count + chunkSize - 1) / chunkSize }

    /// The labels of chunk `k`: `k × chunkSize ..< min(count, (k + 1) × chunkSize)`.
    public func chunk(_ k: Int) -> Range<Int> { (k * chunkSize)..<Swift.min(count, (k + 1) * chunkSize) }

    /// A reader from the first label.
    public func makeReader() throws -> Reader {
        guard let path else { return Reader(memory: memory, from: 0) }
        return Reader(try RecordFileReader(path: path))
    }

    /// A reader from the first label of chunk `k` (needs ``chunkOffsets``).
    public func makeReader(chunk k: Int) throws -> Reader {
        guard k < chunkOffsets.count else {
            throw StreamKitError(.state, "\(path ?? "sorted labels"): no offset for label chunk \(k) of \(chunkOffsets.count)")
        }
        guard let path else { return Reader(memory: memory, from: Int(chunkOffsets[k])) }
        return Reader(try RecordFileReader(path: path, offset: chunkOffsets[k]))
    }

    /// Streams the labels in order, with one label of look-ahead.
    public struct Reader {
        let file: RecordFileReader?
        let memory: [LabelEvent]
        var index: Int
        var head: LabelEvent?
        var loaded = false

        init(_ file: RecordFileReader) { self.file = file; memory = []; index = 0 }
        init(memory: [LabelEvent], from index: Int) { file = nil; self.memory = memory; self.index = index }

        /// The next label without consuming it.
        public mutating func peek() throws -> LabelEvent? {
            guard let file else { return index < memory.count ? memory[index] : nil }
            if !loaded {
                if var r = try file.next() { head = try LabelEvent(from: &r) } else { head = nil }
                loaded = true
            }
            return head
        }

        /// Consumes the label `peek` returned.
        public mutating func next() throws -> LabelEvent? {
            guard file != nil else {
                guard index < memory.count else { return nil }
                index += 1
                return memory[index - 1]
            }
            let l = try peek()
            loaded = false
            return l
        }
    }
}
