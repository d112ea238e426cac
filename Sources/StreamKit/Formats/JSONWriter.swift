/// Appends JSON text to a reusable byte buffer.
///
/// Commas are inserted automatically: call `beginObject()`, then alternate `key(_:)` and a value
/// call, then `endObject()`; arrays take values directly. Nothing is allocated per value once
/// `bytes` has grown to its working size (doubles with more than 15 characters in their shortest
/// form are the one exception, see `value(_: Double)`). The writer does not check that calls are
/// balanced; it trusts the caller to produce a well-formed sequence.
///
/// ```swift
/// var w = JSONWriter()
/// w.beginObject()
/// w.key("key"); w.value(75414 as Int64)
/// w.key("sum"); w.value(290.31)
/// w.endObject()
/// w.newline()               // NDJSON record separator
/// sink.write(w.bytes); w.reset()
/// ```
public struct JSONWriter: Sendable {
    /// The JSON written so far.
    public var bytes: [UInt8]
    @usableFromInline var needsComma: Bool

    /// Creates a writer with `capacity` bytes reserved.
    public init(capacity: Int = 1024) {
        bytes = []
        bytes.reserveCapacity(capacity)
        needsComma = false
    }

    /// Clears the buffer, keeping its capacity.
    @inlinable
    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        needsComma = false
    }

    @inlinable @inline(__always)
    mutating func separator() {
        if needsComma { bytes.append(_ASCII.comma) }
    }

    /// Starts an object (as a value or array element).
    @inlinable
    public mutating func beginObject() {
        separator()
        bytes.append(_ASCII.openBrace)
        needsComma = false
    }

    /// Ends the current object.
    @inlinable
    public mutating func endObject() {
        bytes.append(_ASCII.closeBrace)
        needsComma = true
    }

    /// Starts an array (as a value or array element).
    @inlinable
    public mutating func beginArray() {
        separator()
        bytes.append(_ASCII.openBracket)
        needsComma = false
    }

    /// Ends the current array.
    @inlinable
    public mutating func endArray() {
        bytes.append(_ASCII.closeBracket)
        needsComma = true
    }

    /// Writes a newline and starts a fresh top-level value (NDJSON record separator).
    @inlinable
    public mutating func newline() {
        bytes.append(0x0A)
        needsComma = false
    }

    /// Writes an object key (escaped) followed by `:`.
    @inlinable
    public mutating func key(_ name: StaticString) {
        separator()
        name.withUTF8Buffer { appendQuoted(UnsafeRawBufferPointer($0)) }
        bytes.append(_ASCII.colon)
        needsComma = false
    }

    /// Writes an object key (escaped) followed by `:`.
    @inlinable
    public mutating func key(_ name: String) {
        separator()
        var s = name
        s.withUTF8 { appendQuoted(UnsafeRawBufferPointer($0)) }
        bytes.append(_ASCII.colon)
        needsComma = false
    }

    /// Writes an object key given as UTF-8 bytes (escaped) followed by `:`.
    @inlinable
    public mutating func key(utf8 name: UnsafeRawBufferPointer) {
        separator()
        appendQuoted(name)
        bytes.append(_ASCII.colon)
        needsComma = false
    }

    /// Writes a string value, escaping `"`, `\` and control characters.
    @inlinable
    public mutating func value(_ string: String) {
        separator()
        var s = string
        s.withUTF8 { appendQuoted(UnsafeRawBufferPointer($0)) }
        needsComma = true
    }

    /// Writes a string value, escaping `"`, `\` and control characters.
    @inlinable
    public mutating func value(_ string: StaticString) {
        separator()
        string.withUTF8Buffer { appendQuoted(UnsafeRawBufferPointer($0)) }
        needsComma = true
    }

    /// Writes a string value given as UTF-8 bytes, escaping as needed.
    @inlinable
    public mutating func value(utf8 string: UnsafeRawBufferPointer) {
        separator()
        appendQuoted(string)
        needsComma = true
    }

    /// Writes an integer.
    @inlinable
    public mutating func value(_ number: Int64) {
        separator()
        appendInteger(number)
        needsComma = true
    }

    /// Writes an integer.
    @inlinable
    public mutating func value(_ number: Int) {
        value(Int64(number))
    }

    /// Writes an unsigned integer.
    @inlinable
    public mutating func value(_ number: UInt64) {
        separator()
        appendUnsigned(number)
        needsComma = true
    }

    /// Writes a double in its shortest round-trip form. Integral values keep a `.0` suffix
    /// (`290.0`), large or tiny magnitudes use exponent notation (`1e+20`), and NaN or ±infinity,
    /// which JSON cannot represent, are written as `null`.
    @inlinable
    public mutating func value(_ number: Double) {
        separator()
        appendDouble(number)
        needsComma = true
    }

    /// Writes `true` or `false`.
    @inlinable
    public mutating func value(_ flag: Bool) {
        separator()
        if flag {
            appendLiteral("true")
        } else {
            appendLiteral("false")
        }
        needsComma = true
    }

    /// Writes `null`.
    @inlinable
    public mutating func null() {
        separator()
        appendLiteral("null")
        needsComma = true
    }

    /// Writes pre-encoded JSON verbatim as one value (the caller guarantees it is valid JSON).
    @inlinable
    public mutating func rawValue(_ json: UnsafeRawBufferPointer) {
        separator()
        bytes.append(contentsOf: json)
        needsComma = true
    }

    // Convenience `key` + value pairs.

    /// Writes `"name": number`.
    @inlinable public mutating func field(_ name: StaticString, _ number: Int64) { key(name); value(number) }
    /// Writes `"name": number`.
    @inlinable public mutating func field(_ name: StaticString, _ number: Int) { key(name); value(Int64(number)) }
    /// Writes `"name": number` (`null` for NaN/infinity).
    @inlinable public mutating func field(_ name: StaticString, _ number: Double) { key(name); value(number) }
    /// Writes `"name": "string"`.
    @inlinable public mutating func field(_ name: StaticString, _ string: String) { key(name); value(string) }
    /// Writes `"name": true|false`.
    @inlinable public mutating func field(_ name: StaticString, _ flag: Bool) { key(name); value(flag) }
    /// Writes `"name": null`.
    @inlinable public mutating func nullField(_ name: StaticString) { key(name); null() }

    // MARK: Encoding

    /// Appends `"` + escaped `utf8` + `"`. Runs of characters that need no escaping are copied in bulk.
    @inlinable
    mutating func appendQuoted(_ utf8: UnsafeRawBufferPointer) {
        bytes.append(_ASCII.quote)
        guard let base = utf8.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            bytes.append(_ASCII.quote)
            return
        }
        let n = utf8.count
        var runStart = 0
        var i = 0
        while i < n {
            let c = base[i]
            if c >= 0x20 && c != _ASCII.quote && c != _ASCII.backslash {
                i &+= 1
                continue
            }
            if i > runStart { bytes.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: i &- runStart)) }
            appendEscape(c)
            i &+= 1
            runStart = i
        }
        if n > runStart { bytes.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: n &- runStart)) }
        bytes.append(_ASCII.quote)
    }

    @usableFromInline
    mutating func appendEscape(_ c: UInt8) {
        bytes.append(_ASCII.backslash)
        switch c {
        case _ASCII.quote: bytes.append(_ASCII.quote)
        case _ASCII.backslash: bytes.append(_ASCII.backslash)
        case 0x0A: bytes.append(0x6E)
        case 0x0D: bytes.append(0x72)
        case 0x09: bytes.append(0x74)
        case 0x08: bytes.append(0x62)
        case 0x0C: bytes.append(0x66)
        default:
            let hex: StaticString = "0123456789abcdef"
            appendLiteral("u00")
            bytes.append(hex.utf8Start[Int(c >> 4)])
            bytes.append(hex.utf8Start[Int(c & 0xF)])
        }
    }

    @inlinable @inline(__always)
    mutating func appendLiteral(_ literal: StaticString) {
        literal.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    @inlinable
    mutating func appendInteger(_ number: Int64) {
        if number < 0 {
            bytes.append(_ASCII.minus)
            appendUnsigned(number.magnitude)
        } else {
            appendUnsigned(UInt64(number))
        }
    }

    /// Integer to decimal, two digits per step, into a stack buffer, then one bulk append.
    @inlinable
    mutating func appendUnsigned(_ number: UInt64) {
        if number < 10 {
            bytes.append(0x30 &+ UInt8(number))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            let p = buffer.baseAddress!
            var i = 20
            var v = number
            while v >= 100 {
                let r = Int(v % 100)
                v /= 100
                i &-= 2
                p[i] = 0x30 &+ UInt8(r / 10)
                p[i &+ 1] = 0x30 &+ UInt8(r % 10)
            }
            if v >= 10 {
                i &-= 2
                p[i] = 0x30 &+ UInt8(v / 10)
                p[i &+ 1] = 0x30 &+ UInt8(v % 10)
            } else {
                i &-= 1
                p[i] = 0x30 &+ UInt8(v)
            }
            bytes.append(contentsOf: UnsafeBufferPointer(start: p + i, count: 20 &- i))
        }
    }

    @inlinable
    mutating func appendDouble(_ number: Double) {
        guard number.isFinite else {
            appendLiteral("null")
            return
        }
        // Integral values of moderate size: integer digits plus ".0" (exact, and re-parses as a double).
        if number.magnitude < 1e15, number == number.rounded(.towardZero) {
            if number == 0 && number.sign == .minus { bytes.append(_ASCII.minus) }
            appendInteger(Int64(number))
            bytes.append(_ASCII.dot)
            bytes.append(_ASCII.zero)
            return
        }
        appendShortestDouble(number)
    }

    /// Shortest round-trip digits from the standard library's formatter, streamed straight into
    /// `bytes` (no `String` is created for the common case).
    @usableFromInline
    mutating func appendShortestDouble(_ number: Double) {
        var sink = _JSONByteSink()
        swap(&sink.bytes, &bytes)
        number.write(to: &sink)
        swap(&sink.bytes, &bytes)
    }
}

/// A `TextOutputStream` that appends to a byte array; receives the standard library's ASCII
/// float formatting without an intermediate `String`.
@usableFromInline
struct _JSONByteSink: TextOutputStream {
    @usableFromInline var bytes: [UInt8] = []

    @usableFromInline init() {}

    @usableFromInline
    mutating func write(_ string: String) {
        bytes.append(contentsOf: string.utf8)
    }

    @usableFromInline
    mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) {
        bytes.append(contentsOf: buffer)
    }
}
