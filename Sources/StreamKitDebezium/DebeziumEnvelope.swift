import StreamKit
import StreamKitJSON

/// The kind of change a Debezium event describes (the envelope's `op` field).
public enum DebeziumOperation: String, Sendable, Hashable, CaseIterable, Decodable {
    /// `"c"`: a row was inserted.
    case create = "c"
    /// `"u"`: a row was updated.
    case update = "u"
    /// `"d"`: a row was deleted.
    case delete = "d"
    /// `"r"`: a row was read during a snapshot.
    case read = "r"
    /// `"t"`: a table was truncated.
    case truncate = "t"

    /// Decodes from the one-letter code; any other value is an error naming the value.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let code = try container.decode(String.self)
        guard let op = DebeziumOperation(rawValue: code) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "unknown Debezium operation '\(code)'"))
        }
        self = op
    }
}

/// The `source` block of a Debezium event (fields of the PostgreSQL connector; fields other
/// connectors omit are optional).
public struct DebeziumSource: Sendable, Hashable, Decodable {
    /// Debezium version, e.g. `2.5.0.Final`.
    public var version: String
    /// Connector type, e.g. `postgresql`.
    public var connector: String
    /// Logical server name (topic prefix).
    public var name: String
    /// Time the change was made in the database, epoch milliseconds.
    public var tsMs: Int64
    /// Microsecond / nanosecond variants of `tsMs` (Debezium 2.6+).
    public var tsUs: Int64?
    /// Nanosecond variant of `tsMs` (Debezium 2.6+).
    public var tsNs: Int64?
    /// Snapshot marker: `"true"`, `"false"`, `"last"`, `"incremental"`, ... (a JSON boolean is
    /// accepted and stored as `"true"`/`"false"`); `nil` when absent.
    public var snapshot: String?
    /// Database name.
    public var db: String
    /// Connector-specific ordering information (PostgreSQL: JSON text of `[lastCommitLsn, lsn]`).
    public var sequence: String?
    /// Schema name.
    public var schema: String?
    /// Table name.
    public var table: String?
    /// Transaction id.
    public var txId: Int64?
    /// Log sequence number of the change.
    public var lsn: Int64?
    /// PostgreSQL `xmin`, when enabled.
    public var xmin: Int64?
    /// MySQL: the binlog file of the change (`binlog.000003`).
    public var file: String?
    /// MySQL: the position of the change's event in its binlog file.
    public var pos: Int64?
    /// MySQL: the row's index in its rows event.
    public var row: Int64?

    /// Creates a source block.
    public init(version: String, connector: String, name: String, tsMs: Int64, snapshot: String? = nil,
                db: String, sequence: String? = nil, schema: String? = nil, table: String? = nil,
                txId: Int64? = nil, lsn: Int64? = nil, xmin: Int64? = nil, tsUs: Int64? = nil, tsNs: Int64? = nil,
                file: String? = nil, pos: Int64? = nil, row: Int64? = nil) {
        self.version = version
        self.connector = connector
        self.name = name
        self.tsMs = tsMs
        self.snapshot = snapshot
        self.db = db
        self.sequence = sequence
        self.schema = schema
        self.table = table
        self.txId = txId
        self.lsn = lsn
        self.xmin = xmin
        self.tsUs = tsUs
        self.tsNs = tsNs
        self.file = file
        self.pos = pos
        self.row = row
    }

    enum CodingKeys: String, CodingKey {
        case version, connector, name, snapshot, db, sequence, schema, table, txId, lsn, xmin, file, pos, row
        case tsMs = "ts_ms", tsUs = "ts_us", tsNs = "ts_ns"
    }

    /// Decodes a `source` block; `snapshot` may be a string or a boolean.
    public init(from decoder: any Decoder) throws {
        if let tape = decoder as? _TapeDecoder, let fast = DebeziumSource(plainMembersOf: tape) {
            self = fast
            return
        }
        try self.init(keyedFrom: decoder)
    }

    /// The `Codable` path: every property looked up by key (what Foundation's decoder takes, and
    /// the tape decoder when a member is not plain).
    package init(keyedFrom decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decode(String.self, forKey: .version)
        connector = try c.decode(String.self, forKey: .connector)
        name = try c.decode(String.self, forKey: .name)
        tsMs = try c.decode(Int64.self, forKey: .tsMs)
        tsUs = try c.decodeIfPresent(Int64.self, forKey: .tsUs)
        tsNs = try c.decodeIfPresent(Int64.self, forKey: .tsNs)
        if let text = try? c.decodeIfPresent(String.self, forKey: .snapshot) {
            snapshot = text
        } else {
            snapshot = try c.decodeIfPresent(Bool.self, forKey: .snapshot).map { $0 ? "true" : "false" }
        }
        db = try c.decode(String.self, forKey: .db)
        sequence = try c.decodeIfPresent(String.self, forKey: .sequence)
        schema = try c.decodeIfPresent(String.self, forKey: .schema)
        table = try c.decodeIfPresent(String.self, forKey: .table)
        txId = try c.decodeIfPresent(Int64.self, forKey: .txId)
        lsn = try c.decodeIfPresent(Int64.self, forKey: .lsn)
        xmin = try c.decodeIfPresent(Int64.self, forKey: .xmin)
        file = try c.decodeIfPresent(String.self, forKey: .file)
        pos = try c.decodeIfPresent(Int64.self, forKey: .pos)
        row = try c.decodeIfPresent(Int64.self, forKey: .row)
    }

