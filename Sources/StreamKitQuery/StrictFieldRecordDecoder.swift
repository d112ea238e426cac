public import StreamKit
public import StreamKitJSON

/// What ``StrictFieldRecordDecoder`` checks beyond JSON syntax.
public struct FieldRecordValidation: Sendable {
    /// Require a Debezium `op` (`c`, `u`, `r` are rows; `d`, `t` are skipped); anything else is
    /// dead-lettered as `unknown_op`. false: a missing `op` reads the document as a plain row.
    /// Default: true.
    public var requireOperation = true
    /// Event times further than this ahead of the processing time are dead-lettered as
    /// `future_timestamp` (so one bad clock cannot advance the watermark and make every other
    /// record late). nil: no check. Default: 1 hour.
    public var maxFutureSkew: Duration? = .hours(1)
    /// Dotted paths whose values together identify an event (e.g. `source.lsn` for PostgreSQL,
    /// `source.file`, `source.pos`, `source.row` for MySQL, or a business id). A row whose identity
    /// is among the last ``identityCapacity`` identities of this reader is dead-lettered as
    /// `duplicate`; a row without an identity is not deduplicated. Empty: no deduplication. Default: empty.
    public var identityPaths: [String] = []
    /// How many recent identities each reader remembers (bounded memory, FIFO; checkpointed). Default: 100,000.
    public var identityCapacity = 100_000
    /// Processing time in ms (tests replace it). Read only when an event time looks too far ahead.
    public var clock: @Sendable () -> Int64 = { WallClock.millis() }
    public init() {}
}

/// ``FieldRecordDecoder`` for pipelines that must not silently aggregate bad input: every row
/// that cannot be read exactly is thrown with a dead-letter code (the source sends it to the
/// dead letters) instead of being read as NaN or skipped:
///
/// | input | code |
/// |---|---|
/// | not JSON | `malformed_json` |
/// | `op` missing or not `c`/`u`/`r`/`d`/`t` | `unknown_op` |
/// | key, time or a value path absent (a dropped column) | `missing_field` |
/// | key null in a `c`/`u`/`r` row | `null_key` |
/// | key, time or value of the wrong JSON type (`"amount": "x"`) | `wrong_type` |
/// | time beyond ``FieldRecordValidation/maxFutureSkew`` | `future_timestamp` |
/// | identity seen recently (``FieldRecordValidation/identityPaths``) | `duplicate` |
///
/// Extra fields (a new column) are ignored; a value that is JSON `null` (SQL NULL) reads as a
/// missing number (NaN, not aggregated). Deletes, truncates and tombstones (`null`) are skipped.
/// Good rows cost what ``FieldRecordDecoder`` costs: one scan, no allocation; the clock is read
/// only when an event time is ahead of the last clock reading plus the skew.
public struct StrictFieldRecordDecoder<Key: FieldKeyType>: CheckpointedLineDecoder {
    @usableFromInline let extractor: JSONFieldExtractor
    @usableFromInline let valueCount: Int
    @usableFromInline let paths: [String]
    @usableFromInline let identityStart: Int
    @usableFromInline let identityCount: Int
    @usableFromInline let requireOperation: Bool
    @usableFromInline let maxSkewMillis: Int64
    @usableFromInline let clock: @Sendable () -> Int64
    @usableFromInline var clockMillis: Int64
    @usableFromInline var scratch: [JSONScalar]
    /// Shapes of recent lines (see ``JSONShapeCache``): same results, faster extraction.
    @usableFromInline var shapes = JSONShapeCache()
    @usableFromInline var recent: RecentIdentities?

    /// `valuePaths`: at most ``FieldRecordDecoder/maxValueFields`` required numeric fields.
    public init(keyPath: String, timePath: String, valuePaths: [String], validation: FieldRecordValidation = FieldRecordValidation()) throws {
        guard valuePaths.count <= FieldRecordDecoder<Key>.maxValueFields else {
            throw StreamKitError(.configuration, "at most \(FieldRecordDecoder<Key>.maxValueFields) distinct value fields are supported, got \(valuePaths.count)")
        }
        valueCount = valuePaths.count
        paths = [keyPath, timePath, "op"] + valuePaths + validation.identityPaths
        identityStart = 3 + valuePaths.count
        identityCount = validation.identityPaths.count
        extractor = JSONFieldExtractor(paths)
        scratch = Array(repeating: .missing, count: paths.count)
        requireOperation = validation.requireOperation
        maxSkewMillis = validation.maxFutureSkew.map { $0.milliseconds } ?? Int64.max
        clock = validation.clock
        clockMillis = validation.clock()
        recent = validation.identityPaths.isEmpty ? nil : RecentIdentities(capacity: validation.identityCapacity)
    }

    /// Skipped records (deletes, truncates, tombstones) are not emitted.
    @inlinable
    public mutating func decodeIfRelevant(_ line: UnsafeRawBufferPointer) throws -> FieldRecord<Key>? {
        let r = try decode(line)
        return r.kind == .row ? r : nil
    }

