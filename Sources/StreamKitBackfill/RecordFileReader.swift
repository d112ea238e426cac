public import StreamKit
import Glibc

/// Reads the records of a ``RecordFileWriter`` file in order through a fixed-size buffer.
///
/// One reader is used by one thread at a time, so its stored properties skip the runtime
/// exclusivity checks (they were a third of the training-set merge's time).
public final class RecordFileReader {
    public let path: String
    @usableFromInline let fd: Int32
    @usableFromInline @exclusivity(unchecked) var buffer: [UInt8]
    @usableFromInline @exclusivity(unchecked) var start = 0
    @usableFromInline @exclusivity(unchecked) var end = 0
    @usableFromInline @exclusivity(unchecked) var eof = false
    @usableFromInline @exclusivity(unchecked) var record: [UInt8] = []

    /// Opens `path` at `offset` (0, or a record's ``RecordFileWriter/offset``).
    public init(path: String, offset: Int64 = 0, bufferSize: Int = 1 << 16) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw StreamKitError(.io, "cannot open \(path): \(String(cString: strerror(errno)))") }
        if offset > 0 && lseek(fd, off_t(offset), SEEK_SET) < 0 {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw StreamKitError(.io, "cannot seek \(path) to \(offset): \(reason)")
        }
        buffer = [UInt8](repeating: 0, count: Swift.max(bufferSize, 16))
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// The next record, nil at the end of the file.
    public func next() throws -> ByteReader? {
        guard var header = try available(10, atLeast: 1) else { return nil }
        // The varint length.
        var length: UInt64 = 0, shift: UInt64 = 0, used = 0
        while true {
            guard used < header else { throw StreamKitError(.state, "\(path): truncated record length") }
            let b = buffer[start + used]
            length |= UInt64(b & 0x7F) << shift
            used += 1
            if b & 0x80 == 0 { break }
            shift += 7
            if shift > 63 { throw StreamKitError(.state, "\(path): invalid record length") }
        }
        start += used
        let n = Int(length)
        header = try available(n, atLeast: n) ?? 0
        guard header >= n else { throw StreamKitError(.state, "\(path): truncated record") }
        // One record buffer, reused: the caller's previous reader is gone by now, so it is unique
        // and refilling it allocates nothing.
        record.removeAll(keepingCapacity: true)
        buffer.withUnsafeBufferPointer { b in record.append(contentsOf: UnsafeBufferPointer(rebasing: b[start..<(start + n)])) }
        start += n
        return ByteReader(record)
    }

    /// Makes up to `want` bytes available at `start` (growing the buffer for a long record);
    /// nil when fewer than `atLeast` remain at the end of the file and none are buffered.
    func available(_ want: Int, atLeast: Int) throws -> Int? {
        while end - start < want && !eof {
            if start > 0 {
                let n = end - start
                if n > 0 { buffer.withUnsafeMutableBytes { b in _ = memmove(b.baseAddress!, b.baseAddress! + start, n) } }
                start = 0; end = n
            }
            if want > buffer.count { buffer.append(contentsOf: repeatElement(0, count: want - buffer.count)) }
            let capacity = buffer.count
            let got = buffer.withUnsafeMutableBytes { b in read(fd, b.baseAddress! + end, capacity - end) }
            if got < 0 { if errno == EINTR { continue }; throw StreamKitError(.io, "read \(path): \(String(cString: strerror(errno)))") }
            if got == 0 { eof = true } else { end += got }
        }
        let have = end - start
        if have == 0 { return nil }
        if have < atLeast { throw StreamKitError(.state, "\(path): truncated record") }
        return Swift.min(have, want)
    }
}
