public import Glibc

/// A bounded source over an in-memory array (one split). Its position is the index of the next record.
public struct CollectionSource<Element: Sendable>: Source {
    public let values: [Element]
    public init(_ values: [Element]) { self.values = values }
    public var parallelism: Int { 1 }
    public func makeReader(subtask: Int) throws -> Reader { Reader(values: values) }

    public struct Reader: SourceReader {
        @usableFromInline let values: [Element]
        @usableFromInline var position = 0
        @inlinable init(values: [Element]) { self.values = values }
        @inlinable
        public mutating func poll(into batch: inout Batch<Element>, deadLetters: inout [DeadLetter<String>], maxRecords: Int) throws -> SourceStatus {
            let end = Swift.min(values.count, position + maxRecords)
            while position < end {
                batch.append(values[position], timestamp: Watermark.none, watermark: Watermark.none)
                position += 1
            }
            return position >= values.count ? .finished : .more
        }
        public func snapshotPosition(into writer: inout ByteWriter) { writer.writeVarUInt(UInt64(position)) }
        public mutating func restorePosition(_ bytes: [UInt8]) throws {
            var r = ByteReader(bytes); position = Int(try r.readVarUInt())
        }
    }
}

/// Turns one input line (without its newline) into a record, or throws to send it to the dead letters.
public protocol LineDecoder: Sendable {
    associatedtype Output: Sendable
    /// Decodes one line. Reusable scratch state lives in `self` (one decoder per reader).
    mutating func decode(_ line: UnsafeRawBufferPointer) throws -> Output
    /// Decodes one line, or returns nil for a line that is valid but carries no record for this
    /// job (e.g. a delete when the job reads after-images). Sources call this one.
    mutating func decodeIfRelevant(_ line: UnsafeRawBufferPointer) throws -> Output?
    /// Decodes a record that has a key as well (a Kafka message; nil: no key). Sources with keys
    /// call this one; the default ignores the key.
    mutating func decodeIfRelevant(_ value: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer?) throws -> Output?
}

extension LineDecoder {
    @inlinable public mutating func decodeIfRelevant(_ line: UnsafeRawBufferPointer) throws -> Output? { try decode(line) }
    @inlinable public mutating func decodeIfRelevant(_ value: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer?) throws -> Output? {
        try decodeIfRelevant(value)
    }
}

/// Lines as strings.
public struct StringLines: LineDecoder {
    public init() {}
    @inlinable public mutating func decode(_ line: UnsafeRawBufferPointer) throws -> String {
        String(decoding: line, as: UTF8.self)
    }
}

/// Lines decoded by a closure (e.g. a custom byte-level parser).
public struct ClosureLineDecoder<Output: Sendable>: LineDecoder {
    @usableFromInline let body: @Sendable (UnsafeRawBufferPointer) throws -> Output
    @inlinable public init(_ body: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Output) { self.body = body }
    @inlinable public mutating func decode(_ line: UnsafeRawBufferPointer) throws -> Output { try body(line) }
}

/// A newline-delimited file (or standard input with path `-`) read in large chunks on the source
/// thread; each line is decoded by a ``LineDecoder``. A line that fails to decode goes to the
/// dead letters with the reason and its line number, and reading continues.
/// The checkpointed position is the byte offset of the next line.
public struct FileSource<Decoder: LineDecoder>: Source {
    public let path: String
    public let decoder: Decoder
    public var chunkSize: Int
    public init(path: String, decoder: Decoder, chunkSize: Int = 4 << 20) {
        self.path = path; self.decoder = decoder; self.chunkSize = chunkSize
    }
    public var parallelism: Int { 1 }
    public func makeReader(subtask: Int) throws -> Reader { Reader(path: path, decoder: decoder, chunkSize: chunkSize) }

    public struct Reader: SourceReader {
        @usableFromInline let path: String
        @usableFromInline var decoder: Decoder
        @usableFromInline let chunkSize: Int
        @usableFromInline var fd: Int32 = -1
        @usableFromInline var buffer: [UInt8] = []
        /// Valid bytes are `buffer[start..<end]`.
        @usableFromInline var start = 0
        @usableFromInline var end = 0
        /// File offset of `buffer[start]`.
        @usableFromInline var offset: Int64 = 0
        @usableFromInline var lineNumber: Int64 = 0
        @usableFromInline var eof = false
        @usableFromInline var restoreOffset: Int64 = 0
        @usableFromInline var restoreLine: Int64 = 0

