public import StreamKit

// The compact "tape" produced in one validating pass over a document and consumed by
// `FastJSONDecoder` (and the Debezium helpers). Every value is one entry; an object is followed
// by its members as (key string entry, value entries...) pairs, an array by its elements. Each
// entry records where its subtree ends (`next`) so whole values can be skipped in O(1).

/// One value (or object key) on the tape.
@usableFromInline
package struct _TapeEntry: Sendable {
    /// Value kind (`.missing` is never stored).
    @usableFromInline package var kind: JSONScalar.Kind
    /// Strings: whether the body contains escape sequences.
    @usableFromInline package var hasEscapes: Bool
    /// Objects: number of members; arrays: number of elements.
    @usableFromInline var count: UInt32
    /// Byte span: string bodies exclude quotes; containers include their brackets.
    @usableFromInline package var start: UInt32
    @usableFromInline package var end: UInt32
    /// Index of the first entry after this value's subtree.
    @usableFromInline package var next: UInt32
    /// Objects: a 32-bit filter of member keys (`_jsonKeyFilterBit`), so lookups of absent keys
    /// usually fail without scanning; all ones when some key is escaped.
    @usableFromInline var keyFilter: UInt32 = 0

    @inlinable
    init(kind: JSONScalar.Kind, hasEscapes: Bool = false, count: UInt32 = 0, start: UInt32, end: UInt32, next: UInt32) {
        self.kind = kind
        self.hasEscapes = hasEscapes
        self.count = count
        self.start = start
        self.end = end
        self.next = next
    }
}

/// Manually managed, growable tape storage. Reads and writes go straight through the pointer
/// (no bounds checks, no copy-on-write, no exclusivity checks). Owned by one `_TapeDecoder`, which
/// calls `release()` when it dies; copies of this struct are views, not owners.
package struct _TapeStorage {
    private(set) var pointer: UnsafeMutablePointer<_TapeEntry>
    private(set) var count = 0
    private(set) var capacity: Int

    init(capacity: Int = 64) {
        self.capacity = capacity
        pointer = .allocate(capacity: capacity)
    }

    @inline(__always)
    package subscript(index: Int) -> _TapeEntry {
        get { pointer[index] }
        nonmutating set { pointer[index] = newValue }
    }

    @inline(__always)
    mutating func append(_ entry: _TapeEntry) {
        if count == capacity { grow() }
        (pointer + count).initialize(to: entry)
        count &+= 1
    }

    private mutating func grow() {
        let bigger = UnsafeMutablePointer<_TapeEntry>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: pointer, count: count)
        pointer.deallocate()
        pointer = bigger
        capacity *= 2
    }

    mutating func removeAll() { count = 0 }

    func release() { pointer.deallocate() }
}

