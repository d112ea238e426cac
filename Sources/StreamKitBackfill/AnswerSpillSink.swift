public import StreamKit
import StreamKitRedis

/// The join's answers of one subtask, written as they are produced to `directory/answers-<subtask>`
/// (in label order, which is the order a subtask answers in); the ``TrainingSetMerge`` reads the
/// files of all subtasks back together with the sorted labels. Only the label's number and the
/// served vector are written: the merge has the label itself.
public struct AnswerSpillSink: StreamOperator {
    public typealias Input = TrainingRow
    public typealias Output = Never
    let directory: String
    var file: RecordFileWriter?
    var record = ByteWriter(capacity: 128)

    public init(directory: String) { self.directory = directory }

    /// The file of subtask `subtask`.
    public static func path(directory: String, subtask: Int) -> String { directory + "/answers-\(subtask)" }

    public mutating func open(context: OperatorContext) throws {
        file = try RecordFileWriter(path: Self.path(directory: directory, subtask: context.subtask))
    }

    public mutating func processBatch(_ input: inout Batch<TrainingRow>, into output: inout Batch<Never>,
                                      side: inout Batch<Never>, context: OperatorContext) throws {
        for row in input.values {
            record.removeAll()
            Self.encode(row, to: &record)
            try file!.append(record)
        }
    }

    public mutating func finish(into output: inout Batch<Never>, side: inout Batch<Never>, context: OperatorContext) throws {
        try file?.close()
    }

    /// `sequence, featureEventTime?, values?` (values as ``ServedFeatures`` encodes them).
    static func encode(_ row: TrainingRow, to w: inout ByteWriter) {
        w.writeVarInt(row.label.sequence)
        if let t = row.featureEventTime, let values = row.features {
            w.writeUInt8(1)
            ServedFeatures(entity: "", eventTime: t, servedAt: t, values: values).encode(to: &w)
        } else {
            w.writeUInt8(0)
        }
    }

    /// The label number and the served vector of a record.
    static func decode(_ r: inout ByteReader) throws -> (sequence: Int64, features: [FeatureValue?]?, eventTime: EventTime?) {
        let sequence = try r.readVarInt()
        guard try r.readUInt8() == 1 else { return (sequence, nil, nil) }
        let served = try ServedFeatures(from: &r)
        return (sequence, served.values, served.eventTime)
    }
}