    @inlinable
    public mutating func decode(_ line: UnsafeRawBufferPointer) throws -> FieldRecord<Key> {
        if line.count == 0 || (line.count == 4 && line.elementsEqual("null".utf8)) {
            return FieldRecord(kind: .skipped, key: .placeholder, time: 0)   // a tombstone (null Kafka value or `null`)
        }
        do { try extractor.extract(line, into: &scratch, shapes: &shapes) } catch { throw StreamKitError(.malformedJSON, error.message) }
        let op = scratch[2]
        if op.kind == .string && op.byteCount == 1 && !op.hasEscapes {
            switch line[op.start] {
            case UInt8(ascii: "c"), UInt8(ascii: "u"), UInt8(ascii: "r"): break   // a row
            case UInt8(ascii: "d"), UInt8(ascii: "t"): return FieldRecord(kind: .skipped, key: .placeholder, time: 0)
            default: throw operationError(op, line)
            }
        } else if op.kind != .missing || requireOperation {
            throw operationError(op, line)
        }
        let k = scratch[0]
        if k.kind == .null { throw StreamKitError(.nullKey, "key \(paths[0]) is null") }
        if k.kind == .missing { throw StreamKitError(.missingField, "key \(paths[0]) is missing") }
        let key: Key
        do { key = try Key.read(k, in: line, path: paths[0])! } catch { throw StreamKitError(.wrongType, (error as? StreamKitError)?.message ?? "\(error)") }
        let t = scratch[1]
        guard t.kind == .number, let time = t.int64(in: line) else {
            throw t.kind == .missing ? StreamKitError(.missingField, "time \(paths[1]) is missing")
                                     : StreamKitError(.wrongType, "time \(paths[1]) is not an integer (ms): \(Self.shown(t, line))")
        }
        if time > clockMillis && time - clockMillis > maxSkewMillis {   // (no overflow: both sides positive differences)
            clockMillis = clock()
            if time > clockMillis && time - clockMillis > maxSkewMillis {
                throw StreamKitError(.futureTimestamp, "time \(paths[1]) = \(time) is \(time - clockMillis) ms ahead of the processing time \(clockMillis) (max skew \(maxSkewMillis) ms)")
            }
        }
        var r = FieldRecord(kind: .row, key: key, time: time)
        if valueCount > 0 { r.v0 = try number(3, line) }
        if valueCount > 1 { r.v1 = try number(4, line) }
        if valueCount > 2 { r.v2 = try number(5, line) }
        if valueCount > 3 { r.v3 = try number(6, line) }
        if recent != nil, let id = identity(line), !recent!.insert(id) {
            throw StreamKitError(.duplicate, "event \(identityText(line)) was already read")
        }
        return r
    }

    @inlinable func number(_ i: Int, _ line: UnsafeRawBufferPointer) throws -> Double {
        let s = scratch[i]
        switch s.kind {
        case .number: if let v = s.double(in: line) { return v }
        case .null: return .nan   // SQL NULL: not aggregated
        case .missing: throw StreamKitError(.missingField, "\(paths[i]) is missing")
        default: break
        }
        throw StreamKitError(.wrongType, "\(paths[i]) is not a number: \(Self.shown(s, line))")
    }

    /// The identity hash of the row, nil when every identity path is absent or null.
    @inlinable func identity(_ line: UnsafeRawBufferPointer) -> UInt64? {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        var found = false
        for i in identityStart..<(identityStart + identityCount) {
            let s = scratch[i]
            if s.isMissingOrNull { h = RecentIdentities.hash(UnsafeRawBufferPointer(start: nil, count: 0), seed: h ^ 0xff); continue }
            found = true
            h = RecentIdentities.hash(s.rawBytes(in: line), seed: h ^ UInt64(s.kind.rawValue))
        }
        return found ? h : nil
    }

    @usableFromInline func identityText(_ line: UnsafeRawBufferPointer) -> String {
        (identityStart..<(identityStart + identityCount)).map { "\(paths[$0])=\(Self.shown(scratch[$0], line))" }.joined(separator: ", ")
    }

    @usableFromInline func operationError(_ op: JSONScalar, _ line: UnsafeRawBufferPointer) -> StreamKitError {
        op.kind == .missing ? StreamKitError(.unknownOperation, "op is missing")
                            : StreamKitError(.unknownOperation, "op \(Self.shown(op, line)) is not one of c, u, r, d, t")
    }

    /// A value for an error message (at most 64 bytes).
    @usableFromInline static func shown(_ s: JSONScalar, _ line: UnsafeRawBufferPointer) -> String {
        if s.kind == .missing { return "missing" }
        let bytes = s.rawBytes(in: line)
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<Swift.min(bytes.count, 64)]), as: UTF8.self)
        let quoted = s.kind == .string && !text.hasPrefix("\"") ? "\"\(text)\"" : text
        return bytes.count > 64 ? quoted + "…" : quoted
    }

    public func snapshotState(into writer: inout ByteWriter) {
        writer.writeVarUInt(1)   // format version
        if let recent { writer.writeBool(true); recent.encode(to: &writer) } else { writer.writeBool(false) }
    }

    public mutating func restoreState(from reader: inout ByteReader) throws {
        guard try reader.readVarUInt() == 1 else { throw StreamKitError(.checkpoint, "unknown StrictFieldRecordDecoder state format") }
        if try reader.readBool() {
            var restored = RecentIdentities(capacity: recent?.capacity ?? 1)
            try restored.restore(from: &reader)
            if recent != nil { recent = restored }
        }
    }
}
