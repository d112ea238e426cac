import Foundation

/// A value that can be written into, and read back from, a binary state snapshot.
///
/// Conformances exist for the common scalar types, `String`, `Array`, `Set`, `Optional` and
/// `Dictionary` (when their elements conform). The format is compact and little-endian; see
/// ``ByteWriter`` for the primitive encodings. Dictionary and set entry order is not
/// deterministic, so equal values may produce different bytes.
///
/// Any `Codable` type can opt in with an empty conformance (`extension MyType: StateCodable {}`)
/// and then uses a JSON-based slow path; write `encode(to:)`/`init(from:)` by hand for types on a
/// hot path.
public protocol StateCodable {
    /// Appends the binary representation of `self` to `writer`.
    func encode(to writer: inout ByteWriter)
    /// Reads a value previously written by ``encode(to:)``.
    /// - Throws: `StreamKitError(.state, ...)` if the bytes are truncated or malformed.
    init(from reader: inout ByteReader) throws
}

extension StateCodable {
    /// The complete binary representation of `self`.
    @inlinable
    public func encodedStateBytes() -> [UInt8] {
        var writer = ByteWriter()
        encode(to: &writer)
        return writer.bytes
    }

    /// Decodes a value from `bytes`, which must contain exactly one encoded value.
    /// - Throws: `StreamKitError(.state, ...)` on truncated, malformed or trailing bytes.
    @inlinable
    public init(stateBytes bytes: [UInt8]) throws {
        var reader = ByteReader(bytes)
        self = try Self(from: &reader)
        try reader.expectEnd()
    }
}

// MARK: - Integers

extension Int: StateCodable {
    /// Encoded as a zigzag varint.
    @inlinable
    public func encode(to writer: inout ByteWriter) { writer.writeVarInt(Int64(self)) }

    @inlinable
    public init(from reader: inout ByteReader) throws {
        let value = try reader.readVarInt()
        guard let exact = Int(exactly: value) else { throw StreamKitError(.state, "value \(value) does not fit in Int") }
        self = exact
    }
}

extension Int64: StateCodable {
    /// Encoded as a zigzag varint.
    @inlinable
    public func encode(to writer: inout ByteWriter) { writer.writeVarInt(self) }

    @inlinable
    public init(from reader: inout ByteReader) throws { self = try reader.readVarInt() }
}

extension Int32: StateCodable {
    /// Encoded as a zigzag varint.
    @inlinable
    public func encode(to writer: inout ByteWriter) { writer.writeVarInt(Int64(self)) }

    @inlinable
    public init(from reader: inout ByteReader) throws {
        let value = try reader.readVarInt()
        guard let exact = Int32(exactly: value) else { throw StreamKitError(.state, "value \(value) does not fit in Int32") }
        self = exact
    }
}

extension UInt64: StateCodable {
    /// Encoded as an unsigned varint.
    @inlinable
    public func encode(to writer: inout ByteWriter) { writer.writeVarUInt(self) }

    @inlinable
    public init(from reader: inout ByteReader) throws { self = try reader.readVarUInt() }
}

extension UInt32: StateCodable {
    /// Encoded as an unsigned varint.
    @inlinable
    public func encode(to writer: inout ByteWriter) { writer.writeVarUInt(UInt64(self)) }

    @inlinable
    public init(from reader: inout ByteReader) throws {
        let value = try reader.readVarUInt()
        guard let exact = UInt32(exactly: value) else { throw StreamKitError(.state, "value \(value) does not fit in UInt32") }
        self = exact
    }
}

extension UInt8: StateCodable {
    /// Encoded as one raw byte.
    @inlinable
    public func encode(to writer: inout ByteWriter) { writer.writeUInt8(self) }

    @inlinable
    public init(from reader: inout ByteReader) throws { self = try reader.readUInt8() }
}

// MARK: - Floating point, Bool, String

extension Double: StateCodable {
    /// Encoded as its 8-byte IEEE-754 bit pattern (exact round trip, including NaN payloads).
    @inlinable
    public func encode(to writer: inout ByteWriter) { writer.writeDouble(self) }

    @inlinable
    public init(from reader: inout ByteReader) throws { self = try reader.readDouble() }
}

extension Float: StateCodable {
    /// Encoded as its 4-byte IEEE-754 bit pattern.
    @inlinable
    public func encode(to writer: inout ByteWriter) { writer.writeFloat(self) }

    @inlinable
    public init(from reader: inout ByteReader) throws { self = try reader.readFloat() }
}

extension Bool: StateCodable {
    /// Encoded as one byte, 0 or 1.
    @inlinable
    public func encode(to writer: inout ByteWriter) { writer.writeBool(self) }

    @inlinable
    public init(from reader: inout ByteReader) throws { self = try reader.readBool() }
}

extension String: StateCodable {
    /// Encoded as a varint byte length plus UTF-8 bytes.
    @inlinable
    public func encode(to writer: inout ByteWriter) { writer.writeString(self) }

