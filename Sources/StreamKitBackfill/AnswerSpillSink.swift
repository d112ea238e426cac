public import StreamKit
import StreamKitRedis

/// The join's answers of one subtask, written as they are produced to `directory/answers-<subtask>`
/// (in label order, which is the order a subtask answers in); the ``TrainingSetMerge`` reads the
/// files of all subtasks back together with the sorted labels. Only the label's number and the
/// served vector are written: the merge has the label itself.
///
/// Beside each file, an index (`answers-<subtask>.index`) holds, for every chunk of the labels
/// (``SortedLabels/chunk(_:)``), the offset of the subtask's first answer in that chunk, so that
/// the merge can put chunks together independently.
public struct AnswerSpillSink: StreamOperator {
    public typealias Input = TrainingRow
    public typealias Output = Never
    let directory: String
    let chunkSize: Int64
    let chunkCount: Int
    var file: RecordFileWriter?
    var record = ByteWriter(capacity: 128)
    var chunkOffsets: [Int64] = []
    var indexPath = ""

    /// `labels`: the labels the join answers (for their chunks).
    public init(directory: String, labels: SortedLabels) {
        self.directory = directory; chunkSize = Int64(labels.chunkSize); chunkCount = labels.chunkCount
    }

    /// The file of subtask `subtask`.
    public static func path(directory: String, subtask: Int) -> String { directory + "/answers-\(subtask)" }

    /// The chunk index of the answer file `path`.
    public static func indexPath(_ path: String) -> String { path + ".index" }

    public mutating func open(context: OperatorContext) throws {
        let path = Self.path(directory: directory, subtask: context.subtask)
        file = try RecordFileWriter(path: path)
        indexPath = Self.indexPath(path)
        chunkOffsets.reserveCapacity(chunkCount)
    }

    public mutating func processBatch(_ input: inout Batch<TrainingRow>, into output: inout Batch<Never>,
                                      side: inout Batch<Never>, context: OperatorContext) throws {
        for row in input.values {
            // Answers come in label order: the first one at or past a chunk's start opens it.
            while Int64(chunkOffsets.count) * chunkSize <= row.label.sequence && chunkOffsets.count < chunkCount {
                chunkOffsets.append(file!.offset)
            }
            record.removeAll()
            Self.encode(row, to: &record)
            try file!.append(record)
        }
    }

    public mutating func finish(into output: inout Batch<Never>, side: inout Batch<Never>, context: OperatorContext) throws {
        guard let file else { return }
        while chunkOffsets.count < chunkCount { chunkOffsets.append(file.offset) }
        try file.close()
        let index = try RecordFileWriter(path: indexPath)
        record.removeAll()
        for o in chunkOffsets { record.writeVarInt(o) }
        try index.append(record)
        try index.close()
    }

    /// The chunk offsets written beside the answer file `path`.
    static func readIndex(of path: String) throws -> [Int64] {
        let file = try RecordFileReader(path: indexPath(path))
        guard var r = try file.next() else { throw StreamKitError(.state, "\(indexPath(path)): empty answer index") }
        var offsets: [Int64] = []
        while !r.isAtEnd { offsets.append(try r.readVarInt()) }
        return offsets
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
