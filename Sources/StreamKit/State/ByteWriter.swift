/// An append-only, growable byte buffer for serializing operator state.
///
/// Encoding conventions (mirrored exactly by ``ByteReader``):
/// - fixed-width integers are little-endian (``writeInteger(_:)``);
/// - variable-length integers are unsigned LEB128 (``writeVarUInt(_:)``), signed ones are
///   zigzag-mapped first (``writeVarInt(_:)``), so small magnitudes of either sign stay short;
/// - `Double`/`Float` are written as their IEEE-754 bit pattern, little-endian;
/// - byte strings and strings are a varint length followed by the raw (UTF-8) bytes.
public struct ByteWriter: Sendable {
    @usableFromInline
    internal var storage: [UInt8]

    /// Creates an empty writer with room for `capacity` bytes before it has to grow.
    @inlinable
    public init(capacity: Int = 256) {
        storage = []
        storage.reserveCapacity(capacity)
    }

    /// The bytes written so far.
    @inlinable
    public var bytes: [UInt8] { storage }

    /// The number of bytes written so far.
    @inlinable
    public var count: Int { storage.count }

    /// Ensures room for at least `minimumCapacity` bytes in total.
    @inlinable
    public mutating func reserveCapacity(_ minimumCapacity: Int) {
        storage.reserveCapacity(minimumCapacity)
    }

    /// Discards the content, by default keeping the allocated capacity for reuse.
    @inlinable
    public mutating func removeAll(keepingCapacity: Bool = true) {
        storage.removeAll(keepingCapacity: keepingCapacity)
    }

    /// Appends a single byte.
    @inlinable
    public mutating func writeUInt8(_ value: UInt8) {
        storage.append(value)
    }

    /// Appends a fixed-width integer in little-endian byte order (`T.bitWidth / 8` bytes).
    @inlinable
    public mutating func writeInteger<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { storage.append(contentsOf: $0) }
    }

    /// Appends an unsigned LEB128 varint (1 byte for values < 128, at most 10 bytes).
    @inlinable
    public mutating func writeVarUInt(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            storage.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        storage.append(UInt8(truncatingIfNeeded: v))
    }

    /// Appends a signed integer as a zigzag-encoded LEB128 varint
    /// (0 → 0, -1 → 1, 1 → 2, -2 → 3, ...).
    @inlinable
    public mutating func writeVarInt(_ value: Int64) {
        writeVarUInt(UInt64(bitPattern: (value &<< 1) ^ (value >> 63)))
    }

    /// Appends the IEEE-754 bit pattern of `value` (8 bytes, little-endian). NaN payloads and
    /// the sign of zero are preserved.
    @inlinable
    public mutating func writeDouble(_ value: Double) {
        writeInteger(value.bitPattern)
    }

    /// Appends the IEEE-754 bit pattern of `value` (4 bytes, little-endian).
    @inlinable
    public mutating func writeFloat(_ value: Float) {
        writeInteger(value.bitPattern)
    }

    /// Appends a boolean as one byte (0 or 1).
    @inlinable
    public mutating func writeBool(_ value: Bool) {
        storage.append(value ? 1 : 0)
    }

    /// Appends raw bytes without a length prefix.
    @inlinable
    public mutating func writeRawBytes(_ bytes: UnsafeRawBufferPointer) {
        storage.append(contentsOf: bytes)
    }

    /// Appends a varint length followed by the bytes.
    @inlinable
    public mutating func writeBytes(_ bytes: UnsafeRawBufferPointer) {
        writeVarUInt(UInt64(bytes.count))
        storage.append(contentsOf: bytes)
    }

    /// Appends a varint length followed by the bytes.
    @inlinable
    public mutating func writeBytes(_ bytes: [UInt8]) {
        writeVarUInt(UInt64(bytes.count))
        storage.append(contentsOf: bytes)
    }

    /// Appends a varint byte length followed by the string's UTF-8 bytes.
    @inlinable
    public mutating func writeString(_ string: String) {
        let utf8 = string.utf8
        let done: Void? = utf8.withContiguousStorageIfAvailable { writeBytes(UnsafeRawBufferPointer($0)) }
        if done == nil {
            writeBytes(Array(utf8))
        }
    }

    /// Appends any ``StateCodable`` value using its own encoding.
    @inlinable
    public mutating func write<T: StateCodable>(_ value: T) {
        value.encode(to: &self)
    }
}