        @inlinable init(path: String, decoder: Decoder, chunkSize: Int) {
            self.path = path; self.decoder = decoder; self.chunkSize = chunkSize
        }

        public mutating func open(context: SourceContext) throws {
            if path == "-" { fd = 0 } else {
                fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
                if fd < 0 { throw StreamKitError(.io, "cannot open \(path): \(String(cString: strerror(errno)))") }
            }
            buffer = [UInt8](repeating: 0, count: chunkSize)
            if restoreOffset > 0 {
                guard fd != 0 else { throw StreamKitError(.io, "cannot restore a position on standard input") }
                if lseek(fd, off_t(restoreOffset), SEEK_SET) < 0 { throw StreamKitError(.io, "cannot seek \(path)") }
                offset = restoreOffset; lineNumber = restoreLine
            }
        }

        @inlinable
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
            while produced < maxRecords {
                // Find the next newline in the valid region.
                let nl: Int? = buffer.withUnsafeBytes { b in
                    guard end > start, let p = memchr(b.baseAddress! + start, 0x0A, end - start) else { return nil }
                    return b.baseAddress!.distance(to: UnsafeRawPointer(p))
                }
                var lineEnd: Int
                var next: Int
                if let nl { lineEnd = nl; next = nl + 1 } else {
                    if !eof { try fill(); continue }
                    if end == start { return .finished }
                    lineEnd = end; next = end      // last line without a newline
                }
                var lineStart = start
                if lineEnd > lineStart && buffer[lineEnd - 1] == 0x0D { lineEnd -= 1 }   // CRLF
                lineNumber += 1
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
                        deadLetters.append(DeadLetter(record: text, reason: "\(path):\(lineNumber): \(error)"))
                    }
                }
                lineStart = next
                offset += Int64(next - start)
                start = next
            }
            return .more
        }

        public func snapshotPosition(into writer: inout ByteWriter) {
            writer.writeVarInt(offset); writer.writeVarInt(lineNumber)
        }
        public mutating func restorePosition(_ bytes: [UInt8]) throws {
            var r = ByteReader(bytes); restoreOffset = try r.readVarInt(); restoreLine = try r.readVarInt()
        }
        public mutating func close() { if fd > 0 { Glibc.close(fd); fd = -1 } }
    }
}

/// Writes each record as one line to a file (or `-` for standard output), exactly once across
/// restores: at each checkpoint the file is flushed and its length recorded; a restore truncates the
/// file to the recorded length, so output written after the checkpoint is not duplicated.
public struct FileSink<Element: Sendable>: StreamOperator {
    public typealias Output = Never
    @usableFromInline let path: String
    @usableFromInline let encode: @Sendable (Element, inout [UInt8]) -> Void
    @usableFromInline var fd: Int32 = -1
    @usableFromInline var pending: [UInt8] = []
    @usableFromInline var written: Int64 = 0
    @usableFromInline var truncateTo: Int64? = nil

    /// `encode` appends one record's bytes (without the newline) to the buffer.
    @inlinable public init(path: String, encode: @escaping @Sendable (Element, inout [UInt8]) -> Void) {
        self.path = path; self.encode = encode
    }

    public mutating func open(context: OperatorContext) throws {
        if path == "-" { fd = 1; return }
        let flags = truncateTo == nil ? (O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC) : (O_WRONLY | O_CREAT | O_CLOEXEC)
        fd = Glibc.open(path, flags, 0o644)
        if fd < 0 { throw StreamKitError(.io, "cannot open \(path) for writing: \(String(cString: strerror(errno)))") }
        if let t = truncateTo {
            if ftruncate(fd, off_t(t)) != 0 { throw StreamKitError(.io, "cannot truncate \(path)") }
            lseek(fd, off_t(t), SEEK_SET)
            written = t
        }
        pending.reserveCapacity(1 << 20)
    }

