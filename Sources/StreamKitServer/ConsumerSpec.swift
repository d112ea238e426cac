import Foundation

/// A subscription as `POST /api/v1/consumers` takes it (validated) and the registry stores it:
/// the changes of one source, narrowed by table, operation and a ``RowFilter``, projected to
/// some columns, kept in a derived topic by a supervised job.
struct ConsumerSpec: Codable, Sendable, Equatable {
    var source_id: String
    var table_filter: [String]?
    var column_filter: [String]?
    var operation_filter: [String]?
    var row_filter: String?
    /// Set when created: the derived topic and the source topics it reads.
    var kafka_topic: String?
    var source_topics: [String]?

    /// Checks the fields against the source (errors name them) and fills in the topics.
    mutating func validate(id: String, source: SourceSpec) throws {
        let prefix = source.options?.topic_prefix ?? "cdc"
        var tables: [String]
        if let filter = table_filter {
            guard !filter.isEmpty else { throw ServerError.invalid("table_filter", "must list at least one table when given") }
            for t in filter where !SourceSpec.isQualifiedName(t, parts: 1...2) {
                throw ServerError.invalid("table_filter", "'\(t)' is not a table name (table or schema.table)")
            }
            if let captured = source.tables {
                let known = Set(captured.map(Self.qualified))
                for t in filter where !known.contains(Self.qualified(t)) {
                    throw ServerError.invalid("table_filter", "'\(t)' is not captured by source \(source_id)")
                }
            }
            tables = filter
        } else {
            guard let captured = source.tables else {
                throw ServerError.invalid("table_filter", "is required: source \(source_id) captures every table")
            }
            tables = captured
        }
        if let columns = column_filter {
            guard !columns.isEmpty else { throw ServerError.invalid("column_filter", "must list at least one column when given") }
            for c in columns where !SourceSpec.isQualifiedName(c, parts: 1...1) {
                throw ServerError.invalid("column_filter", "'\(c)' is not a column name")
            }
        }
        if let ops = operation_filter {
            guard !ops.isEmpty else { throw ServerError.invalid("operation_filter", "must list at least one operation when given") }
            for op in ops where !["c", "u", "d", "r", "t"].contains(op) {
                throw ServerError.invalid("operation_filter", "unknown operation '\(op)' (use c, u, d, r, t)")
            }
        }
        if let text = row_filter { _ = try RowFilter(parsing: text) }
        tables = tables.map(Self.qualified)
        source_topics = tables.map { "\(prefix).\($0)" }
        kafka_topic = "\(prefix).consumer.\(id)"
    }

    static func qualified(_ table: String) -> String { table.contains(".") ? table : "public.\(table)" }

    func selector() throws -> ChangeSelector {
        ChangeSelector(tables: table_filter, operations: operation_filter, columns: column_filter,
                       rowFilter: try row_filter.map(RowFilter.init(parsing:)))
    }
}