    @inlinable
    public init(from reader: inout ByteReader) throws { self = try reader.readString() }
}

// MARK: - Collections

extension Array: StateCodable where Element: StateCodable {
    /// Encoded as a varint element count followed by the elements. `[UInt8]` takes a fast path
    /// (one bulk copy) that yields the same bytes: count, then the raw bytes.
    @inlinable
    public func encode(to writer: inout ByteWriter) {
        if Element.self == UInt8.self {
            withUnsafeBytes { writer.writeBytes($0) }
            return
        }
        writer.writeVarUInt(UInt64(count))
        for element in self {
            element.encode(to: &writer)
        }
    }

    @inlinable
    public init(from reader: inout ByteReader) throws {
        if Element.self == UInt8.self {
            self = try reader.readBytes() as! [Element]
            return
        }
        let count = try reader.readCount()
        var result: [Element] = []
        // Don't trust the count for the allocation size: a corrupt count must fail on truncation,
        // not by exhausting memory.
        result.reserveCapacity(Swift.min(count, reader.remaining))
        for _ in 0 ..< count {
            result.append(try Element(from: &reader))
        }
        self = result
    }
}

extension Set: StateCodable where Element: StateCodable {
    /// Encoded as a varint count followed by the elements, in iteration (unspecified) order.
    @inlinable
    public func encode(to writer: inout ByteWriter) {
        writer.writeVarUInt(UInt64(count))
        for element in self {
            element.encode(to: &writer)
        }
    }

    @inlinable
    public init(from reader: inout ByteReader) throws {
        let count = try reader.readCount()
        var result = Set<Element>(minimumCapacity: Swift.min(count, reader.remaining))
        for _ in 0 ..< count {
            guard result.insert(try Element(from: &reader)).inserted else {
                throw StreamKitError(.state, "duplicate element in encoded Set")
            }
        }
        self = result
    }
}

extension Optional: StateCodable where Wrapped: StateCodable {
    /// Encoded as a tag byte (0 = nil, 1 = some) followed by the wrapped value if present.
    @inlinable
    public func encode(to writer: inout ByteWriter) {
        switch self {
        case .none:
            writer.writeUInt8(0)
        case .some(let value):
            writer.writeUInt8(1)
            value.encode(to: &writer)
        }
    }

    @inlinable
    public init(from reader: inout ByteReader) throws {
        let offset = reader.offset
        switch try reader.readUInt8() {
        case 0: self = .none
        case 1: self = .some(try Wrapped(from: &reader))
        case let tag: throw StreamKitError(.state, "invalid Optional tag \(tag) at offset \(offset)")
        }
    }
}

extension Dictionary: StateCodable where Key: StateCodable, Value: StateCodable {
    /// Encoded as a varint entry count followed by key/value pairs in iteration (unspecified) order.
    @inlinable
    public func encode(to writer: inout ByteWriter) {
        writer.writeVarUInt(UInt64(count))
        for (key, value) in self {
            key.encode(to: &writer)
            value.encode(to: &writer)
        }
    }

    @inlinable
    public init(from reader: inout ByteReader) throws {
        let count = try reader.readCount()
        var result: [Key: Value] = [:]
        result.reserveCapacity(Swift.min(count, reader.remaining))
        for _ in 0 ..< count {
            let key = try Key(from: &reader)
            let value = try Value(from: &reader)
            guard result.updateValue(value, forKey: key) == nil else {
                throw StreamKitError(.state, "duplicate key in encoded Dictionary")
            }
        }
        self = result
    }
}

// MARK: - Codable slow path

extension StateCodable where Self: Codable {
    /// Default for `Codable` types that opt in: the value is encoded with Foundation's
    /// `JSONEncoder` and stored as a length-prefixed blob.
    ///
    /// This is a **slow path** (JSON text, a fresh encoder per call) meant for configuration-like
    /// or rarely checkpointed state; implement the requirements by hand for per-key state.
    /// Non-finite floating-point values are written as the strings `"inf"`, `"-inf"`, `"nan"`.
    /// Because `encode(to:)` cannot throw, an error thrown by the type's own `Encodable`
    /// implementation is a programming error and stops the process with a message.
    public func encode(to writer: inout ByteWriter) {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let json: Data
        do {
            json = try encoder.encode(self)
        } catch {
            preconditionFailure("StateCodable: JSON encoding of \(Self.self) failed: \(error)")
        }
        json.withUnsafeBytes { writer.writeBytes($0) }
    }

    /// Default for `Codable` types that opt in: decodes the JSON blob written by ``encode(to:)``.
    /// - Throws: `StreamKitError(.state, ...)` on truncation or if the JSON does not decode.
    public init(from reader: inout ByteReader) throws {
        let json = try reader.readBytes()
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do {
            self = try decoder.decode(Self.self, from: Data(json))
        } catch {
            throw StreamKitError(.state, "cannot decode \(Self.self) from its JSON state blob: \(error)")
        }
    }
}
