// The compact "tape" produced in one validating pass over a document and consumed by
// `FastJSONDecoder` (and the Debezium helpers). Every value is one entry; an object is followed
// by its members as (key string entry, value entries...) pairs, an array by its elements. Each
// entry records where its subtree ends (`next`) so whole values can be skipped in O(1).

/// One value (or object key) on the tape.
@usableFromInline
struct _TapeEntry: Sendable {
    /// Value kind (`.missing` is never stored).
    @usableFromInline var kind: JSONScalar.Kind
    /// Strings: whether the body contains escape sequences.
    @usableFromInline var hasEscapes: Bool
    /// Objects: number of members; arrays: number of elements.
    @usableFromInline var count: UInt32
    /// Byte span: string bodies exclude quotes; containers include their brackets.
    @usableFromInline var start: UInt32
    @usableFromInline var end: UInt32
    /// Index of the first entry after this value's subtree.
    @usableFromInline var next: UInt32

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

/// Builds a tape from a document; the tape array is supplied by the caller so it can be reused.
@usableFromInline
struct _TapeBuilder {
    var cursor: _JSONCursor
    var tape: [_TapeEntry]
    let maxDepth: Int

    init(base: UnsafePointer<UInt8>, count: Int, tape: [_TapeEntry], maxDepth: Int) {
        self.cursor = _JSONCursor(base: base, count: count)
        self.tape = tape
        self.maxDepth = maxDepth
    }

    /// Parses the whole document (exactly one value plus optional whitespace).
    mutating func parseDocument() throws(StreamKitError) {
        guard cursor.end < Int(UInt32.max) else { throw _jsonSyntaxError(.documentTooLarge, at: 0) }
        _ = try cursor.peekNonWhitespace()
        try value(depth: 0)
        try cursor.finish()
    }

    @inline(__always)
    mutating func appendString() throws(StreamKitError) {
        let start = cursor.pos &+ 1
        cursor.pos = start
        let escapes = try cursor.scanStringBody()
        let index = UInt32(tape.count)
        tape.append(_TapeEntry(kind: .string, hasEscapes: escapes, start: UInt32(start),
                               end: UInt32(cursor.pos &- 1), next: index &+ 1))
    }

    mutating func value(depth: Int) throws(StreamKitError) {
        let start = cursor.pos
        switch cursor.base[start] {
        case _ASCII.quote:
            try appendString()
        case _ASCII.minus, 0x30...0x39:
            try cursor.scanNumber()
            let index = UInt32(tape.count)
            tape.append(_TapeEntry(kind: .number, start: UInt32(start), end: UInt32(cursor.pos), next: index &+ 1))
        case 0x74, 0x66, 0x6E:
            let kind = try cursor.scanLiteral()
            let index = UInt32(tape.count)
            tape.append(_TapeEntry(kind: kind, start: UInt32(start), end: UInt32(cursor.pos), next: index &+ 1))
        case _ASCII.openBrace:
            try object(depth: depth)
        case _ASCII.openBracket:
            try array(depth: depth)
        default:
            throw _jsonSyntaxError(.unexpectedCharacter, at: start)
        }
    }

    mutating func object(depth: Int) throws(StreamKitError) {
        guard depth < maxDepth else { throw _jsonSyntaxError(.tooDeep, at: cursor.pos) }
        let index = tape.count
        let start = cursor.pos
        tape.append(_TapeEntry(kind: .object, start: UInt32(start), end: 0, next: 0))
        cursor.pos &+= 1
        var members: UInt32 = 0
        var c = try cursor.peekNonWhitespace()
        if c != _ASCII.closeBrace {
            while true {
                guard c == _ASCII.quote else { throw _jsonSyntaxError(.expectedKey, at: cursor.pos) }
                try appendString()
                guard try cursor.peekNonWhitespace() == _ASCII.colon else {
                    throw _jsonSyntaxError(.expectedColon, at: cursor.pos)
                }
                cursor.pos &+= 1
                _ = try cursor.peekNonWhitespace()
                try value(depth: depth &+ 1)
                members &+= 1
                c = try cursor.peekNonWhitespace()
                cursor.pos &+= 1
                if c == _ASCII.comma {
                    c = try cursor.peekNonWhitespace()
                    continue
                }
                if c == _ASCII.closeBrace { break }
                throw _jsonSyntaxError(.expectedCommaOrBrace, at: cursor.pos &- 1)
            }
        } else {
            cursor.pos &+= 1
        }
        tape[index].count = members
        tape[index].end = UInt32(cursor.pos)
        tape[index].next = UInt32(tape.count)
    }

    mutating func array(depth: Int) throws(StreamKitError) {
        guard depth < maxDepth else { throw _jsonSyntaxError(.tooDeep, at: cursor.pos) }
        let index = tape.count
        let start = cursor.pos
        tape.append(_TapeEntry(kind: .array, start: UInt32(start), end: 0, next: 0))
        cursor.pos &+= 1
        var elements: UInt32 = 0
        var c = try cursor.peekNonWhitespace()
        if c != _ASCII.closeBracket {
            while true {
                try value(depth: depth &+ 1)
                elements &+= 1
                c = try cursor.peekNonWhitespace()
                cursor.pos &+= 1
                if c == _ASCII.comma {
                    _ = try cursor.peekNonWhitespace()
                    continue
                }
                if c == _ASCII.closeBracket { break }
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
