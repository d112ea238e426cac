public import StreamKit
public import StreamKitJSON

/// One decoded Debezium message value.
public enum DebeziumRecord<Row: Decodable> {
    /// A change event.
    case change(DebeziumEnvelope<Row>)
    /// A tombstone: the message value was null/empty (Kafka log-compaction marker after a delete).
    case tombstone

    /// The envelope, or `nil` for a tombstone.
    public var envelope: DebeziumEnvelope<Row>? {
        if case .change(let envelope) = self { return envelope }
        return nil
    }

    /// Whether this is a tombstone.
    public var isTombstone: Bool {
        if case .tombstone = self { return true }
        return false
    }
}

extension DebeziumRecord: Sendable where Row: Sendable {}
extension DebeziumRecord: Equatable where Row: Equatable {}

/// Decodes Debezium JSON message values into typed envelopes.
///
/// Accepts both value shapes Kafka Connect's JSON converter produces: the bare envelope
/// (`schemas.enable=false`) and `{"schema": {...}, "payload": {...}}`. An empty value, a value
/// consisting of whitespace, JSON `null`, or a wrapper whose `payload` is `null` is a tombstone.
/// Reuse one decoder per stream; it is not thread-safe.
///
/// **Unavailable values.** PostgreSQL cannot always provide unchanged TOASTed column values;
/// Debezium then writes the string `__debezium_unavailable_value`. Such columns are listed in
/// `DebeziumEnvelope.unavailableColumns` (per image) so a consumer never overwrites a real value
/// with the placeholder. When decoding `Row`:
/// - an *optional* property of any type (including `String?`) holding the placeholder decodes as
///   `nil`;
/// - a non-optional `String` property receives the placeholder text itself;
/// - any other non-optional property fails with a `malformedInput` error naming the column —
///   declare columns that can be TOASTed (large text/json/bytea) as optionals.
///
/// Errors are thrown as `StreamKitError` whose message starts with `invalid Debezium message:` and
/// names the failing path, with a dead-letter code: `malformed_json` (not JSON), `unknown_op`,
/// `wrong_type` (a column of the wrong JSON type), `missing_field` (a missing or null required
/// column), `malformed_input` (anything else, e.g. a missing `source`); route them to a dead-letter
/// output.
public final class DebeziumDecoder<Row: Decodable> {
    /// The underlying JSON decoder (configured to treat the placeholder as absent).
    public let jsonDecoder: FastJSONDecoder

    /// Creates a decoder. `keyDecodingStrategy` applies to the `Row` type's keys (envelope and
    /// source keys are matched either way).
    public init(keyDecodingStrategy: FastJSONDecoder.KeyDecodingStrategy = .useDefaultKeys) {
        jsonDecoder = FastJSONDecoder(keyDecodingStrategy: keyDecodingStrategy)
        jsonDecoder.treatsDebeziumUnavailableValueAsAbsent = true
    }

    /// Decodes one message value.
    public func decode(_ value: UnsafeRawBufferPointer) throws(StreamKitError) -> DebeziumRecord<Row> {
        if _jsonIsBlank(value) { return .tombstone }
        let json = jsonDecoder
        do {
            try json.load(value)
        } catch {
            throw StreamKitError(.malformedJSON, "invalid Debezium message: \(error.message)")
        }
        defer { json.unload() }
        guard let envelope = try _locateDebeziumEnvelope(json.state) else { return .tombstone }
        do {
            return .change(try json.decodeLoaded(DebeziumEnvelope<Row>.self, at: envelope))
        } catch {
            throw StreamKitError(Self.deadLetterCode(error.message), "invalid Debezium message: \(error.message)")
        }
    }

    /// The dead-letter class of a decoding failure (see `FastJSONDecoder`'s messages): a wrong
    /// JSON type, a missing field or null value, an unknown `op`, or plain malformed input.
    static func deadLetterCode(_ message: String) -> StreamKitError.Code {
        if message.contains("unknown Debezium operation") { return .unknownOperation }
        if message.hasPrefix("type mismatch") { return .wrongType }
        if message.hasPrefix("missing key") || message.hasPrefix("missing value") { return .missingField }
        return .malformedInput
    }

    /// Decodes one message value held in a byte array.
    public func decode(_ value: [UInt8]) throws(StreamKitError) -> DebeziumRecord<Row> {
        try value.withUnsafeBufferPointer { (b) throws(StreamKitError) in try decode(UnsafeRawBufferPointer(b)) }
    }

    /// Decodes an optional message value; `nil` (a Kafka null value) is a tombstone.
    public func decode(_ value: [UInt8]?) throws(StreamKitError) -> DebeziumRecord<Row> {
        guard let value else { return .tombstone }
        return try decode(value)
    }
}

/// Whether a value is empty or whitespace only.
func _jsonIsBlank(_ value: UnsafeRawBufferPointer) -> Bool {
    for byte in value where !(byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09) { return false }
    return true
}

/// Finds the envelope object on a loaded tape: the root, or the root's `payload` when the root is
/// a Kafka Connect `{"schema":...,"payload":...}` wrapper. Returns `nil` for a tombstone.
func _locateDebeziumEnvelope(_ state: _TapeDecoder) throws(StreamKitError) -> Int? {
    let root = state.tape[0]
    if root.kind == .null { return nil }
    guard root.kind == .object else {
        throw StreamKitError(.malformedInput, "invalid Debezium message: expected a JSON object, found \(state.kindName(0))")
    }
    let payload = ("payload" as StaticString).withUTF8Buffer { state.findMember(object: 0, depth: 0, key: $0) }
    let op = ("op" as StaticString).withUTF8Buffer { state.findMember(object: 0, depth: 0, key: $0) }
    guard payload >= 0, op < 0 else { return 0 }
    switch state.tape[payload].kind {
    case .null:
        return nil
    case .object:
        return payload
    default:
        throw StreamKitError(.malformedInput, "invalid Debezium message: 'payload' must be an object or null, found \(state.kindName(payload))")
    }
}
