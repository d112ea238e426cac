public import StreamKit
public import Glibc
import Synchronization

/// A newline-delimited file read in `splits` parallel readers, one thread each.
///
/// The file is cut into blocks of ``blockSize`` bytes (smaller for a small file, so every split
/// gets one) dealt round robin: reader `i` reads blocks `i, i + splits, i + 2·splits, …`. A reader
/// owns every line that *starts* inside its blocks (it skips the partial line at a block's start,
/// which the previous block owns, and finishes the line that crosses its end), so each line is
/// read exactly once whatever the number of splits. Each reader is its own split for watermarks:
/// its timestamps advance its own watermark and downstream takes the minimum over the splits (as
/// with Kafka partitions), so a split that is ahead in the file never makes another's events late.
///
/// Interleaved blocks keep the splits close in event time in a time-ordered file: with one
/// contiguous range per split the later ranges' events would wait in the job's state until the
/// first range caught up — state growing with the input. With ``maxAheadRounds`` set, a reader
/// does not start a block more than that many rounds ahead of the slowest reader (it polls idle
/// meanwhile), which bounds that state by a few blocks' worth of events.
///
/// A line that fails to decode goes to the dead letters with the path and byte offset.
/// ``progress`` counts the bytes consumed by all readers.
public struct FileRangeSource<Decoder: LineDecoder>: Source {
    public let path: String
    public let decoder: Decoder
    public let splits: Int
    public let chunkSize: Int
    /// Bytes per block (at most `size / splits`, rounded up, so each split gets a block).
    public let blockSize: Int64
    /// How many rounds of blocks a reader may be ahead of the slowest (nil: no limit).
    public let maxAheadRounds: Int?
    /// Bytes consumed so far by all readers of this source.
    public let progress: ReadProgress
    let rounds: ReaderRounds

    /// Throws when the file cannot be inspected.
    public init(path: String, decoder: Decoder, splits: Int, chunkSize: Int = 1 << 20,
                blockSize: Int64 = 4 << 20, maxAheadRounds: Int? = nil) throws {
        var st = stat()
        guard stat(path, &st) == 0 else { throw StreamKitError(.io, "cannot open \(path): \(String(cString: strerror(errno)))") }
        self.path = path; self.decoder = decoder; self.splits = Swift.max(1, splits); self.chunkSize = chunkSize
        let size = Int64(st.st_size)
        let perSplit = (size + Int64(self.splits) - 1) / Int64(self.splits)
        self.blockSize = Swift.max(1, Swift.min(blockSize, perSplit))
        self.maxAheadRounds = maxAheadRounds.map { Swift.max(1, $0) }
        progress = ReadProgress(total: size, unit: "bytes")
        rounds = ReaderRounds(splits: self.splits)
    }

    public var parallelism: Int { splits }

    public func makeReader(subtask: Int) throws -> Reader {
        Reader(path: path, decoder: decoder, chunkSize: chunkSize, subtask: subtask, splits: splits, blockSize: blockSize,
               size: progress.total, progress: progress, rounds: rounds, maxAheadRounds: maxAheadRounds)
    }

    /// The round (block index / splits) each reader is in; `Int.max` once it finished.
    @usableFromInline final class ReaderRounds: Sendable {
        let current: Mutex<[Int]>
        init(splits: Int) { current = Mutex([Int](repeating: 0, count: splits)) }
        /// Records that `reader` moves to `round`; whether it may (not more than `maxAhead` rounds
        /// ahead of the slowest reader).
        @usableFromInline func enter(_ round: Int, reader: Int, maxAhead: Int?) -> Bool {
            current.withLock { c in
                if let maxAhead, round != Int.max, let slowest = c.min(), round > slowest &+ maxAhead { return false }
                c[reader] = round
                return true
            }
        }
    }

