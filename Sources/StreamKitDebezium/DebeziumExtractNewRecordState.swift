public import StreamKit
public import StreamKitJSON

/// Flattens Debezium change events to plain rows, like Debezium's `ExtractNewRecordState` SMT.
///
/// - `c`, `r` and `u` events become their after-image.
/// - `d` events follow `deleteHandling`: dropped, turned into a tombstone, or rewritten to the
///   before-image flagged as deleted (in JSON: `"__deleted":"true"`; with `.rewrite` every other
///   row carries `"__deleted":"false"`, as in Debezium).
/// - Incoming tombstones are dropped unless `dropTombstones` is `false`.
/// - `t` (truncate) events have no row and are always dropped.
/// - Optional filters keep only some tables (`"table"` or `"schema.table"`) and operations.
/// - `droppedColumns` are removed from JSON output; so are columns holding the unavailable-value
///   placeholder when `dropsUnavailableColumns` is set, so a downstream upsert never overwrites a
///   real value with it.
///
/// Use `apply(_:)` on a typed `DebeziumRecord`, or `apply(json:using:into:)` to turn a raw message
/// value straight into a flattened JSON row.
public struct ExtractNewRecordState: Sendable {
    /// What happens to delete events.
    public enum DeleteHandling: Sendable, Hashable {
        /// Deletes produce nothing.
        case drop
        /// Deletes produce a tombstone (Debezium's default).
        case tombstone
        /// Deletes produce the before-image flagged as deleted.
        case rewrite
    }

    /// The result of flattening a typed record.
    public enum Output<Row> {
        /// A row: the after-image, or for rewritten deletes the before-image with `deleted == true`.
        /// `unavailableColumns` lists the row's placeholder columns (keep their previous values).
        case row(Row, deleted: Bool, unavailableColumns: [String])
        /// A tombstone.
        case tombstone
    }

    /// The result of flattening a JSON message.
    public enum JSONOutcome: Sendable, Hashable {
        /// One JSON object was appended to the writer.
        case row(deleted: Bool)
        /// The result is a tombstone; nothing was written.
        case tombstone
        /// The event was filtered out; nothing was written.
        case dropped
    }

    /// Delete handling; default `.tombstone`.
    public var deleteHandling: DeleteHandling
    /// Whether incoming tombstones are dropped (default) or passed through.
    public var dropTombstones: Bool
    /// If set, only events of these tables pass (`"table"` or `"schema.table"`).
    public var tables: Set<String>?
    /// If set, only events with these operations pass.
    public var operations: Set<DebeziumOperation>?
    /// Columns removed from JSON output.
    public var droppedColumns: Set<String> {
        didSet { droppedColumnBytes = droppedColumns.map { Array($0.utf8) } }
    }
    /// Whether JSON output omits columns holding the unavailable-value placeholder. Default `true`.
    public var dropsUnavailableColumns: Bool
    private var droppedColumnBytes: [[UInt8]]

    /// Creates the transform.
    public init(deleteHandling: DeleteHandling = .tombstone, dropTombstones: Bool = true,
                tables: Set<String>? = nil, operations: Set<DebeziumOperation>? = nil,
                droppedColumns: Set<String> = [], dropsUnavailableColumns: Bool = true) {
        self.deleteHandling = deleteHandling
        self.dropTombstones = dropTombstones
        self.tables = tables
        self.operations = operations
        self.droppedColumns = droppedColumns
        self.dropsUnavailableColumns = dropsUnavailableColumns
        self.droppedColumnBytes = droppedColumns.map { Array($0.utf8) }
    }

    /// Whether an event of `table` (in `schema`) with operation `op` passes the filters.
    public func accepts(op: DebeziumOperation, schema: String?, table: String?) -> Bool {
        if let operations, !operations.contains(op) { return false }
        if let tables {
            guard let table else { return false }
            if tables.contains(table) { return true }
            if let schema, tables.contains("\(schema).\(table)") { return true }
            return false
        }
        return true
    }

    /// Flattens a typed record; `nil` means the record is dropped.
    public func apply<Row>(_ record: DebeziumRecord<Row>) -> Output<Row>? {
        guard case .change(let event) = record else { return dropTombstones ? nil : .tombstone }
        guard accepts(op: event.op, schema: event.source.schema, table: event.source.table) else { return nil }
        switch event.op {
        case .create, .read, .update:
            guard let after = event.after else { return nil }
            return .row(after, deleted: false, unavailableColumns: event.unavailableColumns.after)
        case .delete:
            switch deleteHandling {
            case .drop: return nil
            case .tombstone: return .tombstone
            case .rewrite:
                guard let before = event.before else { return .tombstone }
                return .row(before, deleted: true, unavailableColumns: event.unavailableColumns.before)
            }
        case .truncate:
            return nil
        }
    }

