import StreamKit

/// Appends JSON text to a reusable byte buffer.
///
/// Commas are inserted automatically: call `beginObject()`, then alternate `key(_:)` and a value
/// call, then `endObject()`; arrays take values directly. Nothing is allocated per value once
/// `bytes` has grown to its working size: numbers are formatted in stack memory (doubles by the
/// standard library's shortest round-trip formatter, streamed without creating a `String`). The
/// writer does not check that calls are balanced; it trusts the caller to produce a well-formed
/// sequence.
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
    @usableFromInline package var needsComma: Bool

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
    package mutating func separator() {
        if needsComma { bytes.append(_JSONASCII.comma) }
    }

    /// Starts an object (as a value or array element).
    @inlinable
    public mutating func beginObject() {
        separator()
        bytes.append(_JSONASCII.openBrace)
        needsComma = false
    }

    /// Ends the current object.
    @inlinable
    public mutating func endObject() {
        bytes.append(_JSONASCII.closeBrace)
        needsComma = true
    }

    /// Starts an array (as a value or array element).
    @inlinable
    public mutating func beginArray() {
        separator()
        bytes.append(_JSONASCII.openBracket)
        needsComma = false
    }

    /// Ends the current array.
    @inlinable
    public mutating func endArray() {
        bytes.append(_JSONASCII.closeBracket)
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
        name.withUTF8Buffer { appendKey(UnsafeRawBufferPointer($0)) }
    }

    /// Writes an object key (escaped) followed by `:`.
    @inlinable
    public mutating func key(_ name: String) {
        var s = name
        s.withUTF8 { appendKey(UnsafeRawBufferPointer($0)) }
    }

    /// Writes an object key given as UTF-8 bytes (escaped) followed by `:`.
    @inlinable
    public mutating func key(utf8 name: UnsafeRawBufferPointer) {
        appendKey(name)
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
        let comma = needsComma
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { buffer in
            let p = buffer.baseAddress!
            var n = 0
            if comma { p[0] = _JSONASCII.comma; n = 1 }
            n = _jsonFormatInteger(number, into: p, at: n)
            appendSmall(p, n)
        }
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
        let comma = needsComma
        needsComma = true
        // Integral values of moderate size: integer digits plus ".0" (exact; re-parses as a double).
        if number.magnitude < 1e15, number == number.rounded(.towardZero) {
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { buffer in
                let p = buffer.baseAddress!
                var n = 0
                if comma { p[0] = _JSONASCII.comma; n = 1 }
                if number == 0 && number.sign == .minus { p[n] = _JSONASCII.minus; n &+= 1 }
                n = _jsonFormatInteger(Int64(number), into: p, at: n)
                p[n] = _JSONASCII.dot
                p[n &+ 1] = _JSONASCII.zero
                appendSmall(p, n &+ 2)
            }
            return
        }
        if comma { bytes.append(_JSONASCII.comma) }
        appendDouble(number)
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

    /// Appends `[,]"key":` — in one bulk append when the key needs no escaping.
    @inlinable
    mutating func appendKey(_ utf8: UnsafeRawBufferPointer) {
        let n = utf8.count
        var plain = n <= 64
        if plain, n > 0 {
            for c in utf8 where c < 0x20 || c == _JSONASCII.quote || c == _JSONASCII.backslash {
                plain = false
                break
            }
        }
        guard plain else {
            separator()
            appendQuoted(utf8)
            bytes.append(_JSONASCII.colon)
            needsComma = false
            return
        }
        let comma = needsComma
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 68) { buffer in
            let p = buffer.baseAddress!
            var i = 0
            if comma { p[0] = _JSONASCII.comma; i = 1 }
            p[i] = _JSONASCII.quote
            if n > 0 { (p + (i &+ 1)).update(from: utf8.baseAddress!.assumingMemoryBound(to: UInt8.self), count: n) }
            i &+= n &+ 1
            p[i] = _JSONASCII.quote
            p[i &+ 1] = _JSONASCII.colon
            appendSmall(p, i &+ 2)
        }
        needsComma = false
    }

    /// Appends `"` + escaped `utf8` + `"`. Runs of characters that need no escaping are copied in bulk.
    @inlinable
    mutating func appendQuoted(_ utf8: UnsafeRawBufferPointer) {
        bytes.append(_JSONASCII.quote)
        guard let base = utf8.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            bytes.append(_JSONASCII.quote)
            return
        }
        let n = utf8.count
        var runStart = 0
        var i = 0
        while i < n {
            let c = base[i]
            if c >= 0x20 && c != _JSONASCII.quote && c != _JSONASCII.backslash {
                i &+= 1
                continue
            }
            if i > runStart { bytes.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: i &- runStart)) }
            appendEscape(c)
            i &+= 1
            runStart = i
        }
        if n > runStart { bytes.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: n &- runStart)) }
        bytes.append(_JSONASCII.quote)
    }

    @usableFromInline
    mutating func appendEscape(_ c: UInt8) {
        bytes.append(_JSONASCII.backslash)
        switch c {
        case _JSONASCII.quote: bytes.append(_JSONASCII.quote)
        case _JSONASCII.backslash: bytes.append(_JSONASCII.backslash)
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

    /// Appends `count` bytes from `p` in one bulk copy.
    @inlinable @inline(__always)
    mutating func appendSmall(_ p: UnsafePointer<UInt8>, _ count: Int) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: p, count: count))
    }

    @inlinable @inline(__always)
    mutating func appendLiteral(_ literal: StaticString) {
        literal.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Integer to decimal into a stack buffer, then one bulk append.
    @inlinable
    mutating func appendUnsigned(_ number: UInt64) {
        if number < 10 {
            bytes.append(0x30 &+ UInt8(number))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            let n = _jsonFormatUnsigned(number, into: buffer.baseAddress!, at: 0)
            bytes.append(contentsOf: UnsafeBufferPointer(start: buffer.baseAddress!, count: n))
        }
    }

    /// Non-integral (or huge) doubles: `null` for NaN/infinity, else the shortest round-trip form.
    @inlinable
    mutating func appendDouble(_ number: Double) {
        guard number.isFinite else {
            appendLiteral("null")
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

/// Writes the decimal digits of `number` at `p + offset`; returns the new offset. `p` must have
/// room for 20 more bytes.
@inlinable @inline(__always)
package func _jsonFormatInteger(_ number: Int64, into p: UnsafeMutablePointer<UInt8>, at offset: Int) -> Int {
    var o = offset
    if number < 0 { p[o] = _JSONASCII.minus; o &+= 1 }
    return _jsonFormatUnsigned(number.magnitude, into: p, at: o)
}

/// Writes the decimal digits of `number` at `p + offset`, two digits per step; returns the new
/// offset. `p` must have room for 20 more bytes.
@inlinable @inline(__always)
package func _jsonFormatUnsigned(_ number: UInt64, into p: UnsafeMutablePointer<UInt8>, at offset: Int) -> Int {
    let o = offset
    var v = number
    if v < 10 {
        p[o] = 0x30 &+ UInt8(v)
        return o &+ 1
    }
    var digits = 0
    var t = v
    while t > 0 { t /= 10; digits &+= 1 }
    var i = o &+ digits
    while v >= 100 {
        let r = Int(v % 100)
        v /= 100
        i &-= 2
        p[i] = 0x30 &+ UInt8(r / 10)
        p[i &+ 1] = 0x30 &+ UInt8(r % 10)
    }
    if v >= 10 {
        p[i &- 2] = 0x30 &+ UInt8(v / 10)
        p[i &- 1] = 0x30 &+ UInt8(v % 10)
    } else {
        p[i &- 1] = 0x30 &+ UInt8(v)
    }
    return o &+ digits
}

/// A `TextOutputStream` that appends to a byte array; receives the standard library's ASCII
/// float formatting without an intermediate `String`.
@usableFromInline
package struct _JSONByteSink: TextOutputStream {
    @usableFromInline var bytes: [UInt8] = []

    @usableFromInline init() {}

    @usableFromInline
    package mutating func write(_ string: String) {
        bytes.append(contentsOf: string.utf8)
    }

    @usableFromInline
    package mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) {
        bytes.append(contentsOf: buffer)
    }
}
