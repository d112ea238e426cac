/// MySQL/MariaDB column type codes as the binlog writes them (`enum_field_types`).
public enum MySQLType {
    public static let decimal: UInt8 = 0, tiny: UInt8 = 1, short: UInt8 = 2, long: UInt8 = 3, float: UInt8 = 4, double: UInt8 = 5
    public static let null: UInt8 = 6, timestamp: UInt8 = 7, longlong: UInt8 = 8, int24: UInt8 = 9, date: UInt8 = 10, time: UInt8 = 11
    public static let datetime: UInt8 = 12, year: UInt8 = 13, newDate: UInt8 = 14, varchar: UInt8 = 15, bit: UInt8 = 16
    public static let timestamp2: UInt8 = 17, datetime2: UInt8 = 18, time2: UInt8 = 19
    public static let json: UInt8 = 245, newDecimal: UInt8 = 246, enumType: UInt8 = 247, set: UInt8 = 248
    public static let tinyBlob: UInt8 = 249, mediumBlob: UInt8 = 250, longBlob: UInt8 = 251, blob: UInt8 = 252
    public static let varString: UInt8 = 253, string: UInt8 = 254, geometry: UInt8 = 255
    /// The collation id of binary strings (BINARY, VARBINARY, BLOB).
    public static let binaryCollation: UInt32 = 63

    /// Columns the SIGNEDNESS metadata has a bit for.
    public static func isNumeric(_ t: UInt8) -> Bool {
        switch t {
        case tiny, short, int24, long, longlong, float, double, newDecimal, decimal: true
        default: false
        }
    }

    /// Columns the charset metadata covers (ENUM/SET have their own).
    public static func isCharacter(_ t: UInt8) -> Bool {
        switch t {
        case string, varString, varchar, blob, tinyBlob, mediumBlob, longBlob: true
        default: false
        }
    }
}
