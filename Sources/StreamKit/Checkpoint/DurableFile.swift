#if canImport(Glibc)
package import Glibc
#elseif canImport(Musl)
package import Musl
#elseif canImport(Darwin)
package import Darwin
#endif

/// Thin POSIX wrappers used for durable writes (open/write/fsync/rename). Every failure becomes a
/// `StreamKitError(.io, ...)` naming the operation, the path and `strerror(errno)`.
package enum DurableFile {
    package static func ioError(_ operation: String, _ path: String, errno code: Int32) -> StreamKitError {
        StreamKitError(.io, "\(operation) \(path): \(String(cString: strerror(code)))")
    }

    /// Opens `path`, retrying on EINTR.
    package static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        while true {
            let fd = path.withCString { systemOpen($0, flags, mode) }
            if fd >= 0 { return fd }
            if errno != EINTR { throw ioError("open", path, errno: errno) }
        }
    }

    /// Writes all of `bytes` to `fd`, handling short writes and EINTR.
    package static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = systemWrite(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw ioError("write", path, errno: errno)
            }
            offset += n
        }
    }

    /// Creates `path` (which must not exist), writes `bytes`, fsyncs and closes it.
    package static func createDurably(_ path: String, contents bytes: [UInt8]) throws {
        let fd = try open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC)
        do {
            try bytes.withUnsafeBytes { try writeAll(fd, $0, path: path) }
            if fsync(fd) != 0 { throw ioError("fsync", path, errno: errno) }
        } catch {
            _ = close(fd)
            throw error
        }
        if close(fd) != 0 { throw ioError("close", path, errno: errno) }
    }

    /// Replaces `path` atomically: writes and fsyncs `path.tmp` (left over from a crash: replaced),
    /// then renames it over `path`.
    package static func replaceAtomically(_ path: String, contents bytes: [UInt8]) throws {
        let tmp = path + ".tmp"
        if exists(tmp) { _ = unlink(tmp) }
        try createDurably(tmp, contents: bytes)
        try rename(tmp, to: path)
    }

    /// Reads the whole file at `path`.
    package static func readAll(_ path: String) throws -> [UInt8] {
        let fd = try open(path, O_RDONLY | O_CLOEXEC)
        defer { _ = close(fd) }
        var info = stat()
        if fstat(fd, &info) != 0 { throw ioError("fstat", path, errno: errno) }
        // Size the buffer from fstat (+1 to see EOF without growing), but keep reading until EOF
        // in case the file changed size meanwhile.
        var buffer = [UInt8](repeating: 0, count: max(Int(info.st_size), 0) + 1)
        var filled = 0
        while true {
            if filled == buffer.count {
                buffer.append(contentsOf: repeatElement(0, count: buffer.count))
            }
            let n = buffer.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ioError("read", path, errno: errno)
            }
            if n == 0 { break }
            filled += n
        }
        buffer.removeLast(buffer.count - filled)
        return buffer
    }

    /// Creates a directory (mode 0755); fails if it already exists.
    package static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o755) != 0 { throw ioError("mkdir", path, errno: errno) }
    }

    /// fsyncs a directory so that entries created/renamed/removed in it are durable.
    package static func syncDirectory(_ path: String) throws {
        let fd = try open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { _ = close(fd) }
        if fsync(fd) != 0 { throw ioError("fsync", path, errno: errno) }
    }

    /// Atomically renames `from` to `to` (same file system).
    package static func rename(_ from: String, to: String) throws {
        if systemRename(from, to) != 0 { throw ioError("rename", "\(from) -> \(to)", errno: errno) }
    }

    /// Whether `path` exists (as anything).
    package static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }
}

// Unqualified aliases so the wrappers above can reuse the libc names.
private func systemOpen(_ path: UnsafePointer<CChar>, _ flags: Int32, _ mode: mode_t) -> Int32 {
    open(path, flags, mode)
}
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(fd, buffer, count)
}
private func systemRename(_ from: String, _ to: String) -> Int32 {
    rename(from, to)
}
