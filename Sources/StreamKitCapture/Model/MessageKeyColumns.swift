/// Debezium's `message.key.columns`: per table, the columns whose values make the Kafka key
/// instead of the primary key — also for a table without one. Written
/// `schema.table:col1,col2;schema.other:col` (`table:col` for a table in the default schema).
///
/// Without an entry a table's key is its primary key (else its replica-identity index); a table
/// with neither has a **null key**, as in Debezium. A configured key column that the change log
/// does not carry on an update (an unchanged TOASTed value) is taken from the old row, which the
/// log carries when the table's replica identity is FULL.
///
/// ```swift
/// let keys = try MessageKeyColumns(parsing: "public.events:device_id,kind", defaultSchema: "public")
/// ```
public struct MessageKeyColumns: Sendable, Equatable {
    /// `schema.table` → key column names, in key order.
    public private(set) var tables: [String: [String]] = [:]

    public init() {}

    /// Parses Debezium's format; an entry without a table or a column is an error naming it.
    public init(parsing text: String, defaultSchema: String) throws {
        for entry in text.split(separator: ";") {
            let e = entry.trimmingSpaces
            if e.isEmpty { continue }
            let parts = e.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else {
                throw CaptureError(.configuration, "message key columns: '\(e)' must be schema.table:column[,column...]")
            }
            let table = parts[0].trimmingSpaces
            let columns = parts[1].split(separator: ",").map { $0.trimmingSpaces }.filter { !$0.isEmpty }
            guard !table.isEmpty, !columns.isEmpty else {
                throw CaptureError(.configuration, "message key columns: '\(e)' names no table or no column")
            }
            let qualified = table.contains(".") ? table : defaultSchema + "." + table
            guard tables[qualified] == nil else { throw CaptureError(.configuration, "message key columns: \(qualified) is named twice") }
            tables[qualified] = columns
        }
    }

    public var isEmpty: Bool { tables.isEmpty }

    /// The key column indexes of `schema.name` with these columns: the configured ones, else
    /// `defaultKey`. A configured column the table does not have is an error naming it.
    public func keyColumns(schema: String, name: String, columns: [CaptureColumn], defaultKey: [Int]) throws -> [Int] {
        guard let names = tables[schema + "." + name] else { return defaultKey }
        return try names.map { n in
            guard let i = columns.firstIndex(where: { $0.name == n }) else {
                throw CaptureError(.configuration, "message key columns: \(schema).\(name) has no column \(n)")
            }
            return i
        }
    }
}

extension Substring {
    var trimmingSpaces: String {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
