/// A record that could not be processed: the record (for a source, the raw value as text), a
/// reason a person can act on, a stable reason code for routing and metrics, and where it came from.
///
/// Sources put malformed input on their dead-letter side output
/// (`raw.sideOutput(DeadLetter<String>.self)`); ``TryMapOperator`` (`tryMap`) puts the inputs its
/// function threw on. Writers: `writeDeadLetters(to:)` (file) and `writeDeadLetters(toKafka:topic:)`.
public struct DeadLetter<Record: Sendable>: Sendable {
    public var record: Record
    /// What went wrong, in words (e.g. `amount: expected a number, found a string`).
    public var reason: String
    /// The class of the failure, stable across releases (`malformed_json`, `wrong_type`, …): the
    /// `streamkit.dlq.reason` header and the `reason` label of `streamkit_dead_letters_total`.
    public var code: StreamKitError.Code
    /// The source position of the record (topic, partition, offset), when a source rejected it.
    public var origin: RecordOrigin?
    /// The original bytes (a source's dead letters; at most the source's payload limit), when
    /// they should be kept exactly — `record` is their UTF-8 reading.
    public var payload: [UInt8]?
    /// The original size in bytes when `payload` was cut to a limit.
    public var originalSize: Int?

    @inlinable public init(record: Record, reason: String, code: StreamKitError.Code = .malformedInput,
                           origin: RecordOrigin? = nil, payload: [UInt8]? = nil, originalSize: Int? = nil) {
        self.record = record; self.reason = reason; self.code = code
        self.origin = origin; self.payload = payload; self.originalSize = originalSize
    }

    /// A dead letter for a thrown error: a ``StreamKitError`` keeps its code and message, any other
    /// error gets `fallback` and its description.
    public init(record: Record, error: any Error, fallback: StreamKitError.Code = .malformedInput,
                origin: RecordOrigin? = nil, payload: [UInt8]? = nil, originalSize: Int? = nil) {
        if let e = error as? StreamKitError {
            self.init(record: record, reason: e.message, code: e.code, origin: origin, payload: payload, originalSize: originalSize)
        } else {
            self.init(record: record, reason: "\(error)", code: fallback, origin: origin, payload: payload, originalSize: originalSize)
        }
    }
}
