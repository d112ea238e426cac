public import StreamKitCapture

/// A TABLE_MAP event: the table a following row event changes, with every column's type, type
/// metadata and — with `binlog_row_metadata=FULL` — its name, signedness, character set,
/// ENUM/SET values and the primary key. This is the live schema of the row images that follow,
/// so each image is decoded with the columns the table had when it was written.
public struct BinlogTableMap: Sendable, Equatable {
    public struct Column: Sendable, Equatable {
        public var name: String
        /// The real type (`MySQLType`): CHAR/ENUM/SET are told apart by the metadata.
        public var type: UInt8
        /// Type metadata (`MySQLType`: precision/scale, fsp, length bytes, ...).
        public var meta: UInt16
        public var unsigned = false
        /// The collation id (63: binary) of character columns; 0 otherwise.
        public var collation: UInt32 = 0
        public var nullable = true
        /// ENUM or SET member names.
        public var members: [String] = []
        public init(name: String, type: UInt8, meta: UInt16) { self.name = name; self.type = type; self.meta = meta }
    }

    public var tableID: UInt64
    public var database: String
    public var table: String
    public var columns: [Column]
    /// Column indexes of the primary key.
    public var primaryKey: [Int]
    /// Whether the event carried column names (`binlog_row_metadata=FULL`).
    public var hasNames: Bool

    public init(tableID: UInt64, database: String, table: String, columns: [Column], primaryKey: [Int], hasNames: Bool = true) {
        self.tableID = tableID; self.database = database; self.table = table; self.columns = columns
        self.primaryKey = primaryKey; self.hasNames = hasNames
    }

    /// Parses the event body after the common header (post-header included, checksum excluded).
    public init(body: UnsafeRawBufferPointer) throws {
        var r = BinlogBytes(body)
        tableID = try r.uint(6)
        _ = try r.uint(2)   // flags
        let dbLength = Int(try r.byte())
        database = try r.string(dbLength); try r.skip(1)
        let tableLength = Int(try r.byte())
        table = try r.string(tableLength); try r.skip(1)
        let count = Int(try r.packed())
        let types = try r.bytes(count)
        let metaLength = Int(try r.packed())
        let metaEnd = r.offset + metaLength
        columns = []
        columns.reserveCapacity(count)
        for i in 0..<count {
            var type = types[i]
            var meta: UInt16 = 0
            switch type {
            case MySQLType.float, MySQLType.double, MySQLType.blob, MySQLType.geometry, MySQLType.json,
                 MySQLType.timestamp2, MySQLType.datetime2, MySQLType.time2:
                meta = UInt16(try r.byte())
            case MySQLType.varchar, MySQLType.varString:
                meta = UInt16(try r.uint(2))
            case MySQLType.newDecimal, MySQLType.bit:
                let a = try r.byte(), b = try r.byte()
                meta = UInt16(a) << 8 | UInt16(b)   // newdecimal: precision, scale; bit: bits % 8, bytes
            case MySQLType.string, MySQLType.enumType, MySQLType.set:
                let b0 = try r.byte(), b1 = try r.byte()
                if b0 & 0x30 != 0x30 {
                    // CHAR longer than 255 bytes keeps bits 8-9 of its length in byte 0.
                    type = b0 | 0x30
                    meta = UInt16(b1) | UInt16((b0 & 0x30) ^ 0x30) << 4
                } else {
                    type = b0
                    meta = UInt16(b1)
                }
            default:
                break
            }
            columns.append(Column(name: "col\(i + 1)", type: type, meta: meta))
        }
        guard r.offset <= metaEnd else { throw CaptureError(.malformedLog, "TABLE_MAP \(database).\(table): type metadata overruns its length") }
        r.offset = metaEnd
        let nulls = try r.bytes((count + 7) / 8)
        for i in 0..<count { columns[i].nullable = nulls[i / 8] >> (i % 8) & 1 == 1 }
        primaryKey = []
        hasNames = false
        // Optional metadata: type, packed length, value.
        var defaultCollation: UInt32 = 0
        var perColumnCollation: [Int: UInt32] = [:]
        var columnCollations: [UInt32]? = nil
        var enumSetDefault: UInt32 = 0
        while r.remaining > 0 {
            let field = try r.byte()
            let length = Int(try r.packed())
            var v = BinlogBytes(try r.slice(length))
            switch field {
            case 1:   // SIGNEDNESS: one bit per numeric column, most significant first
                var n = 0
                let bits = try v.bytes(v.remaining)
                for i in 0..<count where MySQLType.isNumeric(columns[i].type) {
                    if n / 8 < bits.count { columns[i].unsigned = bits[n / 8] & (0x80 >> UInt8(n % 8)) != 0 }
                    n += 1
                }
            case 2:   // DEFAULT_CHARSET: default collation, then (character column index, collation) pairs
                defaultCollation = UInt32(try v.packed())
                while v.remaining > 0 { perColumnCollation[Int(try v.packed())] = UInt32(try v.packed()) }
            case 3:   // COLUMN_CHARSET: a collation per character column
                var list: [UInt32] = []
                while v.remaining > 0 { list.append(UInt32(try v.packed())) }
                columnCollations = list
            case 4:   // COLUMN_NAME
                hasNames = true
                for i in 0..<count where v.remaining > 0 { columns[i].name = try v.string(Int(try v.packed())) }
            case 5, 6:   // SET_STR_VALUE, ENUM_STR_VALUE: per SET (ENUM) column, its members
                let want = field == 5 ? MySQLType.set : MySQLType.enumType
                for i in 0..<count where columns[i].type == want && v.remaining > 0 {
                    let n = Int(try v.packed())
                    var members: [String] = []
                    members.reserveCapacity(n)
                    for _ in 0..<n { members.append(try v.string(Int(try v.packed()))) }
                    columns[i].members = members
                }
            case 8:   // SIMPLE_PRIMARY_KEY
                while v.remaining > 0 { primaryKey.append(Int(try v.packed())) }
            case 9:   // PRIMARY_KEY_WITH_PREFIX: (index, prefix length) pairs
                while v.remaining > 0 { primaryKey.append(Int(try v.packed())); _ = try v.packed() }
            case 10:  // ENUM_AND_SET_DEFAULT_CHARSET
                enumSetDefault = UInt32(try v.packed())
            default:
                break
            }
        }
        var characterIndex = 0
        for i in 0..<count where MySQLType.isCharacter(columns[i].type) {
            columns[i].collation = columnCollations.map { characterIndex < $0.count ? $0[characterIndex] : 0 }
                ?? perColumnCollation[characterIndex] ?? defaultCollation
            characterIndex += 1
        }
        for i in 0..<count where columns[i].type == MySQLType.enumType || columns[i].type == MySQLType.set {
            columns[i].collation = enumSetDefault
        }
    }

    /// `database.table`.
    public var qualifiedName: String { database + "." + table }
}
