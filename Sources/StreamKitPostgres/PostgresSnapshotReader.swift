import StreamKit
import StreamKitCapture

/// The PostgreSQL ``SnapshotReader``: table metadata from the catalog, and key-ordered chunks
/// (`WHERE (pk) > ($last) ORDER BY pk LIMIT n`, keys cast to their SQL types) for incremental
/// snapshots. Blocking: the capture's own thread.
struct PostgresSnapshotReader: SnapshotReader {
    let sql: PostgresConnection
    /// `schema.table` → each column's SQL type name (for the key casts).
    private var typeNames: [String: [String]] = [:]

    init(sql: PostgresConnection) { self.sql = sql }

    mutating func table(schema: String, name: String) throws -> CapturedTable? {
        guard let loaded = try PostgresCatalog.loadTable(sql, schema: schema, name: name, version: 0) else { return nil }
        typeNames[schema + "." + name] = loaded.typeNames
        return loaded.table
    }

    mutating func chunk(of table: CapturedTable, after key: [String?]?, limit: Int) throws -> [[ColumnValue]] {
        if typeNames[table.qualifiedName] == nil { _ = try self.table(schema: table.schema, name: table.name) }
        let types = typeNames[table.qualifiedName] ?? []
        let keyNames = table.keyColumns.map { sql.quoteIdentifier(table.columns[$0].name) }
        var query = "SELECT \(table.columns.map { sql.quoteIdentifier($0.name) }.joined(separator: ", ")) FROM \(PostgresCatalog.quotedName(sql, table.schema, table.name))"
        var params: [String?] = []
        if let key, key.count == keyNames.count {
            let placeholders = table.keyColumns.enumerated().map { "$\($0.offset + 1)::\($0.element < types.count ? types[$0.element] : "text")" }
            query += " WHERE (\(keyNames.joined(separator: ", "))) > (\(placeholders.joined(separator: ", ")))"
            params = key
        }
        query += " ORDER BY \(keyNames.joined(separator: ", ")) LIMIT \(limit)"
        return try sql.execute(query, params).rows.map { r in r.map { $0.map(ColumnValue.text) ?? .null } }
    }
}
