public import StreamKitRedis
import StreamKit
import Glibc

/// Writes a training set row by row to a file (`-`: standard output) through a 1 MiB buffer, in
/// the columns of ``TrainingSetFormat``; counts the rows and those with missing features.
public final class TrainingSetWriter {
    public let path: String
    let view: FeatureView
    let format: TrainingSetFormat
    var fd: Int32
    var buffer: [UInt8] = []
    /// Rows written.
    public private(set) var rows = 0
    /// Rows written with missing features.
    public private(set) var missing = 0

    /// Creates (truncates) `path` and writes the header (CSV).
    public init(path: String, view: FeatureView, format: TrainingSetFormat) throws {
        self.path = path; self.view = view; self.format = format
        fd = path == "-" ? 1 : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw StreamKitError(.io, "cannot open \(path) for writing: \(String(cString: strerror(errno)))") }
        buffer.reserveCapacity(1 << 20)
        if let header = format.header(view: view) { buffer += Array(header.utf8); buffer.append(0x0A) }
    }

    deinit { if fd > 1 { Glibc.close(fd) } }

    public func write(_ row: TrainingRow) throws {
        format.append(row, view: view, to: &buffer); buffer.append(0x0A)
        rows += 1
        if row.features == nil { missing += 1 }
        if buffer.count >= 1 << 20 { try flush() }
    }

    /// Appends rows already formatted (each line ended by a newline) in this writer's format.
    func write(formatted text: [UInt8], rows: Int, missing: Int) throws {
        if buffer.count + text.count > 1 << 20 { try flush() }
        if text.count >= 1 << 20 {
            try RecordFileWriter.writeAll(fd, text, path: path)
        } else {
            buffer += text
        }
        self.rows += rows; self.missing += missing
    }

    public func flush() throws {
        try RecordFileWriter.writeAll(fd, buffer, path: path)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes and closes the file.
    public func close() throws {
        try flush()
        if fd > 1 { Glibc.close(fd) }
        fd = -1
    }
}
