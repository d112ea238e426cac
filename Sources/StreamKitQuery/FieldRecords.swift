public import StreamKit
public import StreamKitJSON
public import Glibc

/// A key read from a JSON field: an integer or a string.
public enum FieldKey: StreamKey, CustomStringConvertible {
    case int(Int64)
    case string(String)
    @inlinable public static func == (a: FieldKey, b: FieldKey) -> Bool {
        switch (a, b) {
        case let (.int(x), .int(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        default: return false
        }
    }
    @inlinable public func hash(into h: inout Hasher) {
        switch self { case let .int(v): h.combine(v); case let .string(s): h.combine(1 as UInt8); h.combine(s) }
    }
    @inlinable public var stableHash: UInt64 {
        switch self {
        case let .int(v): return v.stableHash
        case let .string(s): return s.stableHash
        }
    }
    public var description: String {
        switch self { case let .int(v): return String(v); case let .string(s): return s }
    }
    @inlinable public func encode(to w: inout ByteWriter) {
        switch self {
        case let .int(v): w.writeUInt8(0); w.writeVarInt(v)
        case let .string(s): w.writeUInt8(1); w.writeString(s)
        }
    }
    @inlinable public init(from r: inout ByteReader) throws {
        switch try r.readUInt8() {
        case 0: self = .int(try r.readVarInt())
        case 1: self = .string(try r.readString())
        case let t: throw StreamKitError(.state, "bad FieldKey tag \(t)")
        }
    }
    /// Writes the key as a JSON value (number or string).
    @inlinable public func write(to w: inout JSONWriter) {
        switch self { case let .int(v): w.value(v); case let .string(s): w.value(s) }
    }
}

/// A key type an ad-hoc aggregation can read from a JSON field.
public protocol FieldKeyType: StreamKey {
    /// Reads the key; nil when it is JSON null (the record is skipped); throws when it has the wrong type.
    static func read(_ s: JSONScalar, in line: UnsafeRawBufferPointer, path: String) throws -> Self?
    /// Writes the key as a JSON value.
    func write(to w: inout JSONWriter)
    /// The key as a ``FieldKey``.
    var fieldKey: FieldKey { get }
    /// A placeholder for skipped records.
    static var placeholder: Self { get }
}

extension Int64: FieldKeyType {
    @inlinable public static func read(_ s: JSONScalar, in line: UnsafeRawBufferPointer, path: String) throws -> Int64? {
        switch s.kind {
        case .number:
            guard let v = s.int64(in: line) else { throw StreamKitError(.malformedInput, "key \(path) is not an integer") }
            return v
        case .null: return nil
        case .string: throw StreamKitError(.malformedInput, "key \(path) is a string but the job reads integer keys (use --key-type string)")
        default: throw StreamKitError(.malformedInput, s.isMissing ? "key \(path) is missing" : "key \(path) is not a number")
        }
    }
    @inlinable public func write(to w: inout JSONWriter) { w.value(self) }
    @inlinable public var fieldKey: FieldKey { .int(self) }
    @inlinable public static var placeholder: Int64 { 0 }
}

extension FieldKey: FieldKeyType {
    @inlinable public static func read(_ k: JSONScalar, in line: UnsafeRawBufferPointer, path: String) throws -> FieldKey? {
        switch k.kind {
        case .number:
            guard let v = k.int64(in: line) else { throw StreamKitError(.malformedInput, "key \(path) is not an integer") }
            return .int(v)
        case .string: return .string(k.string(in: line) ?? "")
        case .null: return nil
        default: throw StreamKitError(.malformedInput, k.isMissing ? "key \(path) is missing" : "key \(path) is not a number or string")
        }
    }
    @inlinable public var fieldKey: FieldKey { self }
    @inlinable public static var placeholder: FieldKey { .int(0) }
}

/// One input record of an ad-hoc windowed aggregation: key, event time and up to four numbers
/// read by dotted paths (`after.user_id`, `after.ts_ms`, `after.amount`). NaN marks a missing number.
public struct FieldRecord<Key: FieldKeyType>: Sendable {
    public enum Kind: UInt8, Sendable { case row, skipped }
    public var kind: Kind
    public var key: Key
    public var time: EventTime
    public var v0: Double, v1: Double, v2: Double, v3: Double
    @inlinable public init(kind: Kind, key: Key, time: EventTime, v0: Double = .nan, v1: Double = .nan, v2: Double = .nan, v3: Double = .nan) {
        self.kind = kind; self.key = key; self.time = time; self.v0 = v0; self.v1 = v1; self.v2 = v2; self.v3 = v3
    }
    @inlinable public func value(_ i: Int) -> Double {
        switch i { case 0: return v0; case 1: return v1; case 2: return v2; default: return v3 }
    }
}

/// Decodes NDJSON lines — Debezium envelopes or plain rows — into ``FieldRecord``s with one scan
/// per line. Debezium deletes and truncates (`op` `d`/`t`), tombstones (`null` lines) and rows
/// whose key path is null are `skipped`; a line that is not valid JSON, or whose key or time is
/// missing or of the wrong type, throws (the source sends it to the dead letters).
public struct FieldRecordDecoder<Key: FieldKeyType>: LineDecoder {
    public static var maxValueFields: Int { 4 }
    @usableFromInline let extractor: JSONFieldExtractor
    @usableFromInline let valueCount: Int
    @usableFromInline let keyPath: String
    @usableFromInline let timePath: String
    @usableFromInline var scratch: [JSONScalar]
    /// Shapes of recent lines (see ``JSONShapeCache``): same results, faster extraction.
    @usableFromInline var shapes = JSONShapeCache()

    /// `valuePaths`: at most ``maxValueFields`` distinct numeric fields.
    public init(keyPath: String, timePath: String, valuePaths: [String]) throws {
        guard valuePaths.count <= Self.maxValueFields else {
            throw StreamKitError(.configuration, "at most \(Self.maxValueFields) distinct value fields are supported, got \(valuePaths.count)")
        }
        self.keyPath = keyPath; self.timePath = timePath
        valueCount = valuePaths.count
        extractor = JSONFieldExtractor([keyPath, timePath, "op"] + valuePaths)
        scratch = Array(repeating: .missing, count: 3 + valuePaths.count)
    }

    /// Skipped records (deletes, truncates, tombstones, null keys) are not emitted at all.
    @inlinable
    public mutating func decodeIfRelevant(_ line: UnsafeRawBufferPointer) throws -> FieldRecord<Key>? {
        let r = try decode(line)
        return r.kind == .row ? r : nil
    }

    @inlinable
    public mutating func decode(_ line: UnsafeRawBufferPointer) throws -> FieldRecord<Key> {
        if line.count == 4 && line.elementsEqual("null".utf8) {
            return FieldRecord(kind: .skipped, key: .placeholder, time: 0)   // Kafka-style tombstone
        }
        try extractor.extract(line, into: &scratch, shapes: &shapes)
        let op = scratch[2]
        if op.kind == .string && (op.equals("d", in: line) || op.equals("t", in: line)) {
            return FieldRecord(kind: .skipped, key: .placeholder, time: 0)
        }
        guard let key = try Key.read(scratch[0], in: line, path: keyPath) else {
            return FieldRecord(kind: .skipped, key: .placeholder, time: 0)
        }
        let t = scratch[1]
        guard t.kind == .number, let time = t.int64(in: line) else {
            throw StreamKitError(.malformedInput, t.isMissing ? "time \(timePath) is missing" : "time \(timePath) is not an integer (ms)")
        }
        var r = FieldRecord(kind: .row, key: key, time: time)
        if valueCount > 0 { r.v0 = number(scratch[3], line) }
        if valueCount > 1 { r.v1 = number(scratch[4], line) }
        if valueCount > 2 { r.v2 = number(scratch[5], line) }
        if valueCount > 3 { r.v3 = number(scratch[6], line) }
        return r
    }

    @inlinable func number(_ s: JSONScalar, _ line: UnsafeRawBufferPointer) -> Double {
        s.kind == .number ? (s.double(in: line) ?? .nan) : .nan
    }
}

/// Statistics of one numeric field inside a window.
public struct FieldStats: Sendable, StateCodable {
    public var sum: Double = 0
    public var min: Double = .infinity
    public var max: Double = -.infinity
    public var count: Int64 = 0
    @inlinable public init() {}
    @inlinable public mutating func add(_ v: Double) {
        if v.isNaN { return }
        sum += v; count &+= 1
        if v < min { min = v }
        if v > max { max = v }
    }
    @inlinable public mutating func merge(_ o: FieldStats) {
        sum += o.sum; count &+= o.count
        if o.min < min { min = o.min }
        if o.max > max { max = o.max }
    }
    @inlinable public func encode(to w: inout ByteWriter) { w.writeDouble(sum); w.writeDouble(min); w.writeDouble(max); w.writeVarInt(count) }
    @inlinable public init(from r: inout ByteReader) throws {
        sum = try r.readDouble(); min = try r.readDouble(); max = try r.readDouble(); count = try r.readVarInt()
    }
}

/// Per-field statistics of 1, 2 or 4 numeric fields, stored inline (sized to the query, so
/// window state stays small).
public protocol FieldStatsBlock: Sendable, StateCodable {
    static var fieldCount: Int { get }
    init()
    mutating func add<K>(_ r: FieldRecord<K>)
    mutating func merge(_ o: Self)
    func stats(_ i: Int) -> FieldStats
}

public struct FieldStats1: FieldStatsBlock {
    public var f0 = FieldStats()
    @inlinable public static var fieldCount: Int { 1 }
    @inlinable public init() {}
    @inlinable public mutating func add<K>(_ r: FieldRecord<K>) { f0.add(r.v0) }
    @inlinable public mutating func merge(_ o: Self) { f0.merge(o.f0) }
    @inlinable public func stats(_ i: Int) -> FieldStats { f0 }
    @inlinable public func encode(to w: inout ByteWriter) { f0.encode(to: &w) }
    @inlinable public init(from r: inout ByteReader) throws { f0 = try FieldStats(from: &r) }
}

public struct FieldStats2: FieldStatsBlock {
    public var f0 = FieldStats(), f1 = FieldStats()
    @inlinable public static var fieldCount: Int { 2 }
    @inlinable public init() {}
    @inlinable public mutating func add<K>(_ r: FieldRecord<K>) { f0.add(r.v0); f1.add(r.v1) }
    @inlinable public mutating func merge(_ o: Self) { f0.merge(o.f0); f1.merge(o.f1) }
    @inlinable public func stats(_ i: Int) -> FieldStats { i == 0 ? f0 : f1 }
    @inlinable public func encode(to w: inout ByteWriter) { f0.encode(to: &w); f1.encode(to: &w) }
    @inlinable public init(from r: inout ByteReader) throws { f0 = try FieldStats(from: &r); f1 = try FieldStats(from: &r) }
}

public struct FieldStats4: FieldStatsBlock {
    public var f0 = FieldStats(), f1 = FieldStats(), f2 = FieldStats(), f3 = FieldStats()
    @inlinable public static var fieldCount: Int { 4 }
    @inlinable public init() {}
    @inlinable public mutating func add<K>(_ r: FieldRecord<K>) { f0.add(r.v0); f1.add(r.v1); f2.add(r.v2); f3.add(r.v3) }
    @inlinable public mutating func merge(_ o: Self) { f0.merge(o.f0); f1.merge(o.f1); f2.merge(o.f2); f3.merge(o.f3) }
    @inlinable public func stats(_ i: Int) -> FieldStats {
        switch i { case 0: return f0; case 1: return f1; case 2: return f2; default: return f3 }
    }
    @inlinable public func encode(to w: inout ByteWriter) { f0.encode(to: &w); f1.encode(to: &w); f2.encode(to: &w); f3.encode(to: &w) }
    @inlinable public init(from r: inout ByteReader) throws {
        f0 = try FieldStats(from: &r); f1 = try FieldStats(from: &r); f2 = try FieldStats(from: &r); f3 = try FieldStats(from: &r)
    }
}

/// Accumulator of ``FieldAggregate``: the record count and per-field statistics (no allocation).
public struct FieldAccumulator<Block: FieldStatsBlock>: Sendable, StateCodable {
    public var count: Int64 = 0
    public var block = Block()
    @inlinable public init() {}
    @inlinable public func field(_ i: Int) -> FieldStats { block.stats(i) }
    @inlinable public func encode(to w: inout ByteWriter) { w.writeVarInt(count); block.encode(to: &w) }
    @inlinable public init(from r: inout ByteReader) throws { count = try r.readVarInt(); block = try Block(from: &r) }
}

/// count / sum / avg / min / max over the numeric fields of ``FieldRecord``s, all at once.
public struct FieldAggregate<Key: FieldKeyType, Block: FieldStatsBlock>: AggregateFunction {
    @inlinable public init() {}
    @inlinable public func makeAccumulator() -> FieldAccumulator<Block> { FieldAccumulator() }
    @inlinable public func add(_ r: FieldRecord<Key>, to a: inout FieldAccumulator<Block>) { a.count &+= 1; a.block.add(r) }
    @inlinable public func merge(_ o: FieldAccumulator<Block>, into a: inout FieldAccumulator<Block>) {
        a.count &+= o.count; a.block.merge(o.block)
    }
    @inlinable public func result(_ a: FieldAccumulator<Block>) -> FieldAccumulator<Block> { a }
}

/// One output row of an ad-hoc aggregation, in column order (nil: no numbers to aggregate).
public struct WindowRow: Sendable, Hashable {
    public var key: FieldKey
    public var windowStart: EventTime
    public var windowEnd: EventTime
    public var values: [Double?]
}

/// One requested output column of an ad-hoc aggregation (`count`, `sum:after.amount`, ...).
public struct AggregateColumn: Sendable, Hashable {
    public enum Function: String, Sendable, CaseIterable { case count, sum, avg, min, max }
    public var function: Function
    /// The dotted path of the field (nil for count).
    public var path: String?
    /// The JSON field name in output rows.
    public var name: String
    /// Index of the field among the distinct value paths.
    public var fieldIndex: Int

    /// Parses `count,sum:after.amount,avg:after.amount,max:after.amount`; returns the columns and
    /// the distinct value paths they read.
    public static func parseList(_ text: String) throws -> (columns: [AggregateColumn], valuePaths: [String]) {
        var columns: [AggregateColumn] = []
        var paths: [String] = []
        let items = text.split(separator: ",").map(String.init)
        guard !items.isEmpty else { throw StreamKitError(.configuration, "--agg needs at least one aggregate") }
        var functionUses: [Function: Int] = [:]
        var parsed: [(Function, String?)] = []
        for item in items {
            let parts = item.split(separator: ":", maxSplits: 1).map(String.init)
            guard let f = Function(rawValue: parts[0]) else {
                throw StreamKitError(.configuration, "unknown aggregate '\(parts[0])': use count, sum:PATH, avg:PATH, min:PATH, max:PATH")
            }
            if f == .count {
                guard parts.count == 1 else { throw StreamKitError(.configuration, "count takes no field") }
                parsed.append((f, nil))
            } else {
                guard parts.count == 2, !parts[1].isEmpty else { throw StreamKitError(.configuration, "\(f.rawValue) needs a field: \(f.rawValue):PATH") }
                parsed.append((f, parts[1]))
                if !paths.contains(parts[1]) { paths.append(parts[1]) }
            }
            functionUses[f, default: 0] += 1
        }
        for (f, path) in parsed {
            var name = f.rawValue
            if let path, functionUses[f]! > 1 { name += "_" + path.replacingOccurrences(of: ".", with: "_") }
            columns.append(AggregateColumn(function: f, path: path, name: name, fieldIndex: path.flatMap { paths.firstIndex(of: $0) } ?? -1))
        }
        if paths.count > FieldRecordDecoder<Int64>.maxValueFields {
            throw StreamKitError(.configuration, "at most \(FieldRecordDecoder<Int64>.maxValueFields) distinct value fields are supported")
        }
        return (columns, paths)
    }

    /// The column's value for an accumulator (nil for an aggregate over no numbers: written as null).
    @inlinable public func value<B>(of a: FieldAccumulator<B>) -> Double? {
        switch function {
        case .count: return Double(a.count)
        case .sum: let s = a.field(fieldIndex); return s.count == 0 ? nil : s.sum
        case .avg: let s = a.field(fieldIndex); return s.count == 0 ? nil : s.sum / Double(s.count)
        case .min: let s = a.field(fieldIndex); return s.count == 0 ? nil : s.min
        case .max: let s = a.field(fieldIndex); return s.count == 0 ? nil : s.max
        }
    }

    /// Writes one output row: `{"key":…,"window_start":…,"window_end":…,<columns>}`.
    @inlinable
    public static func writeRow<K: FieldKeyType, B>(_ r: WindowResult<K, FieldAccumulator<B>>, columns: [AggregateColumn], to w: inout JSONWriter) {
        w.beginObject()
        w.key("key"); r.key.write(to: &w)
        if r.windowStart != .min { w.key("window_start"); w.value(r.windowStart) }
        if r.windowEnd != .max { w.key("window_end"); w.value(r.windowEnd) }
        for c in columns {
            w.key(c.name)
            if c.function == .count { w.value(r.value.count) }
            else if let v = c.value(of: r.value) { w.value(v) } else { w.null() }
        }
        w.endObject()
    }
}

