/// The classes of bad input a job dead-letters (or routes to its late output). Each is the
/// `streamkit.dlq.reason` header of a dead letter and the `reason` label of
/// `streamkit_dead_letters_total`.
extension StreamKitError.Code {
    /// Not JSON (or truncated, or trailing garbage).
    public static let malformedJSON = Self("malformed_json")
    /// A Debezium `op` other than `c`, `u`, `d`, `r`, `t` (or missing).
    public static let unknownOperation = Self("unknown_op")
    /// A required field is absent (e.g. a dropped column). Extra fields are ignored.
    public static let missingField = Self("missing_field")
    /// The key field of a row is null.
    public static let nullKey = Self("null_key")
    /// A field has the wrong JSON type (e.g. `"amount": "x"` where a number is required).
    public static let wrongType = Self("wrong_type")
    /// The value is larger than the source's `maxRecordBytes` (not parsed).
    public static let recordTooLarge = Self("record_too_large")
    /// The event time is further ahead of the processing time than the allowed skew.
    public static let futureTimestamp = Self("future_timestamp")
    /// The same event (same identity, e.g. Debezium source position) was already read.
    public static let duplicate = Self("duplicate")
    /// The event arrived after its windows were closed (beyond the allowed lateness).
    public static let late = Self("late")
    /// A user function threw on the record (the reason is the error's text).
    public static let userFunction = Self("user_function")
    /// A null value (Kafka tombstone) the decoder could not take.
    public static let tombstone = Self("tombstone")
}
