import StreamKitCapture

/// PostgreSQL type OIDs (pg_type.dat) the capture types values by, and their ``ColumnKind``.
enum PostgresTypes {
    static let bool: UInt32 = 16, bytea: UInt32 = 17, int8: UInt32 = 20, int2: UInt32 = 21, int4: UInt32 = 23
    static let oid: UInt32 = 26, json: UInt32 = 114, float4: UInt32 = 700, float8: UInt32 = 701
    static let date: UInt32 = 1082, timestamp: UInt32 = 1114, timestamptz: UInt32 = 1184
    static let numeric: UInt32 = 1700, jsonb: UInt32 = 3802

    /// How the encoder writes values of type `oid` (Debezium's defaults).
    static func kind(_ oid: UInt32) -> ColumnKind {
        switch oid {
        case bool: .boolean
        case int2, int4, int8, self.oid: .integer
        case float4, float8, numeric: .decimal
        case timestamp: .timestamp
        case timestamptz: .timestampWithZone
        case date: .date
        case bytea: .bytes
        default: .text
        }
    }
}

extension PgOutput.Column {
    /// The neutral column.
    var captureColumn: CaptureColumn {
        CaptureColumn(name: name, typeID: typeOID, typeModifier: typeModifier, kind: PostgresTypes.kind(typeOID), isKey: isKey)
    }
}
