public import StreamKit
public import StreamKitJSON

/// Decodes label lines `{"entity": "42" | 42, "label_time": 1700000059999, "label": <any JSON>}`
/// (NDJSON file or Kafka message values). `entity` and an integer `label_time` (ms) are required;
/// a missing `label` is `null`. A line without them throws (the source dead-letters it).
public struct LabelDecoder: LineDecoder {
    @usableFromInline let extractor = JSONFieldExtractor(["entity", "label_time", "label"])
    @usableFromInline var scratch: [JSONScalar] = Array(repeating: .missing, count: 3)
    @usableFromInline var sequence: Int64 = 0
    @usableFromInline var shapes = JSONShapeCache()

    public init() {}

    public mutating func decode(_ line: UnsafeRawBufferPointer) throws -> LabelEvent {
        try extractor.extract(line, into: &scratch, shapes: &shapes)
        let entity: String
        switch scratch[0].kind {
        case .string: entity = scratch[0].string(in: line) ?? ""
        case .number: entity = String(decoding: scratch[0].rawBytes(in: line), as: UTF8.self)
        default: throw StreamKitError(.malformedInput, "label: 'entity' (a string or number) is required")
        }
        guard scratch[1].kind == .number, let time = scratch[1].int64(in: line) else {
            throw StreamKitError(.malformedInput, "label: 'label_time' (integer ms since the epoch) is required")
        }
        let label: String
        switch scratch[2].kind {
        case .missing: label = "null"
        case .string: label = "\"" + String(decoding: scratch[2].rawBytes(in: line), as: UTF8.self) + "\""
        default: label = String(decoding: scratch[2].rawBytes(in: line), as: UTF8.self)
        }
        sequence += 1
        return LabelEvent(entity: entity, time: time, label: label, sequence: sequence)
    }
}