    /// Reads the lines starting in `[start, end)`.
    public struct Reader: SourceReader {
        @usableFromInline let path: String
        @usableFromInline var decoder: Decoder
        @usableFromInline let chunkSize: Int
        @usableFromInline let subtask: Int
        @usableFromInline let splits: Int
        @usableFromInline let blockSize: Int64
        @usableFromInline let size: Int64
        @usableFromInline let rounds: ReaderRounds
        @usableFromInline let maxAheadRounds: Int?
        /// The current block: `[rangeStart, rangeEnd)`, in round `round`.
        @usableFromInline var round = 0
        @usableFromInline var rangeStart: Int64 = 0
        @usableFromInline var rangeEnd: Int64 = 0
        @usableFromInline let progress: ReadProgress
        @usableFromInline var fd: Int32 = -1
        @usableFromInline var buffer: [UInt8] = []
        /// Valid bytes are `buffer[start..<end]`; `offset` is the file offset of `buffer[start]`.
        @usableFromInline var start = 0
        @usableFromInline var end = 0
        @usableFromInline var offset: Int64 = 0
        @usableFromInline var eof = false
        @usableFromInline var reported: Int64 = 0

        init(path: String, decoder: Decoder, chunkSize: Int, subtask: Int, splits: Int, blockSize: Int64, size: Int64,
             progress: ReadProgress, rounds: ReaderRounds, maxAheadRounds: Int?) {
            self.path = path; self.decoder = decoder; self.chunkSize = chunkSize
            self.subtask = subtask; self.splits = splits; self.blockSize = blockSize; self.size = size
            self.progress = progress; self.rounds = rounds; self.maxAheadRounds = maxAheadRounds
        }

        public mutating func open(context: SourceContext) throws {
            fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 { throw StreamKitError(.io, "cannot open \(path): \(String(cString: strerror(errno)))") }
            buffer = [UInt8](repeating: 0, count: chunkSize)
            _ = rounds.enter(0, reader: subtask, maxAhead: nil)
            try seek(block: Int64(subtask))
        }

        /// Positions the reader at the first line starting in block `block` (past the end of the
        /// file: nothing left).
        @usableFromInline
        mutating func seek(block: Int64) throws {
            rangeStart = Swift.min(block * blockSize, size)
            rangeEnd = Swift.min(rangeStart + blockSize, size)
            start = 0; end = 0; eof = false
            offset = rangeStart
            if lseek(fd, off_t(rangeStart), SEEK_SET) < 0 { throw StreamKitError(.io, "cannot seek \(path)") }
            // A block that does not start the file begins one byte early: if that byte is a newline
            // the block's first line starts exactly at `rangeStart`, otherwise the partial line up
            // to the first newline belongs to the previous block.
            if rangeStart > 0 && rangeStart < size {
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

        /// Moves to this reader's next block; false when there is none. Counts the finished
        /// block's bytes as read.
        @usableFromInline
        mutating func nextBlock() throws -> SourceStatus {
            let next = Int64(round + 1) * Int64(splits) + Int64(subtask)
            if next * blockSize >= size {
                _ = rounds.enter(Int.max, reader: subtask, maxAhead: nil)
                return .finished
            }
            guard rounds.enter(round + 1, reader: subtask, maxAhead: maxAheadRounds) else { return .idle }
            round += 1
            let consumed = rangeEnd - rangeStart
            if consumed > reported { progress.add(consumed - reported) }
            try seek(block: next)
            return .more
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
                if offset >= rangeEnd {     // the next line starts in the next block
                    let status = try nextBlock()
                    if status != .more { return produced > 0 ? .more : status }
                    continue
                }
                let nl: Int? = buffer.withUnsafeBytes { b in
                    guard end > start, let p = memchr(b.baseAddress! + start, 0x0A, end - start) else { return nil }
                    return b.baseAddress!.distance(to: UnsafeRawPointer(p))
                }
                var lineEnd: Int
                let next: Int
                if let nl { lineEnd = nl; next = nl + 1 } else {
                    if !eof { try fill(); continue }
                    if end == start { offset = Swift.max(offset, rangeEnd); continue }
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
