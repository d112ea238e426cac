public import StreamKitCapture

/// A bounds-checked little-endian reader over binlog bytes; running past the end is a
/// ``CaptureError/Code/malformedLog`` error, never a crash.
public struct BinlogBytes {
    public let base: UnsafeRawBufferPointer
    public var offset = 0

    @inlinable public init(_ base: UnsafeRawBufferPointer) { self.base = base }

    @inlinable public var remaining: Int { base.count - offset }

    @inlinable static func truncated() -> CaptureError {
        CaptureError(.malformedLog, "binlog event ends early (truncated or not the expected layout)")
    }

    @inlinable public mutating func byte() throws -> UInt8 {
        guard offset < base.count else { throw Self.truncated() }
        defer { offset += 1 }
        return base[offset]
    }

    /// An unsigned little-endian integer of `n` bytes (n ≤ 8).
    @inlinable public mutating func uint(_ n: Int) throws -> UInt64 {
        guard n <= remaining else { throw Self.truncated() }
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(base[offset + i]) << (8 * UInt64(i)) }
        offset += n
        return v
    }

    /// An unsigned big-endian integer of `n` bytes (n ≤ 8).
    @inlinable public mutating func uintBE(_ n: Int) throws -> UInt64 {
        guard n <= remaining else { throw Self.truncated() }
        var v: UInt64 = 0
        for i in 0..<n { v = v << 8 | UInt64(base[offset + i]) }
        offset += n
        return v
    }

    /// A length-encoded integer (1, 3, 4 or 9 bytes).
    @inlinable public mutating func packed() throws -> UInt64 {
        let first = try byte()
        switch first {
        case 0..<251: return UInt64(first)
        case 252: return try uint(2)
        case 253: return try uint(3)
        case 254: return try uint(8)
        default: throw CaptureError(.malformedLog, "binlog: invalid length-encoded integer")
        }
    }

    @inlinable public mutating func bytes(_ n: Int) throws -> [UInt8] {
        guard n >= 0, n <= remaining else { throw Self.truncated() }
        defer { offset += n }
        return Array(base[offset..<offset + n])
    }

    @inlinable public mutating func slice(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= remaining else { throw Self.truncated() }
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: base[offset..<offset + n])
    }

    @inlinable public mutating func string(_ n: Int) throws -> String {
        String(decoding: try slice(n), as: UTF8.self)
    }

    @inlinable public mutating func skip(_ n: Int) throws {
        guard n >= 0, n <= remaining else { throw Self.truncated() }
        offset += n
    }
}