    @inlinable mutating func flushPending() throws {
        var done = 0
        while done < pending.count {
            let n = pending.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StreamKitError(.io, "write \(path): \(String(cString: strerror(errno)))", retriable: true)
            }
            done += n
        }
        written += Int64(pending.count)
        pending.removeAll(keepingCapacity: true)
    }

    @inlinable
    public mutating func processBatch(_ input: inout Batch<Element>, into output: inout Batch<Never>,
                                      side: inout Batch<Never>, context: OperatorContext) throws {
        for v in input.values { encode(v, &pending); pending.append(0x0A) }
        if pending.count >= 1 << 20 { try flushPending() }
        recordLatency(input, context)
    }

    public mutating func snapshotState(_ snapshot: inout OperatorSnapshot, context: OperatorContext) throws {
        try flushPending()
        if fd > 2 { fsync(fd) }
        snapshot.operatorState.writeVarInt(written)
    }
    public mutating func restoreState(_ restore: OperatorRestore, context: OperatorContext) throws {
        if let b = restore.operatorState { var r = ByteReader(b); truncateTo = try r.readVarInt() }
    }
    public mutating func finish(into output: inout Batch<Never>, side: inout Batch<Never>, context: OperatorContext) throws {
        try flushPending()
        if fd > 2 { fsync(fd); Glibc.close(fd); fd = -1 }
    }
}

/// Records the end-to-end latency of a batch reaching a sink.
@inlinable
package func recordLatency<T>(_ batch: Batch<T>, _ context: OperatorContext) {
    if batch.ingestNanos != 0 && !batch.isEmpty {
        let micros = (MonotonicClock.nanos() &- batch.ingestNanos) / 1000
        context.jobMetrics.endToEndLatency.record(micros: micros, count: UInt64(batch.count))
    }
}

/// Collects records in memory (thread-safe; for tests and small jobs). Not exactly-once across restores.
public final class CollectedOutput<Element: Sendable>: @unchecked Sendable {
    // @unchecked: `values` is only touched under `lock`.
    private let lock = ConditionLock()
    private var storage: [Element] = []
    public init() {}
    public func append(contentsOf values: [Element]) { lock.withLock { storage.append(contentsOf: values) } }
    public var values: [Element] { lock.withLock { storage } }
    public var count: Int { lock.withLock { storage.count } }
}

/// Sink into a ``CollectedOutput``.
public struct CollectSink<Element: Sendable>: StreamOperator {
    public typealias Output = Never
    @usableFromInline let target: CollectedOutput<Element>
    @inlinable public init(_ target: CollectedOutput<Element>) { self.target = target }
    @inlinable
    public mutating func processBatch(_ input: inout Batch<Element>, into output: inout Batch<Never>,
                                      side: inout Batch<Never>, context: OperatorContext) throws {
        target.append(contentsOf: input.values)
        recordLatency(input, context)
    }
}

/// Discards records, calling `observe` on each (counting, checksums) — the benchmark sink.
public struct DiscardSink<Element: Sendable, State: Sendable>: StreamOperator {
    public typealias Output = Never
    @usableFromInline var state: State
    @usableFromInline let observe: @Sendable (inout State, Element) -> Void
    @usableFromInline let done: @Sendable (State) -> Void
    @inlinable public init(initial: State, observe: @escaping @Sendable (inout State, Element) -> Void,
                           done: @escaping @Sendable (State) -> Void) {
        state = initial; self.observe = observe; self.done = done
    }
    @inlinable
    public mutating func processBatch(_ input: inout Batch<Element>, into output: inout Batch<Never>,
                                      side: inout Batch<Never>, context: OperatorContext) throws {
        for v in input.values { observe(&state, v) }
        recordLatency(input, context)
    }
    public mutating func finish(into output: inout Batch<Never>, side: inout Batch<Never>, context: OperatorContext) throws {
        done(state)
    }
}

extension DataStream {
    /// Collects the stream in memory.
    @discardableResult @inlinable
    public func collect(into target: CollectedOutput<Element>, name: String = "collect") -> DataStream<Never> {
        sink(name) { CollectSink(target) }
    }
    /// Writes the stream to a file, one record per line, exactly once across restores (one writer).
    @discardableResult @inlinable
    public func writeLines(to path: String, name: String = "file-sink",
                           encode: @escaping @Sendable (Element, inout [UInt8]) -> Void) -> DataStream<Never> {
        sink(name, parallelism: 1) { FileSink(path: path, encode: encode) }
    }
}

