public import StreamKit

/// One label of a training set: an entity, the time the label refers to (the moment a model
/// would have been asked, in event time, ms) and the label itself (any JSON value, kept as its
/// JSON text so it is written back unchanged).
public struct LabelEvent: Sendable, Hashable {
    public var entity: String
    public var time: EventTime
    /// The label as JSON text (`1`, `"fraud"`, `{"a":1}`, `null`).
    public var label: String
    /// Position in the labels input: ties of equal time keep input order in the output.
    public var sequence: Int64

    public init(entity: String, time: EventTime, label: String, sequence: Int64 = 0) {
        self.entity = entity; self.time = time; self.label = label; self.sequence = sequence
    }
}

extension LabelEvent: StateCodable {
    public func encode(to writer: inout ByteWriter) {
        entity.encode(to: &writer); writer.writeVarInt(time); label.encode(to: &writer); writer.writeVarInt(sequence)
    }
    public init(from reader: inout ByteReader) throws {
        entity = try String(from: &reader); time = try reader.readVarInt()
        label = try String(from: &reader); sequence = try reader.readVarInt()
    }
}
