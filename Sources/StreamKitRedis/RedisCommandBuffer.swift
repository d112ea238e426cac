public import StreamKit
public import StreamKitJSON
public import Glibc

/// Commands for one round trip, encoded as arguments in one flat byte buffer.
///
/// Nothing is allocated per argument: text, integers and doubles are appended as bytes, and the
/// connection points hiredis's argv straight into this buffer. Reuse one buffer (``removeAll()``)
/// to keep its capacity.
///
/// ```swift
/// var commands = RedisCommandBuffer()
/// for i in 0..<1000 {
///     commands.arg("SET"); commands.part("key:"); commands.part(Int64(i)); commands.endArg()
///     commands.arg("value"); commands.arg("EX"); commands.arg(3600 as Int64)
///     commands.endCommand()
/// }
/// try connection.pipeline(commands, into: &replies)
/// ```
public struct RedisCommandBuffer: Sendable {
    /// The bytes of every argument, back to back.
    @usableFromInline var bytes: [UInt8] = []
    /// End offset (in `bytes`) of each argument.
    @usableFromInline var argEnds: [Int] = []
    /// End index (in `argEnds`) of each command.
    @usableFromInline var commandEnds: [Int] = []
    /// Scratch writer used to format doubles in their shortest round-trip form.
    @usableFromInline var doubleScratch = JSONWriter(capacity: 32)

    public init(capacity: Int = 64 << 10) { bytes.reserveCapacity(capacity) }

    /// Number of complete commands.
    @inlinable public var count: Int { commandEnds.count }
    /// True when no command is complete.
    @inlinable public var isEmpty: Bool { commandEnds.isEmpty }
    /// Bytes of argument data held.
    @inlinable public var byteCount: Int { bytes.count }

    /// Removes every command, keeping the capacity.
    @inlinable public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        argEnds.removeAll(keepingCapacity: true)
        commandEnds.removeAll(keepingCapacity: true)
    }

    // MARK: Parts of the current argument

    /// Appends text to the current argument (call ``endArg()`` to close it).
    @inlinable public mutating func part(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }
    /// Appends the UTF-8 of `s` to the current argument.
    @inlinable public mutating func part(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }
    /// Appends raw bytes to the current argument.
    @inlinable public mutating func part(bytes raw: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: raw)
    }
    /// Appends an integer's decimal digits to the current argument.
    @inlinable public mutating func part(_ n: Int64) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { b in
            let n = _jsonFormatInteger(n, into: b.baseAddress!, at: 0)
            bytes.append(contentsOf: UnsafeBufferPointer(start: b.baseAddress!, count: n))
        }
    }
    /// Appends a double in its shortest round-trip form (`inf`, `-inf`, `nan` for non-finite values).
    @inlinable public mutating func part(_ d: Double) {
        if d.isFinite {
            doubleScratch.reset()
            doubleScratch.value(d)
            bytes.append(contentsOf: doubleScratch.bytes)
        } else if d.isNaN {
            part("nan")
        } else {
            part(d < 0 ? "-inf" : "inf")
        }
    }
    /// Closes the current argument (which may be empty).
    @inlinable public mutating func endArg() { argEnds.append(bytes.count) }

    // MARK: Whole arguments

    @inlinable public mutating func arg(_ s: StaticString) { part(s); endArg() }
    @inlinable public mutating func arg(_ s: String) { part(s); endArg() }
    @inlinable public mutating func arg(_ n: Int64) { part(n); endArg() }
    @inlinable public mutating func arg(_ n: Int) { part(Int64(n)); endArg() }
    @inlinable public mutating func arg(_ d: Double) { part(d); endArg() }
    @inlinable public mutating func arg(bytes raw: UnsafeRawBufferPointer) { part(bytes: raw); endArg() }

    /// Closes the current command.
    @inlinable public mutating func endCommand() { commandEnds.append(argEnds.count) }

    /// Appends one whole command.
    public mutating func command(_ args: [String]) {
        for a in args { arg(a) }
        endCommand()
    }

    /// Copies command `index` of `other` to the end of this buffer.
    mutating func appendCommand(_ index: Int, of other: RedisCommandBuffer) {
        let firstArg = index == 0 ? 0 : other.commandEnds[index - 1]
        for a in firstArg..<other.commandEnds[index] {
            let start = a == 0 ? 0 : other.argEnds[a - 1]
            bytes.append(contentsOf: other.bytes[start..<other.argEnds[a]])
            endArg()
        }
        endCommand()
    }

    /// The arguments of command `index` as strings (for messages; allocates).
    func arguments(of index: Int) -> [String] {
        let firstArg = index == 0 ? 0 : commandEnds[index - 1]
        return (firstArg..<commandEnds[index]).map { a in
            let start = a == 0 ? 0 : argEnds[a - 1]
            return String(decoding: bytes[start..<argEnds[a]], as: UTF8.self)
        }
    }
}
