import StreamKit

/// Labels sorted by ``ExternalLabelSort`` in a file: each reader (every subtask of the join, and
/// the final merge) streams them in order, holding one label at a time.
public final class SortedLabels: Sendable {
    public let path: String
    /// Number of labels.
    public let count: Int
    /// Sorted runs written to disk before the merge (0: the labels fit in one buffer).
    public let runs: Int
    /// Labels per chunk: the training set is put together in chunks of this many labels,
    /// several at once (``Backfill``'s final merge at parallelism > 1).
    public let chunkSize: Int
    /// Where each chunk's first label starts in the file (chunk `k` starts with label
    /// `k × chunkSize`); empty when the writer did not record them.
    public let chunkOffsets: [Int64]

    public init(path: String, count: Int, runs: Int, chunkSize: Int = SortedLabels.defaultChunkSize, chunkOffsets: [Int64] = []) {
        self.path = path; self.count = count; self.runs = runs
        self.chunkSize = Swift.max(1, chunkSize); self.chunkOffsets = chunkOffsets
    }

    /// Labels per chunk unless told otherwise.
    public static let defaultChunkSize = 8192

    /// Number of chunks (the last may be short).
    public var chunkCount: Int { (count + chunkSize - 1) / chunkSize }

    /// The labels of chunk `k`: `k × chunkSize ..< min(count, (k + 1) × chunkSize)`.
    public func chunk(_ k: Int) -> Range<Int> { (k * chunkSize)..<Swift.min(count, (k + 1) * chunkSize) }

    /// A reader from the first label.
    public func makeReader() throws -> Reader { Reader(try RecordFileReader(path: path)) }

    /// A reader from the first label of chunk `k` (needs ``chunkOffsets``).
    public func makeReader(chunk k: Int) throws -> Reader {
        guard k < chunkOffsets.count else {
            throw StreamKitError(.state, "\(path): no offset for label chunk \(k) of \(chunkOffsets.count)")
        }
        return Reader(try RecordFileReader(path: path, offset: chunkOffsets[k]))
    }

    /// Streams the labels in order, with one label of look-ahead.
    public struct Reader {
        let file: RecordFileReader
        var head: LabelEvent?
        var loaded = false

        init(_ file: RecordFileReader) { self.file = file }

        /// The next label without consuming it.
        public mutating func peek() throws -> LabelEvent? {
            if !loaded {
                if var r = try file.next() { head = try LabelEvent(from: &r) } else { head = nil }
                loaded = true
            }
            return head
        }

        /// Consumes the label `peek` returned.
        public mutating func next() throws -> LabelEvent? {
            let l = try peek()
            loaded = false
            return l
        }
    }
}
