import StreamKit
public import StreamKitCapture

/// Decoding of PostgreSQL's logical replication stream: the CopyBoth frames of
/// `START_REPLICATION … LOGICAL` (XLogData `w`, primary keepalive `k`) and the messages of the
/// built-in `pgoutput` plugin (protocol version 1): Begin, Commit, Origin, Relation, Type, Insert,
/// Update, Delete, Truncate and logical decoding Message. All integers are big-endian; strings are
/// NUL-terminated. Tuple values arrive in text form (`t`), as NULL (`n`), or as "unchanged TOAST"
/// (`u`: the column was not sent and must not be invented).
///
public enum PgOutput {
    /// A log sequence number.
    public typealias LSN = UInt64

    /// Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01).
    public static let postgresEpochOffsetMicros: Int64 = 946_684_800_000_000

    /// A CopyBoth frame from the server.
    public enum Frame: Sendable, Equatable {
        /// XLogData: WAL starting at `walStart`, the server's WAL end, its clock, and one pgoutput message.
        case xLogData(walStart: LSN, walEnd: LSN, serverTimeMicros: Int64, message: Message)
        /// Primary keepalive: answer with a standby status update when `replyRequested`.
        case keepalive(walEnd: LSN, serverTimeMicros: Int64, replyRequested: Bool)
    }

    /// One column of a relation.
    public struct Column: Sendable, Equatable {
        public var name: String
        public var typeOID: UInt32
        public var typeModifier: Int32
        /// Part of the replica identity (the key).
        public var isKey: Bool
        public init(name: String, typeOID: UInt32, typeModifier: Int32, isKey: Bool) {
            self.name = name; self.typeOID = typeOID; self.typeModifier = typeModifier; self.isKey = isKey
        }
    }

    /// A column value of a tuple: the capture core's neutral value (`.null`, `.unchangedToast`
    /// — a TOASTed value that was not sent, keep the old one — or `.text`).
    public typealias Value = ColumnValue

    /// A decoded pgoutput message.
    public enum Message: Sendable, Equatable {
        case begin(finalLSN: LSN, commitTimeMicros: Int64, xid: UInt32)
        case commit(flags: UInt8, commitLSN: LSN, endLSN: LSN, commitTimeMicros: Int64)
        case origin(lsn: LSN, name: String)
        /// `replicaIdentity`: `d` default, `n` nothing, `f` full, `i` index.
        case relation(id: UInt32, namespace: String, name: String, replicaIdentity: UInt8, columns: [Column])
        case type(oid: UInt32, namespace: String, name: String)
        case insert(relation: UInt32, new: [Value])
        /// `old` is the key (`K`) or the full old row (`O`, REPLICA IDENTITY FULL) when sent.
        case update(relation: UInt32, old: [Value]?, oldIsKeyOnly: Bool, new: [Value])
        case delete(relation: UInt32, old: [Value], oldIsKeyOnly: Bool)
        case truncate(relations: [UInt32], cascade: Bool, restartIdentity: Bool)
        case message(transactional: Bool, lsn: LSN, prefix: String, content: [UInt8])
    }

    /// Decodes one CopyData payload of the replication stream.
    public static func decodeFrame(_ bytes: [UInt8]) throws -> Frame {
        var r = Reader(bytes)
        switch try r.u8() {
        case UInt8(ascii: "w"):
            let start = try r.u64(), end = try r.u64(), time = try r.i64()
            return .xLogData(walStart: start, walEnd: end, serverTimeMicros: time, message: try decodeMessage(&r))
        case UInt8(ascii: "k"):
            let end = try r.u64(), time = try r.i64()
            return .keepalive(walEnd: end, serverTimeMicros: time, replyRequested: try r.u8() != 0)
        case let t:
            throw StreamKitError(.malformedInput, "unknown replication frame '\(Character(UnicodeScalar(t)))'")
        }
    }

    /// Decodes one pgoutput message.
    public static func decodeMessage(_ bytes: [UInt8]) throws -> Message {
        var r = Reader(bytes)
        return try decodeMessage(&r)
    }

