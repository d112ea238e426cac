/// A forward-only cursor over serialized state, the counterpart of ``ByteWriter``.
///
/// Every read checks bounds first: running past the end (a truncated or corrupt snapshot)
/// throws `StreamKitError(.state, ...)` and leaves the cursor where it was.
public struct ByteReader: Sendable {
    @usableFromInline
    internal let storage: [UInt8]
    @usableFromInline
    internal var position: Int

    /// Creates a reader positioned at the first byte of `bytes`.
    @inlinable
    public init(_ bytes: [UInt8]) {
        storage = bytes
        position = 0
    }

    /// The offset of the next byte to read.
    @inlinable
    public var offset: Int { position }

    /// The number of bytes not yet read.
    @inlinable
    public var remaining: Int { storage.count - position }

    /// Whether every byte has been read.
    @inlinable
    public var isAtEnd: Bool { position == storage.count }

    /// Throws unless every byte has been consumed (detects trailing garbage).
    @inlinable
    public func expectEnd() throws {
        if position != storage.count {
            throw ByteReader.error("\(storage.count - position) unexpected trailing byte(s) at offset \(position)")
        }
    }

    /// Reads one byte.
    @inlinable
    public mutating func readUInt8() throws -> UInt8 {
        guard position < storage.count else { throw truncated(need: 1) }
        let byte = storage[position]
        position += 1
        return byte
    }

    /// Reads a fixed-width little-endian integer (`T.bitWidth / 8` bytes).
    @inlinable
    public mutating func readInteger<T: FixedWidthInteger>(_ type: T.Type = T.self) throws -> T {
        let size = MemoryLayout<T>.size
        guard storage.count - position >= size else { throw truncated(need: size) }
        let raw = storage.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: position, as: T.self) }
        position += size
        return T(littleEndian: raw)
    }

    /// Reads an unsigned LEB128 varint (at most 10 bytes).
    @inlinable
    public mutating func readVarUInt() throws -> UInt64 {
        // Fast path: single byte.
        if position < storage.count, storage[position] < 0x80 {
            let value = UInt64(storage[position])
            position += 1
            return value
        }
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var cursor = position
        while true {
            guard cursor < storage.count else { throw truncated(need: cursor - position + 1) }
            let byte = storage[cursor]
            cursor += 1
            if shift == 63 && byte > 1 {
                throw ByteReader.error("varint at offset \(position) overflows 64 bits")
            }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { break }
            shift += 7
        }
        position = cursor
        return result
    }

    /// Reads a zigzag-encoded signed LEB128 varint.
    @inlinable
    public mutating func readVarInt() throws -> Int64 {
        let raw = try readVarUInt()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// Reads a varint that is used as a count or length and checks it fits in `Int`.
    @inlinable
    public mutating func readCount() throws -> Int {
        let start = position
        let raw = try readVarUInt()
        guard let count = Int(exactly: raw) else {
            position = start
            throw ByteReader.error("length \(raw) at offset \(start) is out of range")
        }
        return count
    }

    /// Reads an IEEE-754 double from its 8-byte little-endian bit pattern.
    @inlinable
    public mutating func readDouble() throws -> Double {
        Double(bitPattern: try readInteger(UInt64.self))
    }

    /// Reads an IEEE-754 float from its 4-byte little-endian bit pattern.
    @inlinable
    public mutating func readFloat() throws -> Float {
        Float(bitPattern: try readInteger(UInt32.self))
    }

    /// Reads a boolean byte; any value other than 0 or 1 is rejected as corrupt.
    @inlinable
    public mutating func readBool() throws -> Bool {
        let start = position
        switch try readUInt8() {
        case 0: return false
        case 1: return true
        case let other:
            position = start
            throw ByteReader.error("invalid Bool byte \(other) at offset \(start)")
        }
    }

    /// Reads `count` raw bytes (no length prefix).
    @inlinable
    public mutating func readRawBytes(count: Int) throws -> [UInt8] {
        precondition(count >= 0, "count must not be negative")
        guard storage.count - position >= count else { throw truncated(need: count) }
        let bytes = Array(storage[position ..< position + count])
        position += count
        return bytes
    }

    /// Calls `body` with a view of the next `count` bytes (valid only inside `body`) and
    /// advances past them, avoiding a copy.
    @inlinable
    public mutating func withRawBytes<R>(count: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        precondition(count >= 0, "count must not be negative")
        guard storage.count - position >= count else { throw truncated(need: count) }
        let start = position
        let result = try storage.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start ..< start + count])) }
        position += count
        return result
    }

    /// Skips `count` bytes.
    @inlinable
    public mutating func skip(_ count: Int) throws {
        precondition(count >= 0, "count must not be negative")
        guard storage.count - position >= count else { throw truncated(need: count) }
        position += count
    }

    /// Reads a varint length followed by that many bytes.
    @inlinable
    public mutating func readBytes() throws -> [UInt8] {
        let start = position
        let length = try readCount()
        guard remaining >= length else {
            let error = truncated(need: length)
            position = start
            throw error
        }
        return try readRawBytes(count: length)
    }

    /// Reads a varint byte length followed by that many bytes of UTF-8, which is validated.
    @inlinable
    public mutating func readString() throws -> String {
        let start = position
        let length = try readCount()
        guard remaining >= length else {
            let error = truncated(need: length)
            position = start
            throw error
        }
        let decoded = try withRawBytes(count: length) { raw -> String? in
            let bytes = raw.assumingMemoryBound(to: UInt8.self)
            // ASCII is valid UTF-8: decode without the (generic, unspecialized) validating path.
            return ByteReader.isASCII(bytes) ? String(decoding: bytes, as: UTF8.self) : String(validating: bytes, as: UTF8.self)
        }
        guard let string = decoded else {
            position = start
            throw ByteReader.error("invalid UTF-8 in string at offset \(start)")
        }
        return string
    }

    /// Whether every byte is below 0x80 (eight at a time).
    @inlinable
    static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let raw = UnsafeRawPointer(base)
        var i = 0
        var any: UInt64 = 0
        while i &+ 8 <= bytes.count {
            any |= raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            i &+= 8
        }
        while i < bytes.count { any |= UInt64(base[i]); i &+= 1 }
        return any & 0x8080_8080_8080_8080 == 0
    }

    /// Reads any ``StateCodable`` value using its own decoding.
    @inlinable
    public mutating func read<T: StateCodable>(_ type: T.Type = T.self) throws -> T {
        try T(from: &self)
    }

    // MARK: Errors (kept out of line so the inlined fast paths stay small)

    @usableFromInline
    internal func truncated(need: Int) -> StreamKitError {
        StreamKitError(.state,
            "truncated state: need \(need) byte(s) at offset \(position), only \(storage.count - position) left")
    }

    @usableFromInline
    internal static func error(_ message: String) -> StreamKitError {
        StreamKitError(.state, message)
    }
}
