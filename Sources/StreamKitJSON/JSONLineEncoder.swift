public import StreamKit

/// Encodes `Encodable` values as compact JSON with ``JSONWriter`` (no Foundation): keys in the
/// order `encode(to:)` writes them (synthesized conformances: declaration order), numbers as
/// ``JSONWriter`` writes them (NaN and ±infinity become `null`), `nil` from `encodeNil` as `null`
/// (synthesized conformances skip `nil` optionals, like Foundation's encoder).
///
/// Swift's `Encoder` protocol hands out containers as existential boxes, so each object or array
/// costs an allocation; ``JSONWriter`` by hand is still the fastest path for the hottest sinks.
///
/// ```swift
/// struct Row: Encodable { var user_id: Int64; var count: Int64; var avg: Double }
/// var line: [UInt8] = []
/// try JSONLineEncoder.encode(Row(user_id: 7, count: 3, avg: 2.5), appendingTo: &line)   // {"user_id":7,"count":3,"avg":2.5}
/// ```
public enum JSONLineEncoder {
    /// Appends the JSON of `value` to `bytes`.
    public static func encode<T: Encodable>(_ value: T, appendingTo bytes: inout [UInt8]) throws {
        let encoder = _JSONWriterEncoder()
        swap(&encoder.writer.bytes, &bytes)
        defer { swap(&encoder.writer.bytes, &bytes) }
        try encoder.encodeValue(value)
    }

    /// The JSON of `value`.
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128)
        try encode(value, appendingTo: &bytes)
        return bytes
    }
}

