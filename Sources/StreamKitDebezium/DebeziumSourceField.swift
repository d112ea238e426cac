import StreamKitJSON

/// A member of a Debezium `source` block that ``DebeziumSource`` reads, recognised from the key's
/// bytes (no `String` per key).
enum SourceField: UInt32 {
    case version, connector, name, tsMs, tsUs, tsNs, snapshot, db, sequence, schema, table, txId, lsn, xmin, file, pos, row

    /// The JSON key.
    var key: StaticString {
        switch self {
        case .version: "version"
        case .connector: "connector"
        case .name: "name"
        case .tsMs: "ts_ms"
        case .tsUs: "ts_us"
        case .tsNs: "ts_ns"
        case .snapshot: "snapshot"
        case .db: "db"
        case .sequence: "sequence"
        case .schema: "schema"
        case .table: "table"
        case .txId: "txId"
        case .lsn: "lsn"
        case .xmin: "xmin"
        case .file: "file"
        case .pos: "pos"
        case .row: "row"
        }
    }

    /// The field whose key is `bytes`, nil for any other key (by length, then bytes: no array,
    /// no `String`).
    init?(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let p = bytes.baseAddress else { return nil }
        func matches(_ f: SourceField) -> Bool { _jsonBytesEqual(p, f.key.utf8Start, f.key.utf8CodeUnitCount) }
        let found: SourceField?
        switch bytes.count {
        case 2: found = matches(.db) ? .db : nil
        case 3: found = matches(.lsn) ? .lsn : matches(.pos) ? .pos : matches(.row) ? .row : nil
        case 4: found = matches(.name) ? .name : matches(.txId) ? .txId : matches(.xmin) ? .xmin : matches(.file) ? .file : nil
        case 5: found = matches(.tsMs) ? .tsMs : matches(.tsUs) ? .tsUs : matches(.tsNs) ? .tsNs : matches(.table) ? .table : nil
        case 6: found = matches(.schema) ? .schema : nil
        case 7: found = matches(.version) ? .version : nil
        case 8: found = matches(.snapshot) ? .snapshot : matches(.sequence) ? .sequence : nil
        case 9: found = matches(.connector) ? .connector : nil
        default: found = nil
        }
        guard let found else { return nil }
        self = found
    }

    /// The field the tape decoder finds for the JSON key `bytes` under `.convertFromSnakeCase`:
    /// it matches a coding key by the key's camelCase conversion, and only when no member
    /// converts to it, by the raw key. A conversion keeps no inner underscore, so `ts_ms`,
    /// `ts_us` and `ts_ns` match raw only; every other field's name has none and matches any key
    /// that converts to it (`tx_id` → `txId`); a key without inner underscores converts to itself.
    init?(convertingFromSnakeCase bytes: UnsafeBufferPointer<UInt8>) {
        if let raw = SourceField(bytes) { self = raw; return }
        guard bytes.contains(0x5F) else { return nil }
        for field in [SourceField.version, .connector, .name, .snapshot, .db, .sequence, .schema, .table, .txId, .lsn, .xmin,
                      .file, .pos, .row] {
            let key = UnsafeBufferPointer(start: field.key.utf8Start, count: field.key.utf8CodeUnitCount)
            if _jsonSnakeCaseKey(bytes, convertsTo: key) { self = field; return }
        }
        return nil
    }
}
