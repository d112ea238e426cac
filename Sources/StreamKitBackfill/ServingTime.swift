public import StreamKit
public import StreamKitRedis

/// Turns a job's feature results into ``ServedFeatures`` stamped with when they became servable:
/// `servedAt = max(eventTime, watermark in force before the result, servableFrom)`. It runs
/// chained right after the operator producing the results (a window, a process function), so the
/// watermark it reads is that operator's. `servableFrom` (default: none) is for a result whose
/// event time is earlier than the event time that decided it: a session closed by an event-time
/// timer at `last + gap` keeps the event time `last` but is known only from `last + gap` on.
public struct ServingTimeOperator<Element: Sendable>: StreamOperator {
    public typealias Input = Element
    public typealias Output = ServedFeatures
    @usableFromInline let fields: @Sendable (Element) -> (entity: String, eventTime: EventTime, values: [FeatureValue?])
    @usableFromInline let servableFrom: (@Sendable (Element) -> EventTime)?

    @inlinable
    public init(servableFrom: (@Sendable (Element) -> EventTime)? = nil,
                _ fields: @escaping @Sendable (Element) -> (entity: String, eventTime: EventTime, values: [FeatureValue?])) {
        self.fields = fields; self.servableFrom = servableFrom
    }

    @inlinable
    public mutating func processBatch(_ input: inout Batch<Element>, into output: inout Batch<ServedFeatures>,
                                      side: inout Batch<Never>, context: OperatorContext) throws {
        for i in 0..<input.count {
            let (entity, eventTime, values) = fields(input.values[i])
            let wm = input.watermarks[i]
            var servedAt = Swift.max(eventTime, wm)
            if let servableFrom { servedAt = Swift.max(servedAt, servableFrom(input.values[i])) }
            output.append(ServedFeatures(entity: entity, eventTime: eventTime, servedAt: servedAt, values: values),
                          timestamp: input.timestamps[i], watermark: wm)
        }
    }
}

extension DataStream {
    /// The rows a feature job writes to the store, stamped with when they became servable (see
    /// ``ServedFeatures``). Use it right after the window (or other operator) that computes them;
    /// the online job writes its result to Redis and inference requests, the backfill joins it
    /// with labels.
    ///
    /// ```swift
    /// windows.servedFeatures { r in (String(r.key), r.windowEnd - 1, [.int(r.count), .double(r.sum)]) }
    /// ```
    ///
    /// `servableFrom` gives, for results decided later in event time than their event time (a
    /// session closed by a timer at `last + gap`, written with the event time `last`), the event
    /// time from which they are known; nil (the default): from their event time.
    @inlinable
    public func servedFeatures(name: String = "served-features", servableFrom: (@Sendable (Element) -> EventTime)? = nil,
                               _ fields: @escaping @Sendable (Element) -> (entity: String, eventTime: EventTime, values: [FeatureValue?]))
    -> DataStream<ServedFeatures> {
        transform(name) { ServingTimeOperator(servableFrom: servableFrom, fields) }
    }
}
