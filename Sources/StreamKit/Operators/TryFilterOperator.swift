/// A `filter` whose predicate may throw: a record it throws on goes to the dead-letter side output
/// (code ``StreamKitError/Code/userFunction``, the error's text as the reason) and the job keeps
/// running — the filter counterpart of ``TryMapOperator``.
public struct TryFilterOperator<Element: Sendable>: StreamOperator {
    public typealias SideOutput = DeadLetter<Element>
    @usableFromInline let predicate: @Sendable (Element) throws -> Bool
    @inlinable public init(_ predicate: @escaping @Sendable (Element) throws -> Bool) { self.predicate = predicate }
    @inlinable
    public mutating func processBatch(_ input: inout Batch<Element>, into output: inout Batch<Element>,
                                      side: inout Batch<DeadLetter<Element>>, context: OperatorContext) throws {
        for i in 0..<input.count {
            do {
                if try predicate(input.values[i]) {
                    output.append(input.values[i], timestamp: input.timestamps[i], watermark: input.watermarks[i])
                }
            } catch {
                context.metrics.droppedRecords.add(1)
                side.append(DeadLetter(record: input.values[i], reason: "\(error)", code: .userFunction),
                            timestamp: input.timestamps[i], watermark: input.watermarks[i])
            }
        }
    }
}

extension DataStream {
    /// A filter whose failures go to the dead-letter side output (``sideOutput(_:)`` of
    /// `DeadLetter<Element>`), as `tryMap` does for maps:
    ///
    /// ```swift
    /// let checked = events.tryFilter { try rules.allows($0) }     // throws on a poison record
    /// checked.sideOutput(DeadLetter<Event>.self).writeDeadLetters(toKafka: kafka, topic: "dlq") { render($0) }
    /// ```
    @inlinable public func tryFilter(_ name: String = "tryFilter", _ predicate: @escaping @Sendable (Element) throws -> Bool) -> DataStream<Element> {
        transform(name) { TryFilterOperator(predicate) }
    }
}
