import StreamKit
import HeapModule
import Glibc

/// Sorts labels in bounded memory: it buffers at most `runSize` labels, writes each full buffer
/// sorted to a temporary run file, and merges the runs (one small read buffer each) into one
/// sorted file at the end. Already sorted input costs one pass per run and the merge.
///
/// Order: label time, then entity, then input order (the order of ``add(_:)``). The sorted file
/// numbers the labels 0, 1, 2, … in that order (``LabelEvent/sequence``), which identifies a
/// label in the join and orders the training set.
public final class ExternalLabelSort: @unchecked Sendable {
    // @unchecked: used by one thread at a time (the label reader, then the caller of `finish`).
    /// Labels buffered before a run is written.
    public let runSize: Int
    let directory: String
    var buffer: [LabelEvent] = []
    var runs: [String] = []
    var added: Int64 = 0
    /// The most labels held in memory at once (≤ ``runSize``).
    public private(set) var peakBuffered = 0

    /// Run files go to `directory` (which must exist; the caller removes it).
    public init(directory: String, runSize: Int = 1 << 18) {
        self.directory = directory; self.runSize = Swift.max(1, runSize)
    }

    /// Adds a label (its `sequence` is replaced by its input position).
    public func add(_ label: LabelEvent) throws {
        var label = label
        label.sequence = added
        added += 1
        buffer.append(label)
        peakBuffered = Swift.max(peakBuffered, buffer.count)
        if buffer.count >= runSize { try spill() }
    }

    func spill() throws {
        buffer.sort(by: Self.precedes)
        let path = directory + "/labels-run-\(runs.count)"
        let writer = try RecordFileWriter(path: path)
        var record = ByteWriter(capacity: 128)
        for l in buffer { record.removeAll(); l.encode(to: &record); try writer.append(record) }
        try writer.close()
        runs.append(path)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes the sorted labels to `directory/labels-sorted` and removes the runs.
    public func finish() throws -> SortedLabels {
        let path = directory + "/labels-sorted"
        let out = try RecordFileWriter(path: path)
        var record = ByteWriter(capacity: 128)
        var position: Int64 = 0
        func emit(_ label: LabelEvent) throws {
            var l = label
            l.sequence = position
            position += 1
            record.removeAll(); l.encode(to: &record); try out.append(record)
        }
        if runs.isEmpty {
            buffer.sort(by: Self.precedes)
            for l in buffer { try emit(l) }
        } else {
            if !buffer.isEmpty { try spill() }
            buffer = []
            let readers = try runs.map { try RecordFileReader(path: $0) }
            var heap = Heap<Head>()
            for (i, r) in readers.enumerated() {
                if var rec = try r.next() { heap.insert(Head(label: try LabelEvent(from: &rec), run: i)) }
            }
            while let head = heap.popMin() {
                try emit(head.label)
                if var rec = try readers[head.run].next() { heap.insert(Head(label: try LabelEvent(from: &rec), run: head.run)) }
            }
            for r in runs { unlink(r) }
        }
        try out.close()
        return SortedLabels(path: path, count: Int(position), runs: runs.count)
    }

    /// Time, entity, input order.
    @inlinable
    public static func precedes(_ a: LabelEvent, _ b: LabelEvent) -> Bool {
        if a.time != b.time { return a.time < b.time }
        if a.entity != b.entity { return a.entity < b.entity }
        return a.sequence < b.sequence
    }

    struct Head: Comparable {
        var label: LabelEvent
        var run: Int
        static func < (a: Head, b: Head) -> Bool { ExternalLabelSort.precedes(a.label, b.label) }
        static func == (a: Head, b: Head) -> Bool { a.label == b.label && a.run == b.run }
    }
}
