public import StreamKit
public import HeapModule

/// The inputs of one ``OnlineLearner`` key that the watermark has not passed yet, plus the
/// horizons still open, in ``QueuedLearningInput`` order (a min-heap: O(log n) per input).
///
/// Keyed state: checkpointed with the source offsets, so a restore resumes with exactly the
/// inputs that were waiting.
public struct LearningInputQueue: Sendable, StateCodable {
    @usableFromInline var heap = Heap<QueuedLearningInput>()

    @inlinable public init() {}

    /// Number of waiting inputs.
    @inlinable public var count: Int { heap.count }
    @inlinable public var isEmpty: Bool { heap.isEmpty }
    /// Event time of the first input in order.
    @inlinable public var earliestTime: EventTime? { heap.min?.time }

    @inlinable public mutating func insert(_ input: QueuedLearningInput) { heap.insert(input) }

    /// Removes and returns the first input in order if its time is before `limit`.
    @inlinable public mutating func popFirst(before limit: EventTime) -> QueuedLearningInput? {
        guard let first = heap.min, first.time < limit else { return nil }
        return heap.removeMin()
    }

    /// Entry count, then each input (heap order is rebuilt on restore; the order of application
    /// does not depend on it).
    public func encode(to w: inout ByteWriter) {
        w.writeVarUInt(UInt64(heap.count))
        for e in heap.unordered { e.encode(to: &w) }
    }

    public init(from r: inout ByteReader) throws {
        let n = try r.readCount()
        var items: [QueuedLearningInput] = []
        items.reserveCapacity(min(n, 1 << 16))
        for _ in 0..<n { items.append(try QueuedLearningInput(from: &r)) }
        heap = Heap(items)
    }
}
