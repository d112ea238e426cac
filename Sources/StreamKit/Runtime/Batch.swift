/// A batch of records moving between operators: the unit of work of the runtime.
///
/// Records travel in batches so that every hop (an operator call, a channel push) is paid once per
/// batch, not once per record. Event time travels with the records:
/// - `timestamps[i]` is the event time of record `i` (`Watermark.none` before timestamps are assigned);
/// - `watermarks[i]` is the watermark in force *before* record `i` is processed; a watermark strategy
///   advances it after every record, so results do not depend on how records are batched;
/// - `endWatermark` is the watermark after the last record.
/// Splitting a batch by key (a keyed exchange) keeps each record's own watermark, so every downstream
/// subtask sees exactly the watermark sequence it would see record by record.
public struct Batch<Element>: Sendable where Element: Sendable {
    public var values: [Element]
    public var timestamps: [EventTime]
    public var watermarks: [EventTime]
    /// Watermark after the last record (also carried by empty batches).
    public var endWatermark: EventTime
    /// True when the producer of this batch is idle: its watermark must not hold back downstream.
    public var idle: Bool
    /// The source split (e.g. Kafka partition) the records came from, or -1 when mixed/unknown.
    public var split: Int32
    /// Monotonic nanoseconds when the oldest input that produced this batch entered the job.
    public var ingestNanos: UInt64

    @inlinable
    public init(capacity: Int = 0) {
        values = []; timestamps = []; watermarks = []
        if capacity > 0 {
            values.reserveCapacity(capacity); timestamps.reserveCapacity(capacity); watermarks.reserveCapacity(capacity)
        }
        endWatermark = Watermark.none; idle = false; split = -1; ingestNanos = 0
    }

    @inlinable public var count: Int { values.count }
    @inlinable public var isEmpty: Bool { values.isEmpty }

    @inlinable
    public mutating func append(_ value: Element, timestamp: EventTime, watermark: EventTime) {
        values.append(value); timestamps.append(timestamp); watermarks.append(watermark)
    }

    /// Empties the batch but keeps its storage, so a stage reuses one buffer for its whole life.
    @inlinable
    public mutating func removeAll() {
        values.removeAll(keepingCapacity: true)
        timestamps.removeAll(keepingCapacity: true)
        watermarks.removeAll(keepingCapacity: true)
        idle = false
    }

    /// Takes the batch's metadata (end watermark, split, ingest time) from another batch.
    @inlinable
    public mutating func inheritMetadata<T>(from other: Batch<T>) {
        endWatermark = other.endWatermark; idle = other.idle; split = other.split; ingestNanos = other.ingestNanos
    }
}