/// Writes straight into one ``JSONWriter``: containers open their `{`/`[` when asked for and are
/// closed when the value that asked for them finishes encoding (JSON is written strictly in order).
final class _JSONWriterEncoder: Encoder {
    var writer = JSONWriter(capacity: 0)
    /// Closing bytes of the containers opened so far (`}` or `]`).
    var open: [UInt8] = []
    /// `open.count` when the value being encoded started: a second container request for the same
    /// value (a superclass's `encode(to:)`) reuses the one already open.
    var depth = 0

    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func encodeValue<T: Encodable>(_ value: T) throws {
        let saved = depth
        depth = open.count
        try value.encode(to: self)
        while open.count > depth {
            let close = open.removeLast()
            if close == UInt8(ascii: "}") { writer.endObject() } else { writer.endArray() }
        }
        depth = saved
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if open.count == depth { writer.beginObject(); open.append(UInt8(ascii: "}")) }
        return KeyedEncodingContainer(_JSONKeyedContainer<Key>(encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if open.count == depth { writer.beginArray(); open.append(UInt8(ascii: "]")) }
        return _JSONUnkeyedContainer(encoder: self)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { _JSONSingleValueContainer(encoder: self) }
}

struct _JSONKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: _JSONWriterEncoder
    var codingPath: [any CodingKey] { [] }

    @inline(__always) func key(_ key: Key) { encoder.writer.key(key.stringValue) }

    mutating func encodeNil(forKey key: Key) throws { self.key(key); encoder.writer.null() }
    mutating func encode(_ value: Bool, forKey key: Key) throws { self.key(key); encoder.writer.value(value) }
    mutating func encode(_ value: String, forKey key: Key) throws { self.key(key); encoder.writer.value(value) }
    mutating func encode(_ value: Double, forKey key: Key) throws { self.key(key); encoder.writer.value(value) }
    mutating func encode(_ value: Float, forKey key: Key) throws { self.key(key); encoder.writer.value(Double(value)) }
    mutating func encode(_ value: Int, forKey key: Key) throws { self.key(key); encoder.writer.value(Int64(value)) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { self.key(key); encoder.writer.value(Int64(value)) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { self.key(key); encoder.writer.value(Int64(value)) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { self.key(key); encoder.writer.value(Int64(value)) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { self.key(key); encoder.writer.value(value) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { self.key(key); encoder.writer.value(UInt64(value)) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { self.key(key); encoder.writer.value(Int64(value)) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { self.key(key); encoder.writer.value(Int64(value)) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { self.key(key); encoder.writer.value(Int64(value)) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { self.key(key); encoder.writer.value(value) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { self.key(key); try encoder.encodeValue(value) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        self.key(key); encoder.writer.beginObject(); encoder.open.append(UInt8(ascii: "}"))
        return KeyedEncodingContainer(_JSONKeyedContainer<NestedKey>(encoder: encoder))
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        self.key(key); encoder.writer.beginArray(); encoder.open.append(UInt8(ascii: "]"))
        return _JSONUnkeyedContainer(encoder: encoder)
    }
    mutating func superEncoder() -> any Encoder { encoder }
    mutating func superEncoder(forKey key: Key) -> any Encoder { self.key(key); return encoder }
}

struct _JSONUnkeyedContainer: UnkeyedEncodingContainer {
    let encoder: _JSONWriterEncoder
    var codingPath: [any CodingKey] { [] }
    var count = 0

    mutating func encodeNil() throws { encoder.writer.null(); count += 1 }
    mutating func encode(_ value: Bool) throws { encoder.writer.value(value); count += 1 }
    mutating func encode(_ value: String) throws { encoder.writer.value(value); count += 1 }
    mutating func encode(_ value: Double) throws { encoder.writer.value(value); count += 1 }
    mutating func encode(_ value: Float) throws { encoder.writer.value(Double(value)); count += 1 }
    mutating func encode(_ value: Int) throws { encoder.writer.value(Int64(value)); count += 1 }
    mutating func encode(_ value: Int8) throws { encoder.writer.value(Int64(value)); count += 1 }
    mutating func encode(_ value: Int16) throws { encoder.writer.value(Int64(value)); count += 1 }
    mutating func encode(_ value: Int32) throws { encoder.writer.value(Int64(value)); count += 1 }
    mutating func encode(_ value: Int64) throws { encoder.writer.value(value); count += 1 }
    mutating func encode(_ value: UInt) throws { encoder.writer.value(UInt64(value)); count += 1 }
    mutating func encode(_ value: UInt8) throws { encoder.writer.value(Int64(value)); count += 1 }
    mutating func encode(_ value: UInt16) throws { encoder.writer.value(Int64(value)); count += 1 }
    mutating func encode(_ value: UInt32) throws { encoder.writer.value(Int64(value)); count += 1 }
    mutating func encode(_ value: UInt64) throws { encoder.writer.value(value); count += 1 }
    mutating func encode<T: Encodable>(_ value: T) throws { try encoder.encodeValue(value); count += 1 }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        encoder.writer.beginObject(); encoder.open.append(UInt8(ascii: "}")); count += 1
        return KeyedEncodingContainer(_JSONKeyedContainer<NestedKey>(encoder: encoder))
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        encoder.writer.beginArray(); encoder.open.append(UInt8(ascii: "]")); count += 1
        return _JSONUnkeyedContainer(encoder: encoder)
    }
    mutating func superEncoder() -> any Encoder { encoder }
}

struct _JSONSingleValueContainer: SingleValueEncodingContainer {
    let encoder: _JSONWriterEncoder
    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil() throws { encoder.writer.null() }
    mutating func encode(_ value: Bool) throws { encoder.writer.value(value) }
    mutating func encode(_ value: String) throws { encoder.writer.value(value) }
    mutating func encode(_ value: Double) throws { encoder.writer.value(value) }
    mutating func encode(_ value: Float) throws { encoder.writer.value(Double(value)) }
    mutating func encode(_ value: Int) throws { encoder.writer.value(Int64(value)) }
    mutating func encode(_ value: Int8) throws { encoder.writer.value(Int64(value)) }
    mutating func encode(_ value: Int16) throws { encoder.writer.value(Int64(value)) }
    mutating func encode(_ value: Int32) throws { encoder.writer.value(Int64(value)) }
    mutating func encode(_ value: Int64) throws { encoder.writer.value(value) }
    mutating func encode(_ value: UInt) throws { encoder.writer.value(UInt64(value)) }
    mutating func encode(_ value: UInt8) throws { encoder.writer.value(Int64(value)) }
    mutating func encode(_ value: UInt16) throws { encoder.writer.value(Int64(value)) }
    mutating func encode(_ value: UInt32) throws { encoder.writer.value(Int64(value)) }
    mutating func encode(_ value: UInt64) throws { encoder.writer.value(value) }
    mutating func encode<T: Encodable>(_ value: T) throws { try encoder.encodeValue(value) }
}

extension DataStream where Element: Encodable {
    /// Writes each element as one line of JSON (``JSONLineEncoder``) to `path`, exactly once like
    /// ``DataStream/writeLines(to:name:encode:)`` (`-` for stdout).
    @discardableResult
    public func writeJSONLines(to path: String, name: String = "file-sink") -> DataStream<Never> {
        writeLines(to: path, name: name) { element, out in _appendJSON(element, to: &out) }
    }
}

extension DataStream {
    /// Writes `row(element)` for each element as one line of JSON (``JSONLineEncoder``) to `path`,
    /// exactly once like ``DataStream/writeLines(to:name:encode:)``.
    @discardableResult
    public func writeJSONLines<Row: Encodable>(to path: String, name: String = "file-sink",
                                               _ row: @escaping @Sendable (Element) -> Row) -> DataStream<Never> {
        writeLines(to: path, name: name) { element, out in _appendJSON(row(element), to: &out) }
    }
}

/// A value whose `encode(to:)` throws (only custom conformances do) becomes
/// `{"encoding_error":"…"}` rather than a torn line.
package func _appendJSON<T: Encodable>(_ value: T, to out: inout [UInt8]) {
    let start = out.count
    do { try JSONLineEncoder.encode(value, appendingTo: &out) } catch {
        out.removeSubrange(start...)
        var w = JSONWriter(capacity: 64)
        w.beginObject(); w.key("encoding_error"); w.value(String(describing: error)); w.endObject()
        out.append(contentsOf: w.bytes)
    }
}
