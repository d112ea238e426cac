import StreamKit

/// Labels sorted by ``ExternalLabelSort`` in a file: each reader (every subtask of the join, and
/// the final merge) streams them in order, holding one label at a time.
public final class SortedLabels: Sendable {
    public let path: String
    /// Number of labels.
    public let count: Int
    /// Sorted runs written to disk before the merge (0: the labels fit in one buffer).
    public let runs: Int

    public init(path: String, count: Int, runs: Int) { self.path = path; self.count = count; self.runs = runs }

    /// A reader from the first label.
    public func makeReader() throws -> Reader { Reader(try RecordFileReader(path: path)) }

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