    static func decodeMessage(_ r: inout Reader) throws -> Message {
        let tag = try r.u8()
        switch tag {
        case UInt8(ascii: "B"):
            return .begin(finalLSN: try r.u64(), commitTimeMicros: try r.i64(), xid: try r.u32())
        case UInt8(ascii: "C"):
            return .commit(flags: try r.u8(), commitLSN: try r.u64(), endLSN: try r.u64(), commitTimeMicros: try r.i64())
        case UInt8(ascii: "O"):
            return .origin(lsn: try r.u64(), name: try r.string())
        case UInt8(ascii: "R"):
            let id = try r.u32(), ns = try r.string(), name = try r.string(), identity = try r.u8()
            let n = Int(try r.i16())
            var columns: [Column] = []
            for _ in 0..<max(n, 0) {
                let flags = try r.u8()
                columns.append(Column(name: try r.string(), typeOID: try r.u32(), typeModifier: try r.i32(), isKey: flags & 1 != 0))
            }
            return .relation(id: id, namespace: ns, name: name, replicaIdentity: identity, columns: columns)
        case UInt8(ascii: "Y"):
            return .type(oid: try r.u32(), namespace: try r.string(), name: try r.string())
        case UInt8(ascii: "I"):
            let id = try r.u32()
            try r.expect(UInt8(ascii: "N"), "insert")
            return .insert(relation: id, new: try tuple(&r))
        case UInt8(ascii: "U"):
            let id = try r.u32()
            var old: [Value]? = nil
            var keyOnly = false
            var kind = try r.u8()
            if kind == UInt8(ascii: "K") || kind == UInt8(ascii: "O") {
                keyOnly = kind == UInt8(ascii: "K")
                old = try tuple(&r)
                kind = try r.u8()
            }
            guard kind == UInt8(ascii: "N") else { throw StreamKitError(.malformedInput, "update without a new tuple") }
            return .update(relation: id, old: old, oldIsKeyOnly: keyOnly, new: try tuple(&r))
        case UInt8(ascii: "D"):
            let id = try r.u32()
            let kind = try r.u8()
            guard kind == UInt8(ascii: "K") || kind == UInt8(ascii: "O") else {
                throw StreamKitError(.malformedInput, "delete without an old tuple")
            }
            return .delete(relation: id, old: try tuple(&r), oldIsKeyOnly: kind == UInt8(ascii: "K"))
        case UInt8(ascii: "T"):
            let n = Int(try r.u32()), options = try r.u8()
            var ids: [UInt32] = []
            for _ in 0..<n { ids.append(try r.u32()) }
            return .truncate(relations: ids, cascade: options & 1 != 0, restartIdentity: options & 2 != 0)
        case UInt8(ascii: "M"):
            let flags = try r.u8(), lsn = try r.u64(), prefix = try r.string()
            let length = Int(try r.u32())
            return .message(transactional: flags & 1 != 0, lsn: lsn, prefix: prefix, content: try r.bytes(length))
        default:
            throw StreamKitError(.malformedInput, "unknown pgoutput message '\(Character(UnicodeScalar(tag)))'")
        }
    }

    static func tuple(_ r: inout Reader) throws -> [Value] {
        let n = Int(try r.i16())
        var values: [Value] = []
        values.reserveCapacity(max(n, 0))
        for _ in 0..<max(n, 0) {
            switch try r.u8() {
            case UInt8(ascii: "n"): values.append(.null)
            case UInt8(ascii: "u"): values.append(.unchangedToast)
            case UInt8(ascii: "t"):
                let length = Int(try r.u32())
                values.append(.text(String(decoding: try r.bytes(length), as: UTF8.self)))
            case let k: throw StreamKitError(.malformedInput, "unknown tuple value kind '\(Character(UnicodeScalar(k)))'")
            }
        }
        return values
    }

    /// The standby status update (`r`) that reports positions to the server: WAL up to `flush` may
    /// be released (send it only once everything up to it is safely published).
    public static func standbyStatusUpdate(write: LSN, flush: LSN, apply: LSN, clockMicros: Int64, replyRequested: Bool = false) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "r")]
        out.reserveCapacity(34)
        for v in [write, flush, apply, UInt64(bitPattern: clockMicros)] {
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
        }
        out.append(replyRequested ? 1 : 0)
        return out
    }

    /// Formats an LSN the way PostgreSQL prints it (`16/B374D848`).
    public static func format(_ lsn: LSN) -> String {
        String(lsn >> 32, radix: 16, uppercase: true) + "/" + String(lsn & 0xFFFF_FFFF, radix: 16, uppercase: true)
    }

    /// Parses `16/B374D848`.
    public static func parseLSN(_ text: String) -> LSN? {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let hi = UInt64(parts[0], radix: 16), let lo = UInt64(parts[1], radix: 16), hi <= 0xFFFF_FFFF, lo <= 0xFFFF_FFFF else { return nil }
        return hi << 32 | lo
    }

    /// A big-endian cursor that throws on truncation.
    struct Reader {
        let bytes: [UInt8]
        var offset = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        mutating func need(_ n: Int) throws {
            guard n >= 0, offset + n <= bytes.count else {
                throw StreamKitError(.malformedInput, "truncated replication message at byte \(offset) (need \(n) more)")
            }
        }
        mutating func u8() throws -> UInt8 { try need(1); defer { offset += 1 }; return bytes[offset] }
        mutating func uint(_ size: Int) throws -> UInt64 {
            try need(size)
            var v: UInt64 = 0
            for i in 0..<size { v = v << 8 | UInt64(bytes[offset + i]) }
            offset += size
            return v
        }
        mutating func u32() throws -> UInt32 { UInt32(try uint(4)) }
        mutating func i32() throws -> Int32 { Int32(bitPattern: UInt32(try uint(4))) }
        mutating func i16() throws -> Int16 { Int16(bitPattern: UInt16(try uint(2))) }
        mutating func u64() throws -> UInt64 { try uint(8) }
        mutating func i64() throws -> Int64 { Int64(bitPattern: try uint(8)) }
        mutating func bytes(_ n: Int) throws -> [UInt8] { try need(n); defer { offset += n }; return Array(bytes[offset..<offset + n]) }
        mutating func string() throws -> String {
            guard let end = bytes[offset...].firstIndex(of: 0) else {
                throw StreamKitError(.malformedInput, "unterminated string at byte \(offset)")
            }
            defer { offset = end + 1 }
            return String(decoding: bytes[offset..<end], as: UTF8.self)
        }
        mutating func expect(_ byte: UInt8, _ what: String) throws {
            let b = try u8()
            guard b == byte else { throw StreamKitError(.malformedInput, "\(what): expected '\(Character(UnicodeScalar(byte)))' at byte \(offset - 1)") }
        }
    }
}
