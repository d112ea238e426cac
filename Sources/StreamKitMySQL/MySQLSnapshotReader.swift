import StreamKitCapture

/// Reads MariaDB tables with SQL for snapshots (the capture's own thread): a table's columns from
/// `information_schema` in the TABLE_MAP's terms, and key-ordered chunks for incremental
/// snapshots, with values converted to the forms binlog row images get (``MySQLTextValue``), so a
/// read and a streamed change of the same row are keyed and encoded alike.
///
/// Chunk positions are the key columns' SQL text as the server returned it (hex for binary
/// columns), so the next chunk's `WHERE` compares exact values: numbers unquoted, binary values
/// as `X'…'`, everything else as string literals the column's type and collation compare.
struct MySQLSnapshotReader: SnapshotReader {
    let sql: MySQLConnection
    let decimalHandling: MySQLDecimalHandling
    /// The column definitions of the tables read (by `db.table`).
    private(set) var maps: [String: BinlogTableMap] = [:]
    /// The key text of the last chunk's first and last rows (nil: the chunk was empty).
    private(set) var firstKey: [String?]? = nil
    private(set) var lastKey: [String?]? = nil

    init(sql: MySQLConnection, decimalHandling: MySQLDecimalHandling) {
        self.sql = sql; self.decimalHandling = decimalHandling
    }

    mutating func table(schema: String, name: String) throws -> CapturedTable? {
        guard let map = try Self.tableMap(sql, database: schema, table: name) else { return nil }
        maps[map.qualifiedName] = map
        let decoder = MySQLRowDecoder(map: map, decimalHandling: decimalHandling)
        return CapturedTable(schema: schema, name: name, columns: decoder.columns(), keyColumns: map.primaryKey)
    }

    /// The table's columns as a TABLE_MAP would describe them (table id 0); nil when it does not exist.
    static func tableMap(_ sql: MySQLConnection, database: String, table: String) throws -> BinlogTableMap? {
        let cols = try sql.query("""
            SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, CHARACTER_SET_NAME, COLUMN_KEY
            FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = \(sql.quoteLiteral(database)) AND TABLE_NAME = \(sql.quoteLiteral(table))
            ORDER BY ORDINAL_POSITION
            """)
        guard !cols.isEmpty else { return nil }
        let columns = cols.map { c in
            MySQLTextValue.column(name: c[0] ?? "", dataType: c[1] ?? "", columnType: c[2] ?? "", precision: c[3].flatMap { Int($0) },
                                  scale: c[4].flatMap { Int($0) }, datetimePrecision: c[5].flatMap { Int($0) }, characterSet: c[6])
        }
        return BinlogTableMap(tableID: 0, database: database, table: table, columns: columns, primaryKey: cols.indices.filter { cols[$0][7] == "PRI" })
    }

    /// `SELECT`'s column list: binary columns as `HEX(column)`.
    static func selectList(_ map: BinlogTableMap) -> String {
        map.columns.map { c in
            let q = MySQLConnection.quoteIdentifier(c.name)
            return MySQLTextValue.selectsHex(c) ? "HEX(\(q))" : q
        }.joined(separator: ", ")
    }

    /// `db`.`table`.
    static func quotedName(_ map: BinlogTableMap) -> String {
        MySQLConnection.quoteIdentifier(map.database) + "." + MySQLConnection.quoteIdentifier(map.table)
    }

    mutating func chunk(of table: CapturedTable, after key: [String?]?, limit: Int) throws -> [[ColumnValue]] {
        guard let map = maps[table.qualifiedName] else {
            throw CaptureError(.configuration, "incremental snapshot: \(table.qualifiedName) was not loaded before its chunk")
        }
        let keys = map.primaryKey
        let names = keys.map { MySQLConnection.quoteIdentifier(map.columns[$0].name) }
        var query = "SELECT \(Self.selectList(map)) FROM \(Self.quotedName(map))"
        if let key, key.count == keys.count {
            // (k1 > v1) OR (k1 = v1 AND k2 > v2) OR …: the keyset after the last row read.
            var terms: [String] = []
            for i in keys.indices {
                var parts = (0..<i).map { "\(names[$0]) = \(literal(key[$0], map.columns[keys[$0]]))" }
                parts.append("\(names[i]) > \(literal(key[i], map.columns[keys[i]]))")
                terms.append("(" + parts.joined(separator: " AND ") + ")")
            }
            query += " WHERE " + terms.joined(separator: " OR ")
        }
        query += " ORDER BY " + names.joined(separator: ", ") + " LIMIT \(limit)"
        let rows = try sql.query(query)
        firstKey = rows.first.map { r in keys.map { r[$0] } }
        lastKey = rows.last.map { r in keys.map { r[$0] } }
        return rows.map { r in
            var values: [ColumnValue] = []
            values.reserveCapacity(map.columns.count)
            for (i, c) in map.columns.enumerated() { values.append(MySQLTextValue.value(r[i], c, decimalHandling: decimalHandling)) }
            return values
        }
    }

    /// A key value's SQL literal: numbers as they are, hex-selected values as `X'…'`, else quoted.
    func literal(_ text: String?, _ c: BinlogTableMap.Column) -> String {
        guard let text else { return "NULL" }
        if MySQLTextValue.selectsHex(c), text.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 70) || ($0 >= 97 && $0 <= 102) }) {
            return text.utf8.count % 2 == 0 ? "X'\(text)'" : "X'0\(text)'"
        }
        if MySQLType.isNumeric(c.type), !text.isEmpty,
           text.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 43 || $0 == 46 || $0 == 101 || $0 == 69 }) {
            return text
        }
        return sql.quoteLiteral(text)
    }
}
