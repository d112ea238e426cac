public import StreamKit

/// Appends a source's dead letters to a ``DeadLetterLog`` as they come (the backfill's history
/// and Kafka labels).
public struct DeadLetterLogSink: StreamOperator {
    public typealias Input = DeadLetter<String>
    public typealias Output = Never
    let log: DeadLetterLog

    public init(_ log: DeadLetterLog) { self.log = log }

    public mutating func processBatch(_ input: inout Batch<DeadLetter<String>>, into output: inout Batch<Never>,
                                      side: inout Batch<Never>, context: OperatorContext) throws {
        try log.append(contentsOf: input.values)
    }
}