    /// The source block read in one pass over its members on the tape (StreamKit's JSON decoder):
    /// the same result as the `Codable` path, which is used instead (with its errors) whenever a
    /// member is not as expected — a missing required field, a value of another type, a duplicate
    /// or escaped key. The `Codable` path looks every property up by key and went through
    /// `KeyedDecodingContainer`'s generic dispatch 17 times per event: a fifth of a pricing job's CPU.
    init?(plainMembersOf tape: _TapeDecoder) {
        var version: String?, connector: String?, name: String?, tsMs: Int64?, db: String?
        var snapshot: String?, sequence: String?, schema: String?, table: String?, file: String?
        var tsUs: Int64?, tsNs: Int64?, txId: Int64?, lsn: Int64?, xmin: Int64?, pos: Int64?, row: Int64?
        var seen: UInt32 = 0
        let converting = tape.snakeCase
        let plain = tape.forEachPlainMember { key, v in
            // Other keys are ignored, as by Codable.
            guard let field = converting ? SourceField(convertingFromSnakeCase: key) : SourceField(key) else { return true }
            let bit = UInt32(1) << field.rawValue
            guard seen & bit == 0 else { return false }                 // a duplicate key: Codable decides
            seen |= bit
            func optionalInt(_ out: inout Int64?) -> Bool {
                if tape.isAbsent(v) { return true }
                out = tape.integerValue(Int64.self, v)
                return out != nil
            }
            func optionalString(_ out: inout String?) -> Bool {
                if tape.isAbsent(v) { return true }
                out = tape.stringValue(v)
                return out != nil
            }
            switch field {
            case .version: version = tape.stringValue(v); return version != nil
            case .connector: connector = tape.stringValue(v); return connector != nil
            case .name: name = tape.stringValue(v); return name != nil
            case .tsMs: tsMs = tape.integerValue(Int64.self, v); return tsMs != nil
            case .db: db = tape.stringValue(v); return db != nil
            case .tsUs: return optionalInt(&tsUs)
            case .tsNs: return optionalInt(&tsNs)
            case .txId: return optionalInt(&txId)
            case .lsn: return optionalInt(&lsn)
            case .xmin: return optionalInt(&xmin)
            case .pos: return optionalInt(&pos)
            case .row: return optionalInt(&row)
            case .sequence: return optionalString(&sequence)
            case .schema: return optionalString(&schema)
            case .table: return optionalString(&table)
            case .file: return optionalString(&file)
            case .snapshot:
                if tape.isAbsent(v) { return true }
                if let s = tape.stringValue(v) { snapshot = s; return true }
                if let b = tape.boolValue(v) { snapshot = b ? "true" : "false"; return true }
                return false
            }
        }
        guard plain, let version, let connector, let name, let tsMs, let db else { return nil }
        self.init(version: version, connector: connector, name: name, tsMs: tsMs, snapshot: snapshot, db: db,
                  sequence: sequence, schema: schema, table: table, txId: txId, lsn: lsn, xmin: xmin,
                  tsUs: tsUs, tsNs: tsNs, file: file, pos: pos, row: row)
    }
}

/// The `transaction` block Debezium adds when transaction metadata is enabled.
public struct DebeziumTransaction: Sendable, Hashable, Decodable {
    /// Transaction identifier (PostgreSQL: `"txId:lsn"`).
    public var id: String
    /// Position of the event among all events of the transaction.
    public var totalOrder: Int64
    /// Position of the event among the transaction's events for the same table.
    public var dataCollectionOrder: Int64

    /// Creates a transaction block.
    public init(id: String, totalOrder: Int64, dataCollectionOrder: Int64) {
        self.id = id
        self.totalOrder = totalOrder
        self.dataCollectionOrder = dataCollectionOrder
    }

    enum CodingKeys: String, CodingKey {
        case id
        case totalOrder = "total_order"
        case dataCollectionOrder = "data_collection_order"
    }
}

/// Columns whose value was Debezium's `__debezium_unavailable_value` placeholder (an unchanged
/// TOASTed value the connector could not read). Such a column carries no information: a consumer
/// must keep its previous value rather than overwrite it.
public struct DebeziumUnavailableColumns: Sendable, Hashable {
    /// Placeholder columns in the before-image.
    public var before: [String]
    /// Placeholder columns in the after-image.
    public var after: [String]

