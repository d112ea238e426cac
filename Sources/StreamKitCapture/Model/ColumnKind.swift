/// How the Debezium encoder writes a column's values: the database-neutral type of a column.
/// A plug-in maps its own types to these (PostgreSQL: by type OID; MySQL: by column type).
public enum ColumnKind: String, Sendable, Equatable, Hashable, Codable {
    /// `t`/`f` (PostgreSQL) or `1`/`0`: a JSON boolean.
    case boolean
    /// A JSON integer.
    case integer
    /// Floating point and decimal: a JSON number with all the digits given; NaN and infinities as strings.
    case decimal
    /// `YYYY-MM-DD HH:MM:SS[.ffffff]` without a zone: microseconds since the epoch (Debezium's MicroTimestamp).
    case timestamp
    /// With a zone: an ISO-8601 UTC string (Debezium's ZonedTimestamp).
    case timestampWithZone
    /// `YYYY-MM-DD`: days since the epoch.
    case date
    /// `\x0a0b` hex bytes: base64.
    case bytes
    /// Anything else (text, json, uuid, arrays): a JSON string.
    case text
}