    /// Flattens a raw Debezium message value (bare or schema/payload-wrapped; empty or null is a
    /// tombstone) and appends the resulting row object to `writer` (no newline).
    /// Member values are copied verbatim from the input. `decoder` provides reusable scratch
    /// buffers.
    /// - Throws: `StreamKitError` with code `malformed_json` for malformed JSON, `unknown_op` for a
    ///   missing or unknown `op`, `missing_field` for a `c`/`r`/`u` event without `after`,
    ///   `malformed_input` for another invalid envelope.
    public func apply(json value: UnsafeRawBufferPointer, using decoder: FastJSONDecoder,
                      into writer: inout JSONWriter) throws(StreamKitError) -> JSONOutcome {
        if _jsonIsBlank(value) { return dropTombstones ? .dropped : .tombstone }
        do { try decoder.load(value) } catch { throw StreamKitError(.malformedJSON, error.message) }
        defer { decoder.unload() }
        let state = decoder.state
        guard let envelope = try _locateDebeziumEnvelope(state) else { return dropTombstones ? .dropped : .tombstone }

        func member(_ object: Int, _ name: StaticString) -> Int {
            guard object >= 0, state.tape[object].kind == .object else { return -1 }
            return name.withUTF8Buffer { state.findMember(object: object, depth: 0, key: $0) }
        }
        func text(_ index: Int) -> String? {
            guard index >= 0, state.tape[index].kind == .string else { return nil }
            let e = state.tape[index]
            return _jsonMakeString(state.base + Int(e.start), Int(e.end &- e.start), hasEscapes: e.hasEscapes)
        }

        let opIndex = member(envelope, "op")
        guard opIndex >= 0 else { throw StreamKitError(.unknownOperation, "invalid Debezium message: missing key at op") }
        guard let code = text(opIndex), let op = DebeziumOperation(rawValue: code) else {
            let shown = text(opIndex).map { "'\($0)'" } ?? state.kindName(opIndex)
            throw StreamKitError(.unknownOperation, "invalid Debezium message: unknown Debezium operation \(shown) at op")
        }
        let source = member(envelope, "source")
        guard source >= 0, state.tape[source].kind == .object else {
            throw StreamKitError(.malformedInput, "invalid Debezium message: missing or invalid source")
        }
        if tables != nil || operations != nil {
            guard accepts(op: op, schema: text(member(source, "schema")), table: text(member(source, "table"))) else {
                return .dropped
            }
        }
        let image: Int
        let deleted: Bool
        switch op {
        case .create, .read, .update:
            image = member(envelope, "after")
            deleted = false
            guard image >= 0, state.tape[image].kind == .object else {
                throw StreamKitError(.missingField, "invalid Debezium message: op '\(code)' requires a non-null 'after' image")
            }
        case .delete:
            switch deleteHandling {
            case .drop: return .dropped
            case .tombstone: return .tombstone
            case .rewrite:
                image = member(envelope, "before")
                deleted = true
                guard image >= 0, state.tape[image].kind == .object else { return .tombstone }
            }
        case .truncate:
            return .dropped
        }
        writeRow(state, image: image, deleted: deleted, into: &writer)
        return .row(deleted: deleted)
    }

    private func writeRow(_ state: _TapeDecoder, image: Int, deleted: Bool, into writer: inout JSONWriter) {
        writer.beginObject()
        var m = image + 1
        let end = Int(state.tape[image].next)
        while m < end {
            let key = state.tape[m]
            let value = state.tape[m + 1]
            let next = Int(value.next)
            defer { m = next }
            let keyBytes = UnsafeRawBufferPointer(start: state.base + Int(key.start), count: Int(key.end &- key.start))
            if !droppedColumnBytes.isEmpty, !key.hasEscapes,
               droppedColumnBytes.contains(where: { $0.elementsEqual(keyBytes) }) {
                continue
            }
            if !droppedColumnBytes.isEmpty, key.hasEscapes,
               droppedColumns.contains(_jsonMakeString(state.base + Int(key.start), Int(key.end &- key.start), hasEscapes: true)) {
                continue
            }
            if dropsUnavailableColumns, state.isPlaceholder(m + 1) { continue }
            // Key and value are copied verbatim (already valid, already escaped JSON).
            writer.rawKey(escapedBody: keyBytes)
            let isString = value.kind == .string
            let start = Int(value.start) - (isString ? 1 : 0)
            let stop = Int(value.end) + (isString ? 1 : 0)
            writer.rawValue(UnsafeRawBufferPointer(start: state.base + start, count: stop - start))
        }
        if deleteHandling == .rewrite {
            writer.key("__deleted")
            writer.value(deleted ? "true" : "false" as StaticString)
        }
        writer.endObject()
    }
}

extension JSONWriter {
    /// Writes a key whose body is already escaped JSON (without quotes).
    mutating func rawKey(escapedBody: UnsafeRawBufferPointer) {
        separator()
        bytes.append(_JSONASCII.quote)
        bytes.append(contentsOf: escapedBody)
        bytes.append(_JSONASCII.quote)
        bytes.append(_JSONASCII.colon)
        needsComma = false
    }
}
