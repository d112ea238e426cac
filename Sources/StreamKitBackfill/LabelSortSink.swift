public import StreamKit

/// Feeds labels read by a job (a Kafka topic) into an ``ExternalLabelSort`` (one subtask).
public struct LabelSortSink: StreamOperator {
    public typealias Input = LabelEvent
    public typealias Output = Never
    let sorter: ExternalLabelSort

    public init(_ sorter: ExternalLabelSort) { self.sorter = sorter }

    public mutating func processBatch(_ input: inout Batch<LabelEvent>, into output: inout Batch<Never>,
                                      side: inout Batch<Never>, context: OperatorContext) throws {
        for l in input.values { try sorter.add(l) }
    }
}
