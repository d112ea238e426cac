/// A table as the capture knows it: columns with types, and the key columns used for Kafka keys.
public struct CapturedTable: Sendable, Equatable {
    public var schema: String
    public var name: String
    public var columns: [CaptureColumn]
    /// Indexes into `columns` of the Kafka key: the configured ``MessageKeyColumns``, else the
    /// primary key, else the replica-identity index; empty: no key (a null Kafka key, as
    /// Debezium does for a table without a primary key — never all columns).
    public var keyColumns: [Int]
    /// Version of this table's column list as seen by the capture (1, 2, ...; see ``SchemaHistory``).
    public var version: Int
    /// Per column: left out of `before`/`after` (column filter).
    public var excluded: [Bool]
    /// Per column: written as `"***"` (column mask).
    public var masked: [Bool]

    public init(schema: String, name: String, columns: [CaptureColumn], keyColumns: [Int], version: Int = 1) {
        self.schema = schema; self.name = name; self.columns = columns; self.keyColumns = keyColumns; self.version = version
        excluded = Array(repeating: false, count: columns.count)
        masked = Array(repeating: false, count: columns.count)
    }

    /// `schema.table`.
    public var qualifiedName: String { schema + "." + name }

    /// Applies column filters: `excluded` and `masked` name columns as `schema.table.column`, or
    /// `table.column` for a table in `defaultSchema`.
    public func filtered(excluded excludedColumns: [String], masked maskedColumns: [String], defaultSchema: String) -> CapturedTable {
        var t = self
        func matches(_ list: [String], _ column: String) -> Bool {
            list.contains("\(t.schema).\(t.name).\(column)") || (t.schema == defaultSchema && list.contains("\(t.name).\(column)"))
        }
        for (i, c) in t.columns.enumerated() {
            t.excluded[i] = matches(excludedColumns, c.name)
            t.masked[i] = matches(maskedColumns, c.name)
        }
        return t
    }
}
