public import StreamKit
public import Glibc

/// A newline-delimited file read in `splits` parallel byte ranges, one reader thread each.
///
/// Range `i` covers bytes `[i·size/splits, (i+1)·size/splits)`; a reader owns every line that
/// *starts* inside its range (it skips the partial line at its start, which the previous range
/// owns, and finishes the line that crosses its end), so each line is read exactly once whatever
/// the number of splits. Each reader is its own split for watermarks: its timestamps advance its
/// own watermark and downstream takes the minimum over the splits (as with Kafka partitions), so
/// a range that starts later in the file never makes an earlier range's events late.
///
/// A line that fails to decode goes to the dead letters with the path and byte offset.
/// ``progress`` counts the bytes consumed by all readers.
public struct FileRangeSource<Decoder: LineDecoder>: Source {
    public let path: String
    public let decoder: Decoder
    public let splits: Int
    public let chunkSize: Int
    /// Bytes consumed so far by all readers of this source.
    public let progress: ReadProgress

    /// Throws when the file cannot be inspected.
    public init(path: String, decoder: Decoder, splits: Int, chunkSize: Int = 4 << 20) throws {
        var st = stat()
        guard stat(path, &st) == 0 else { throw StreamKitError(.io, "cannot open \(path): \(String(cString: strerror(errno)))") }
        self.path = path; self.decoder = decoder; self.splits = Swift.max(1, splits); self.chunkSize = chunkSize
        progress = ReadProgress(total: Int64(st.st_size), unit: "bytes")
    }

    public var parallelism: Int { splits }

    public func makeReader(subtask: Int) throws -> Reader {
        let size = progress.total
        let start = size * Int64(subtask) / Int64(splits)
        let end = size * Int64(subtask + 1) / Int64(splits)
        return Reader(path: path, decoder: decoder, chunkSize: chunkSize, start: start, end: end, progress: progress)
    }

    /// Reads the lines starting in `[start, end)`.
    public struct Reader: SourceReader {
        @usableFromInline let path: String
        @usableFromInline var decoder: Decoder
        @usableFromInline let chunkSize: Int
        @usableFromInline let rangeStart: Int64
        @usableFromInline let rangeEnd: Int64
        @usableFromInline let progress: ReadProgress
        @usableFromInline var fd: Int32 = -1
        @usableFromInline var buffer: [UInt8] = []
        /// Valid bytes are `buffer[start..<end]`; `offset` is the file offset of `buffer[start]`.
        @usableFromInline var start = 0
        @usableFromInline var end = 0
        @usableFromInline var offset: Int64 = 0
        @usableFromInline var eof = false
        @usableFromInline var reported: Int64 = 0

        init(path: String, decoder: Decoder, chunkSize: Int, start: Int64, end: Int64, progress: ReadProgress) {
            self.path = path; self.decoder = decoder; self.chunkSize = chunkSize
            rangeStart = start; rangeEnd = end; self.progress = progress
        }

        public mutating func open(context: SourceContext) throws {
            fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 { throw StreamKitError(.io, "cannot open \(path): \(String(cString: strerror(errno)))") }
            buffer = [UInt8](repeating: 0, count: chunkSize)
            // A range that does not start the file begins one byte early: if that byte is a newline
            // the range's first line starts exactly at `rangeStart`, otherwise the partial line up
            // to the first newline belongs to the previous range.
            if rangeStart > 0 {
                if lseek(fd, off_t(rangeStart - 1), SEEK_SET) < 0 { throw StreamKitError(.io, "cannot seek \(path)") }
                offset = rangeStart - 1
                while true {
                    let nl: Int? = buffer.withUnsafeBytes { b in
                        guard end > start, let p = memchr(b.baseAddress! + start, 0x0A, end - start) else { return nil }
                        return b.baseAddress!.distance(to: UnsafeRawPointer(p))
                    }
                    if let nl { offset += Int64(nl + 1 - start); start = nl + 1; break }
                    offset += Int64(end - start); start = 0; end = 0
                    if eof { break }
                    try fill()
                }
            }
            reported = 0     // the skipped partial line counts as read (poll adds it)
        }

        @usableFromInline
        mutating func fill() throws {
            if start > 0 {
                let n = end - start
                if n > 0 { buffer.withUnsafeMutableBytes { b in _ = memmove(b.baseAddress!, b.baseAddress! + start, n) } }
                start = 0; end = n
            }
            if end == buffer.count { buffer.append(contentsOf: repeatElement(0, count: buffer.count)) }  // a very long line
            let capacity = buffer.count
            let got = buffer.withUnsafeMutableBytes { b in read(fd, b.baseAddress! + end, capacity - end) }
            if got < 0 {
                if errno == EINTR { return }
                throw StreamKitError(.io, "read \(path): \(String(cString: strerror(errno)))", retriable: true)
            }
            if got == 0 { eof = true } else { end += got }
        }

        @inlinable
        public mutating func poll(into batch: inout Batch<Decoder.Output>, deadLetters: inout [DeadLetter<String>], maxRecords: Int) throws -> SourceStatus {
            var produced = 0
            defer {
                let consumed = Swift.min(offset, rangeEnd) - rangeStart
                if consumed > reported { progress.add(consumed - reported); reported = consumed }
            }
            while produced < maxRecords {
                if offset >= rangeEnd { return .finished }     // the next line starts in the next range
                let nl: Int? = buffer.withUnsafeBytes { b in
                    guard end > start, let p = memchr(b.baseAddress! + start, 0x0A, end - start) else { return nil }
                    return b.baseAddress!.distance(to: UnsafeRawPointer(p))
                }
                var lineEnd: Int
                let next: Int
                if let nl { lineEnd = nl; next = nl + 1 } else {
                    if !eof { try fill(); continue }
                    if end == start { return .finished }
                    lineEnd = end; next = end      // last line without a newline
                }
                let lineStart = start
                if lineEnd > lineStart && buffer[lineEnd - 1] == 0x0D { lineEnd -= 1 }   // CRLF
                if lineEnd > lineStart {
                    do {
                        let value = try buffer.withUnsafeBytes { b in
                            try decoder.decodeIfRelevant(UnsafeRawBufferPointer(rebasing: b[lineStart..<lineEnd]))
                        }
                        if let value {
                            batch.append(value, timestamp: Watermark.none, watermark: Watermark.none)
                            produced += 1
                        }
                    } catch {
                        let text = String(decoding: buffer[lineStart..<Swift.min(lineEnd, lineStart + 4096)], as: UTF8.self)
                        deadLetters.append(DeadLetter(record: text, reason: "\(path) at byte \(offset): \(error)"))
                    }
                }
                offset += Int64(next - start)
                start = next
            }
            return .more
        }

        public mutating func close() { if fd >= 0 { Glibc.close(fd); fd = -1 } }
    }
}
