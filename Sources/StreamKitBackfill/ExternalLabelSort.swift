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

    /// The sorted labels, numbered 0, 1, 2, … in order. Labels that fitted in the buffer (no run
    /// was spilled) stay in memory (``SortedLabels/inMemory``); otherwise the runs are merged into
    /// `directory/labels-sorted` and removed, and the file's offset of every `chunkSize`-th label
    /// is recorded (``SortedLabels/chunkOffsets``).
    public func finish(chunkSize: Int = SortedLabels.defaultChunkSize) throws -> SortedLabels {
        if runs.isEmpty { return SortedLabels(sorted: try sortedInMemory(), chunkSize: chunkSize) }
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
        try out.close()
        return SortedLabels(path: path, count: Int(position), runs: runs.count, chunkSize: chunkSize, chunkOffsets: offsets)
    }

    /// The buffer sorted and numbered 0, 1, 2, … (the buffer is handed over).
    func sortedInMemory() throws -> [LabelEvent] {
        let order = sortedOrder()
        let sorted = buffer.withUnsafeBufferPointer { b in
            [LabelEvent](unsafeUninitializedCapacity: order.count) { out, initialized in
                for (position, i) in order.enumerated() {
                    var l = b[i]
                    l.sequence = Int64(position)
                    (out.baseAddress! + position).initialize(to: l)
                }
                initialized = order.count
            }
        }
        buffer = []
        return sorted
    }

    /// Hands the buffer's labels to `body` in sorted order.
    func forEachSorted(_ body: (LabelEvent) throws -> Void) throws {
        let order = sortedOrder()
        try buffer.withUnsafeBufferPointer { b in
            for i in order { try body(b[i]) }
        }
    }

    /// A label's place in the sort: its time, and its index in the buffer, which is its input
    /// order (ties of time are broken by the entity, read from the buffer, then by the index).
    struct SortKey { var time: EventTime; var index: Int }

    /// The buffer's indexes in ``precedes`` order. Compact keys are sorted rather than the labels
    /// (which hold two strings each): at ``parallelism`` > 1 and a large buffer, in that many parts
    /// at once, then merged.
    func sortedOrder() -> [Int] {
        let n = buffer.count
        var keys = [SortKey](unsafeUninitializedCapacity: n) { k, initialized in
            buffer.withUnsafeBufferPointer { b in
                for i in 0..<n { (k.baseAddress! + i).initialize(to: SortKey(time: b[i].time, index: i)) }
            }
            initialized = n
        }
        let parts = n >= 1 << 14 ? Swift.max(1, parallelism) : 1
        return buffer.withUnsafeBufferPointer { labels in
            let base = LabelBase(pointer: labels.baseAddress!)
            guard parts > 1 else {
                keys.withUnsafeMutableBufferPointer { Self.sort($0, labels: base) }
                return keys.map(\.index)
            }
            let ranges = (0..<parts).map { (n * $0 / parts)..<(n * ($0 + 1) / parts) }
            return keys.withUnsafeMutableBufferPointer { k in
                let keyBase = KeyBase(pointer: k.baseAddress!)
                _ = try? ParallelWork.map(parts, threads: parts) { i in
                    Self.sort(UnsafeMutableBufferPointer(start: keyBase.pointer + ranges[i].lowerBound, count: ranges[i].count), labels: base)
                }
                var heads = ranges.map(\.lowerBound)
                return [Int](unsafeUninitializedCapacity: n) { out, initialized in
                    for position in 0..<n {
                        var best = -1
                        for p in 0..<parts where heads[p] < ranges[p].upperBound {
                            if best < 0 || Self.precedes(k[heads[p]], k[heads[best]], labels: base) { best = p }
                        }
                        out[position] = k[heads[best]].index
                        heads[best] += 1
                    }
                    initialized = n
                }
            }
        }
    }

    /// Sorts `keys` in place in ``precedes`` order of their labels.
    static func sort(_ keys: UnsafeMutableBufferPointer<SortKey>, labels: LabelBase) {
        var keys = keys
        keys.sort { precedes($0, $1, labels: labels) }
    }

    /// ``precedes`` on keys: the time from the key, and on a tie the labels themselves (their
    /// `sequence` grows with their index in the buffer).
    @inline(__always)
    static func precedes(_ a: SortKey, _ b: SortKey, labels: LabelBase) -> Bool {
        if a.time != b.time { return a.time < b.time }
        return precedes(labels.pointer[a.index], labels.pointer[b.index])
    }

    /// The sorting threads read the (unchanging) buffer and sort disjoint parts of the keys.
    struct LabelBase: @unchecked Sendable { let pointer: UnsafePointer<LabelEvent> }
    struct KeyBase: @unchecked Sendable { let pointer: UnsafeMutablePointer<SortKey> }

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
