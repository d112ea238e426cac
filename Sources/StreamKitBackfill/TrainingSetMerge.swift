import StreamKit
import StreamKitRedis

/// Puts the training set together after the join: streams the sorted labels and every
/// subtask's answers (``AnswerSpillSink`` files, each in label order) side by side and yields one
/// ``TrainingRow`` per label in label order — the answer of the subtask that had the entity's
/// rows, or missing when none had any. It holds one label and one answer per subtask.
public struct TrainingSetMerge {
    var labels: SortedLabels.Reader
    var answers: [RecordFileReader]
    var heads: [(sequence: Int64, features: [FeatureValue?]?, eventTime: EventTime?)?]

    public init(labels: SortedLabels, answerFiles: [String]) throws {
        self.labels = try labels.makeReader()
        answers = try answerFiles.map { try RecordFileReader(path: $0) }
        heads = []
        for i in answers.indices { heads.append(try Self.read(answers[i])) }
    }

    static func read(_ file: RecordFileReader) throws -> (sequence: Int64, features: [FeatureValue?]?, eventTime: EventTime?)? {
        guard var r = try file.next() else { return nil }
        return try AnswerSpillSink.decode(&r)
    }

    /// The next row, nil after the last label.
    public mutating func next() throws -> TrainingRow? {
        guard let label = try labels.next() else { return nil }
        var row = TrainingRow(label: label, features: nil, featureEventTime: nil)
        var answered = false
        for i in heads.indices {
            guard let head = heads[i] else { continue }
            if head.sequence < label.sequence { throw StreamKitError(.state, "backfill: answers of label \(head.sequence) out of order") }
            guard head.sequence == label.sequence else { continue }
            if answered { throw StreamKitError(.state, "backfill: label \(label.sequence) answered twice (an entity's rows came from two subtasks)") }
            answered = true
            row.features = head.features; row.featureEventTime = head.eventTime
            heads[i] = try Self.read(answers[i])
        }
        return row
    }
}