    /// Creates a column report.
    public init(before: [String] = [], after: [String] = []) {
        self.before = before
        self.after = after
    }

    /// `true` when no column was unavailable.
    public var isEmpty: Bool { before.isEmpty && after.isEmpty }
}

/// The Debezium change-event envelope (the message value's `payload`).
///
/// Decoding validates the envelope: `op` must be a known operation, `source` must be present,
/// and `c`/`r`/`u` events must carry an `after` image. Placeholder (unavailable) columns are listed
/// in `unavailableColumns`; how a row property holding the placeholder is decoded is described on
/// `DebeziumDecoder`.
public struct DebeziumEnvelope<Row: Decodable>: Decodable {
    /// Row state before the change (`nil` for inserts/snapshot reads, or when not captured).
    public var before: Row?
    /// Row state after the change (`nil` for deletes and truncates).
    public var after: Row?
    /// Event source metadata.
    public var source: DebeziumSource
    /// The operation.
    public var op: DebeziumOperation
    /// Time Debezium processed the event, epoch milliseconds.
    public var tsMs: Int64?
    /// Transaction metadata, when enabled.
    public var transaction: DebeziumTransaction?
    /// Columns holding the unavailable-value placeholder, per image.
    public var unavailableColumns: DebeziumUnavailableColumns

    /// Creates an envelope.
    public init(before: Row?, after: Row?, source: DebeziumSource, op: DebeziumOperation, tsMs: Int64?,
                transaction: DebeziumTransaction? = nil, unavailableColumns: DebeziumUnavailableColumns = .init()) {
        self.before = before
        self.after = after
        self.source = source
        self.op = op
        self.tsMs = tsMs
        self.transaction = transaction
        self.unavailableColumns = unavailableColumns
    }

    enum CodingKeys: String, CodingKey {
        case before, after, source, op, transaction
        case tsMs = "ts_ms"
    }

    /// Decodes and validates an envelope.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        op = try c.decode(DebeziumOperation.self, forKey: .op)
        before = try c.decodeIfPresent(Row.self, forKey: .before)
        after = try c.decodeIfPresent(Row.self, forKey: .after)
        source = try c.decode(DebeziumSource.self, forKey: .source)
        tsMs = try c.decodeIfPresent(Int64.self, forKey: .tsMs)
        transaction = try c.decodeIfPresent(DebeziumTransaction.self, forKey: .transaction)
        switch op {
        case .create, .read, .update:
            if after == nil {
                throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.after],
                                                        debugDescription: "op '\(op.rawValue)' requires a non-null 'after' image"))
            }
        case .delete, .truncate:
            break
        }
        if let tape = decoder as? _TapeDecoder {
            // FastJSONDecoder: read the placeholder columns straight off the tape.
            let envelope = tape.current
            let depth = tape.path.count
            func image(_ name: StaticString) -> [String] {
                let index = name.withUTF8Buffer { tape.findMember(object: envelope, depth: depth, key: $0) }
                return index < 0 ? [] : tape.placeholderColumns(image: index)
            }
            unavailableColumns = DebeziumUnavailableColumns(before: image("before"), after: image("after"))
        } else {
            unavailableColumns = DebeziumUnavailableColumns(
                before: (try? c.decodeIfPresent(_UnavailableColumnProbe.self, forKey: .before))??.names ?? [],
                after: (try? c.decodeIfPresent(_UnavailableColumnProbe.self, forKey: .after))??.names ?? [])
        }
    }
}

extension DebeziumEnvelope: Sendable where Row: Sendable {}
extension DebeziumEnvelope: Equatable where Row: Equatable {}

/// Finds placeholder columns through any `Decoder` (used when not decoding with `FastJSONDecoder`).
struct _UnavailableColumnProbe: Decodable {
    var names: [String] = []

    init(names: [String]) { self.names = names }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { return nil }
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        for key in c.allKeys where (try? c.decode(String.self, forKey: key)) == "__debezium_unavailable_value" {
            names.append(key.stringValue)
        }
    }
}

extension _TapeDecoder {
    /// Names of the members of the object at tape index `image` whose value is the placeholder.
    /// Allocates only when a placeholder is found.
    func placeholderColumns(image: Int) -> [String] {
        guard tape[image].kind == .object else { return [] }
        var names: [String] = []
        var m = image + 1
        let end = Int(tape[image].next)
        while m < end {
            if isPlaceholder(m + 1) {
                let e = tape[m]
                names.append(_jsonMakeString(base + Int(e.start), Int(e.end &- e.start), hasEscapes: e.hasEscapes))
            }
            m = Int(tape[m + 1].next)
        }
        return names
    }
}
