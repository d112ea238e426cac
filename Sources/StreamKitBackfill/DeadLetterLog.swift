public import StreamKit
import StreamKitJSON
import Glibc
import Synchronization

/// Where a backfill's bad input goes as it is found: every dead letter appended to an NDJSON
/// file (`{"reason":…,"code":…,"record":…}`, the lines `writeDeadLetters(to:)` writes), the first
/// ``keep`` also held for ``Backfill/Result/deadLetters`` — so that a history full of bad lines
/// costs disk, not memory. The file is created with the first dead letter (none: no file).
/// Shared by the history's subtasks and the label reader.
///
/// ```swift
/// let log = DeadLetterLog(path: "train.csv.dead-letters.ndjson", keep: 100)
/// try log.append(DeadLetter(record: line, reason: "labels.ndjson at byte 120: no label_time"))
/// try log.close()   // log.count: all of them; log.kept: the first 100
/// ```
public final class DeadLetterLog: Sendable {
    /// The file every dead letter is appended to (nil: only counted and the first ``keep`` held).
    public let path: String?
    /// Dead letters held in memory at most (the first ones).
    public let keep: Int

    private struct State {
        var fd: Int32 = -1
        var count = 0
        var kept: [DeadLetter<String>] = []
        var line = JSONWriter(capacity: 256)
    }
    private let state = Mutex(State())

    public init(path: String?, keep: Int = 1000) {
        self.path = path
        self.keep = max(keep, 0)
    }

    deinit { state.withLock { if $0.fd >= 0 { Glibc.close($0.fd) } } }

    /// Dead letters appended so far.
    public var count: Int { state.withLock { $0.count } }
    /// The first ``keep`` of them.
    public var kept: [DeadLetter<String>] { state.withLock { $0.kept } }

    /// Counts `letters`, keeps them while fewer than ``keep`` are held, and appends them to the file.
    public func append<C: Collection>(contentsOf letters: C) throws where C.Element == DeadLetter<String> {
        guard !letters.isEmpty else { return }
        try state.withLock { s in
            s.count += letters.count
            for d in letters where s.kept.count < keep { s.kept.append(d) }
            guard let path else { return }
            if s.fd < 0 { s.fd = try DurableFile.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC) }
            s.line.reset()
            for d in letters {
                d.writeJSON(into: &s.line)
                s.line.newline()
            }
            try RecordFileWriter.writeAll(s.fd, s.line.bytes, path: path)
        }
    }

    public func append(_ letter: DeadLetter<String>) throws { try append(contentsOf: CollectionOfOne(letter)) }

    /// Closes the file (appending after this reopens and truncates it: call once, at the end).
    public func close() throws {
        try state.withLock { s in
            guard s.fd >= 0 else { return }
            let rc = Glibc.close(s.fd)
            s.fd = -1
            if rc != 0 { throw StreamKitError(.io, "cannot close the dead-letter file \(path ?? ""): \(String(cString: strerror(errno)))") }
        }
    }
}
