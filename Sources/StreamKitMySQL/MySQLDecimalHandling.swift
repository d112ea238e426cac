/// Debezium's `decimal.handling.mode` for DECIMAL columns: `precise` writes a JSON number with
/// every digit and the column's scale (Kafka's JsonConverter with `decimal.format=NUMERIC`),
/// `double` a JSON number rounded to a double, `string` a JSON string with every digit.
public enum MySQLDecimalHandling: String, Sendable, CaseIterable, Codable {
    case precise, double, string
}
