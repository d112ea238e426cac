import StreamKit
import StreamKitJSON

/// What a consumer keeps of a source's Debezium change events: tables, operations, a
/// ``RowFilter``, and the columns of `before`/`after` (a projection). Works on the event's bytes:
/// one scan by the JSON field extractor finds every value needed, and a projected event is the
/// original bytes with the `before`/`after` objects rewritten (no JSON tree per record).
struct ChangeSelector: Sendable {
    let tables: Set<String>?
    let operations: Set<String>?
    let columns: [String]?
    let rowFilter: RowFilter?
    /// Commit times kept (`source.ts_ms`, ms since the epoch): replays.
    let commitTimes: Range<Int64>?
    let extractor: JSONFieldExtractor
    /// Index of the first column path (`after.<c>`; `before.<c>` follow) and of the first filter field.
    let columnBase = 6
    let filterBase: Int

    init(tables: [String]?, operations: [String]?, columns: [String]?, rowFilter: RowFilter?, commitTimes: Range<Int64>? = nil) {
        self.tables = tables.map { Set($0.map { $0.contains(".") ? $0 : "public.\($0)" }) }
        self.operations = operations.map(Set.init)
        self.columns = columns
        self.rowFilter = rowFilter
        self.commitTimes = commitTimes
        var paths = ["op", "source.schema", "source.table", "before", "after", "source.ts_ms"]
        for c in columns ?? [] { paths.append("after.\(c)") }
        for c in columns ?? [] { paths.append("before.\(c)") }
        filterBase = paths.count
        paths += rowFilter?.fields ?? []
        extractor = JSONFieldExtractor(paths)
    }

    /// ``select(_:scratch:)`` of a byte array (tests, cold paths).
    func select(_ bytes: [UInt8]) throws -> [UInt8]? {
        var scratch: [JSONScalar] = []
        return try bytes.withUnsafeBytes { try select($0, scratch: &scratch) }
    }

    /// The event to publish, nil when the change is not selected (or is a tombstone).
    func select(_ doc: UnsafeRawBufferPointer, scratch: inout [JSONScalar]) throws -> [UInt8]? {
        guard !doc.isEmpty else { return nil }
        try extractor.extract(doc, into: &scratch)
        if let operations {
            guard let op = scratch[0].string(in: doc), operations.contains(op) else { return nil }
        }
        if let tables {
            guard let schema = scratch[1].string(in: doc), let table = scratch[2].string(in: doc),
                  tables.contains("\(schema).\(table)") else { return nil }
        }
        if let commitTimes {
            guard let t = scratch[5].int64(in: doc), commitTimes.contains(t) else { return nil }
        }
        if let rowFilter, !rowFilter.matches(scratch[filterBase...], in: doc) { return nil }
        guard let columns else { return Array(doc) }
        // Rewrite `before` (index 3) and `after` (index 4) objects, in document order.
        var spans: [(scalar: JSONScalar, first: Int)] = []
        if scratch[3].kind == .object { spans.append((scratch[3], columnBase + columns.count)) }
        if scratch[4].kind == .object { spans.append((scratch[4], columnBase)) }
        spans.sort { $0.scalar.start < $1.scalar.start }
        var out: [UInt8] = []
        out.reserveCapacity(doc.count)
        var cursor = 0
        for (object, first) in spans {
            out.append(contentsOf: doc[cursor..<object.start])
            out.append(UInt8(ascii: "{"))
            var wrote = false
            for (i, c) in columns.enumerated() {
                let v = scratch[first + i]
                if v.isMissing { continue }
                if wrote { out.append(UInt8(ascii: ",")) }
                wrote = true
                out.append(UInt8(ascii: "\""))
                out.append(contentsOf: c.utf8)
                out.append(contentsOf: "\":".utf8)
                if v.kind == .string { out.append(UInt8(ascii: "\"")) }
                out.append(contentsOf: v.rawBytes(in: doc))
                if v.kind == .string { out.append(UInt8(ascii: "\"")) }
            }
            out.append(UInt8(ascii: "}"))
            cursor = object.end
        }
        out.append(contentsOf: doc[cursor...])
        return out
    }
}

/// The consumer job's decoder: a source record → the selected (projected) event with the source
/// record's key (the row's primary key, so the derived topic keeps per-key order and partitioning),
/// or nothing.
struct SelectedChanges: LineDecoder {
    /// A selected change: the source message's key (nil if it had none) and the event to publish.
    struct Change: Sendable {
        var key: [UInt8]?
        var value: [UInt8]
    }
    let selector: ChangeSelector
    var scratch: [JSONScalar] = []

    init(_ selector: ChangeSelector) { self.selector = selector }

    mutating func decode(_ line: UnsafeRawBufferPointer) throws -> Change {
        try decodeIfRelevant(line, key: nil) ?? Change(key: nil, value: [])
    }

    mutating func decodeIfRelevant(_ line: UnsafeRawBufferPointer) throws -> Change? {
        try decodeIfRelevant(line, key: nil)
    }

    mutating func decodeIfRelevant(_ value: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer?) throws -> Change? {
        guard let selected = try selector.select(value, scratch: &scratch) else { return nil }
        return Change(key: key.map { Array($0) }, value: selected)
    }
}
