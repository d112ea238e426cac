public import StreamKit
public import StreamKitRedis

/// Turns a job's feature results into ``ServedFeatures`` stamped with when they became servable:
/// `servedAt = max(eventTime, watermark in force before the result)`. It runs chained right after
/// the operator producing the results (a window), so the watermark it reads is that operator's.
public struct ServingTimeOperator<Element: Sendable>: StreamOperator {
    public typealias Input = Element
    public typealias Output = ServedFeatures
    @usableFromInline let fields: @Sendable (Element) -> (entity: String, eventTime: EventTime, values: [FeatureValue?])

    @inlinable
    public init(_ fields: @escaping @Sendable (Element) -> (entity: String, eventTime: EventTime, values: [FeatureValue?])) {
        self.fields = fields
    }

    @inlinable
    public mutating func processBatch(_ input: inout Batch<Element>, into output: inout Batch<ServedFeatures>,
                                      side: inout Batch<Never>, context: OperatorContext) throws {
        for i in 0..<input.count {
            let (entity, eventTime, values) = fields(input.values[i])
            let wm = input.watermarks[i]
            output.append(ServedFeatures(entity: entity, eventTime: eventTime, servedAt: Swift.max(eventTime, wm), values: values),
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
    @inlinable
    public func servedFeatures(name: String = "served-features",
                               _ fields: @escaping @Sendable (Element) -> (entity: String, eventTime: EventTime, values: [FeatureValue?]))
    -> DataStream<ServedFeatures> {
        transform(name) { ServingTimeOperator(fields) }
    }
}
