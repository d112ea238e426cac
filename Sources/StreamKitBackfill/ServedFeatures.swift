public import StreamKit
public import StreamKitRedis

/// One row a feature job writes to the feature store, with the two times that decide when a
/// model could have been served it.
///
/// - ``eventTime``: the feature's event time, the `__event_time` the Redis sink writes (for a
///   window, its end − 1). The store keeps, per entity, the row with the newest event time.
/// - ``servedAt``: the earliest event time at which the online job could have served the row:
///   `max(eventTime, watermark)`, where `watermark` is the job's watermark in force when the row
///   was produced. A window that fires on time has `servedAt == eventTime`; a window updated by a
///   late event (allowed lateness) is re-emitted with the same event time but `servedAt` = the
///   watermark the late event arrived at, because before that moment nobody could have seen it.
///   A result decided by an event-time timer after its event time (a session closed at
///   `last + gap`, written with the event time `last`) is servable from the timer's time on:
///   `servedAt = max(eventTime, watermark, last + gap)` (``DataStream/servedFeatures(name:servableFrom:_:)``).
///
/// The online job stamps rows with ``DataStream/servedFeatures(name:servableFrom:_:)`` and records `served_at`
/// in its inference requests; the backfill reads the same stamp (see ``PointInTimeJoin``).
public struct ServedFeatures: Sendable, Equatable {
    /// The entity id (the feature store key part).
    public var entity: String
    /// Event time of the features (ms since the epoch).
    public var eventTime: EventTime
    /// When the row became servable, in event time (ms); ≥ ``eventTime``.
    public var servedAt: EventTime
    /// The feature values in the view's order (nil: not written).
    public var values: [FeatureValue?]

    public init(entity: String, eventTime: EventTime, servedAt: EventTime, values: [FeatureValue?]) {
        self.entity = entity; self.eventTime = eventTime; self.servedAt = servedAt; self.values = values
    }
}

extension ServedFeatures: StateCodable {
    public func encode(to writer: inout ByteWriter) {
        entity.encode(to: &writer)
        writer.writeVarInt(eventTime)
        writer.writeVarInt(servedAt)
        writer.writeVarUInt(UInt64(values.count))
        for v in values {
            switch v {
            case nil: writer.writeUInt8(0)
            case let .int(i)?: writer.writeUInt8(1); writer.writeVarInt(i)
            case let .double(d)?: writer.writeUInt8(2); d.encode(to: &writer)
            case let .string(s)?: writer.writeUInt8(3); s.encode(to: &writer)
            }
        }
    }

    public init(from reader: inout ByteReader) throws {
        entity = try String(from: &reader)
        eventTime = try reader.readVarInt()
        servedAt = try reader.readVarInt()
        let n = Int(try reader.readVarUInt())
        var values: [FeatureValue?] = []
        values.reserveCapacity(n)
        for _ in 0..<n {
            switch try reader.readUInt8() {
            case 0: values.append(nil)
            case 1: values.append(.int(try reader.readVarInt()))
            case 2: values.append(.double(try Double(from: &reader)))
            case 3: values.append(.string(try String(from: &reader)))
            case let tag: throw StreamKitError(.state, "invalid feature value tag \(tag)")
            }
        }
        self.values = values
    }
}
