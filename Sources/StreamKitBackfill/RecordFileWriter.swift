public import StreamKit
import Glibc

/// Appends length-prefixed records (a varint byte count, then the bytes) to a file through a
/// fixed-size buffer: the spill format of the backfill's sorted labels and answered rows, so
/// that what it holds in memory is one buffer, whatever the number of records.
public final class RecordFileWriter {
    public let path: String
    @usableFromInline var fd: Int32
    @usableFromInline var buffer = ByteWriter(capacity: 1 << 18)
    /// Records written so far.
    public private(set) var count = 0
    /// Bytes handed to the file so far (the rest of ``offset`` is buffered).
    var flushed: Int64 = 0
    /// Where the next record starts in the file: a ``RecordFileReader`` opened at this offset
    /// reads from that record on.
    public var offset: Int64 { flushed + Int64(buffer.count) }

    /// Creates (or truncates) `path`.
    public init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        if fd < 0 { throw StreamKitError(.io, "cannot create \(path): \(String(cString: strerror(errno)))") }
    }

    /// Appends one record (`record`'s bytes).
    public func append(_ record: ByteWriter) throws {
        buffer.writeVarUInt(UInt64(record.count))
        record.bytes.withUnsafeBytes { buffer.writeRawBytes($0) }
        count += 1
        if buffer.count >= 1 << 18 { try flush() }
    }

    /// Writes the buffer out.
    public func flush() throws {
        try Self.writeAll(fd, buffer.bytes, path: path)
        flushed += Int64(buffer.count)
        buffer.removeAll()
    }

    /// Flushes and closes the file.
    public func close() throws {
        guard fd >= 0 else { return }
        defer { Glibc.close(fd); fd = -1 }
        try flush()
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// Writes all of `bytes` to `fd` (``DurableFile/writeAll(_:_:path:)``: short writes, EINTR).
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        try bytes.withUnsafeBytes { try DurableFile.writeAll(fd, $0, path: path) }
    }
}
