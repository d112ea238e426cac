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
    /// Parts of the buffer sorted at once (then merged as they are written).
    public var parallelism = 1

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
        let path = directory + "/labels-run-\(runs.count)"
        let writer = try RecordFileWriter(path: path)
        var record = ByteWriter(capacity: 128)
        try forEachSorted { l in record.removeAll(); l.encode(to: &record); try writer.append(record) }
        try writer.close()
        runs.append(path)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes the sorted labels to `directory/labels-sorted` and removes the runs; the file's
    /// offset of every `chunkSize`-th label is recorded (``SortedLabels/chunkOffsets``).
    public func finish(chunkSize: Int = SortedLabels.defaultChunkSize) throws -> SortedLabels {
        let path = directory + "/labels-sorted"
        let out = try RecordFileWriter(path: path)
        let chunkSize = Swift.max(1, chunkSize)
        var record = ByteWriter(capacity: 128)
        var position: Int64 = 0
        var offsets: [Int64] = []
        func emit(_ label: LabelEvent) throws {
            var l = label
            l.sequence = position
            if position % Int64(chunkSize) == 0 { offsets.append(out.offset) }
            position += 1
            record.removeAll(); l.encode(to: &record); try out.append(record)
        }
        if runs.isEmpty {
            try forEachSorted(emit)
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
        return SortedLabels(path: path, count: Int(position), runs: runs.count, chunkSize: chunkSize, chunkOffsets: offsets)
    }

    /// Sorts the buffer — in ``parallelism`` parts at once when it is large — and hands its
    /// labels to `body` in order (merging the parts).
    func forEachSorted(_ body: (LabelEvent) throws -> Void) throws {
        let n = buffer.count
        let parts = n >= 1 << 14 ? Swift.max(1, parallelism) : 1
        guard parts > 1 else {
            buffer.withUnsafeMutableBufferPointer { Self.sort($0) }
            for l in buffer { try body(l) }
            return
        }
        let ranges = (0..<parts).map { (n * $0 / parts)..<(n * ($0 + 1) / parts) }
        try buffer.withUnsafeMutableBufferPointer { b in
            let base = PartBase(pointer: b.baseAddress!)
            _ = try ParallelWork.map(parts, threads: parts) { i in
                Self.sort(UnsafeMutableBufferPointer(start: base.pointer + ranges[i].lowerBound, count: ranges[i].count))
            }
            var heads = ranges.map(\.lowerBound)
            while true {
                var best = -1
                for p in 0..<parts where heads[p] < ranges[p].upperBound {
                    if best < 0 || Self.precedes(b[heads[p]], b[heads[best]]) { best = p }
                }
                if best < 0 { break }
                try body(b[heads[best]])
                heads[best] += 1
            }
        }
    }

    /// Sorts `labels` in place in ``precedes`` order.
    static func sort(_ labels: UnsafeMutableBufferPointer<LabelEvent>) {
        var labels = labels
        labels.sort(by: precedes)
    }

    /// The sorting threads touch disjoint parts of the buffer.
    struct PartBase: @unchecked Sendable { let pointer: UnsafeMutablePointer<LabelEvent> }

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