/// The filter bit of an object key, from its length and first and last bytes.
@inline(__always)
package func _jsonKeyFilterBit(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt32 {
    guard n > 0 else { return 1 }
    let h = UInt32(truncatingIfNeeded: n) &* 7 &+ UInt32(p[0]) &+ UInt32(p[n &- 1]) &* 3
    return 1 &<< (h & 31)
}

/// Builds a tape from a document; the tape array is supplied by the caller so it can be reused.
@usableFromInline
package struct _TapeBuilder {
    var cursor: _JSONCursor
    var tape: _TapeStorage
    let maxDepth: Int

    init(base: UnsafePointer<UInt8>, count: Int, tape: _TapeStorage, maxDepth: Int) {
        self.cursor = _JSONCursor(base: base, count: count)
        self.tape = tape
        self.maxDepth = maxDepth
    }

    /// Parses the whole document (exactly one value plus optional whitespace).
    mutating func parseDocument() throws(_JSONFailure) {
        guard cursor.end < Int(UInt32.max) else { throw _jsonSyntaxError(.documentTooLarge, at: 0) }
        _ = try cursor.peekNonWhitespace()
        try value(depth: 0)
        try cursor.finish()
    }

    @inline(__always)
    mutating func appendString() throws(_JSONFailure) {
        let start = cursor.pos &+ 1
        cursor.pos = start
        let escapes = try cursor.scanStringBody()
        let index = UInt32(tape.count)
        tape.append(_TapeEntry(kind: .string, hasEscapes: escapes, start: UInt32(start),
                               end: UInt32(cursor.pos &- 1), next: index &+ 1))
    }

    mutating func value(depth: Int) throws(_JSONFailure) {
        let start = cursor.pos
        switch cursor.base[start] {
        case _JSONASCII.quote:
            try appendString()
        case _JSONASCII.minus, 0x30...0x39:
            try cursor.scanNumber()
            let index = UInt32(tape.count)
            tape.append(_TapeEntry(kind: .number, start: UInt32(start), end: UInt32(cursor.pos), next: index &+ 1))
        case 0x74, 0x66, 0x6E:
            let kind = try cursor.scanLiteral()
            let index = UInt32(tape.count)
            tape.append(_TapeEntry(kind: kind, start: UInt32(start), end: UInt32(cursor.pos), next: index &+ 1))
        case _JSONASCII.openBrace:
            try object(depth: depth)
        case _JSONASCII.openBracket:
            try array(depth: depth)
        default:
            throw _jsonSyntaxError(.unexpectedCharacter, at: start)
        }
    }

    mutating func object(depth: Int) throws(_JSONFailure) {
        guard depth < maxDepth else { throw _jsonSyntaxError(.tooDeep, at: cursor.pos) }
        let index = tape.count
        let start = cursor.pos
        tape.append(_TapeEntry(kind: .object, start: UInt32(start), end: 0, next: 0))
        cursor.pos &+= 1
        var members: UInt32 = 0
        var filter: UInt32 = 0
        var c = try cursor.peekNonWhitespace()
        if c != _JSONASCII.closeBrace {
            while true {
                guard c == _JSONASCII.quote else { throw _jsonSyntaxError(.expectedKey, at: cursor.pos) }
                try appendString()
                let key = tape[tape.count &- 1]
                filter |= key.hasEscapes ? UInt32.max
                    : _jsonKeyFilterBit(cursor.base + Int(key.start), Int(key.end &- key.start))
                guard try cursor.peekNonWhitespace() == _JSONASCII.colon else {
                    throw _jsonSyntaxError(.expectedColon, at: cursor.pos)
                }
                cursor.pos &+= 1
                _ = try cursor.peekNonWhitespace()
                try value(depth: depth &+ 1)
                members &+= 1
                c = try cursor.peekNonWhitespace()
                cursor.pos &+= 1
                if c == _JSONASCII.comma {
                    c = try cursor.peekNonWhitespace()
                    continue
                }
                if c == _JSONASCII.closeBrace { break }
                throw _jsonSyntaxError(.expectedCommaOrBrace, at: cursor.pos &- 1)
            }
        } else {
            cursor.pos &+= 1
        }
        tape[index].count = members
        tape[index].keyFilter = filter
        tape[index].end = UInt32(cursor.pos)
        tape[index].next = UInt32(tape.count)
    }

    mutating func array(depth: Int) throws(_JSONFailure) {
        guard depth < maxDepth else { throw _jsonSyntaxError(.tooDeep, at: cursor.pos) }
        let index = tape.count
        let start = cursor.pos
        tape.append(_TapeEntry(kind: .array, start: UInt32(start), end: 0, next: 0))
        cursor.pos &+= 1
        var elements: UInt32 = 0
        var c = try cursor.peekNonWhitespace()
        if c != _JSONASCII.closeBracket {
            while true {
                try value(depth: depth &+ 1)
                elements &+= 1
                c = try cursor.peekNonWhitespace()
                cursor.pos &+= 1
                if c == _JSONASCII.comma {
                    _ = try cursor.peekNonWhitespace()
                    continue
                }
                if c == _JSONASCII.closeBracket { break }
                throw _jsonSyntaxError(.expectedCommaOrBracket, at: cursor.pos &- 1)
            }
        } else {
            cursor.pos &+= 1
        }
        tape[index].count = elements
        tape[index].end = UInt32(cursor.pos)
        tape[index].next = UInt32(tape.count)
    }
}
