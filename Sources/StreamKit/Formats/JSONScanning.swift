// Low-level JSON scanning primitives shared by `JSONFieldExtractor`, the tape builder of
// `FastJSONDecoder` and `JSONScalar`'s value helpers. Everything here works on raw bytes,
// never allocates on the success path, and reports malformed input as
// `StreamKitError(.malformedInput, "<reason> at byte N")`.

// MARK: - Syntax errors

/// The reasons a document can be rejected by the scanner.
@usableFromInline
enum _JSONSyntax: UInt8, Sendable {
    case emptyDocument
    case unexpectedEnd
    case unexpectedCharacter
    case invalidLiteral
    case invalidNumber
    case unterminatedString
    case controlCharacterInString
    case invalidEscape
    case invalidUnicodeEscape
    case expectedColon
    case expectedCommaOrBrace
    case expectedCommaOrBracket
    case expectedKey
    case trailingCharacters
    case tooDeep
    case documentTooLarge

    @usableFromInline
    var reason: String {
        switch self {
        case .emptyDocument: return "empty document"
        case .unexpectedEnd: return "unexpected end of input"
        case .unexpectedCharacter: return "unexpected character"
        case .invalidLiteral: return "invalid literal"
        case .invalidNumber: return "invalid number"
        case .unterminatedString: return "unterminated string"
        case .controlCharacterInString: return "unescaped control character in string"
        case .invalidEscape: return "invalid escape sequence"
        case .invalidUnicodeEscape: return "invalid \\u escape"
        case .expectedColon: return "expected ':' after object key"
        case .expectedCommaOrBrace: return "expected ',' or '}' in object"
        case .expectedCommaOrBracket: return "expected ',' or ']' in array"
        case .expectedKey: return "expected string key"
        case .trailingCharacters: return "trailing characters after document"
        case .tooDeep: return "nesting too deep"
        case .documentTooLarge: return "document too large"
        }
    }
}

/// Builds the error for a syntax problem. Kept out of line so the hot scanning code stays small.
@usableFromInline @inline(never)
func _jsonSyntaxError(_ syntax: _JSONSyntax, at offset: Int) -> StreamKitError {
    StreamKitError(.malformedInput, "\(syntax.reason) at byte \(offset)")
}

// MARK: - ASCII constants

@usableFromInline enum _ASCII {
    @usableFromInline static var quote: UInt8 { 0x22 }
    @usableFromInline static var backslash: UInt8 { 0x5C }
    @usableFromInline static var comma: UInt8 { 0x2C }
    @usableFromInline static var colon: UInt8 { 0x3A }
    @usableFromInline static var openBrace: UInt8 { 0x7B }
    @usableFromInline static var closeBrace: UInt8 { 0x7D }
    @usableFromInline static var openBracket: UInt8 { 0x5B }
    @usableFromInline static var closeBracket: UInt8 { 0x5D }
    @usableFromInline static var minus: UInt8 { 0x2D }
    @usableFromInline static var plus: UInt8 { 0x2B }
    @usableFromInline static var dot: UInt8 { 0x2E }
    @usableFromInline static var zero: UInt8 { 0x30 }
}

/// Returns a mask with the high bit set in every byte of `word` that is `"`, `\` or a control
/// character (< 0x20). Only the lowest flagged byte is guaranteed exact, which is all callers use.
@inlinable @inline(__always)
func _stringSpecialMask(_ word: UInt64) -> UInt64 {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let high: UInt64 = 0x8080_8080_8080_8080
    let q = word ^ (ones &* 0x22)
    let b = word ^ (ones &* 0x5C)
    let quoteHits = (q &- ones) & ~q
    let backslashHits = (b &- ones) & ~b
    let controlHits = (word &- ones &* 0x20) & ~word
    return (quoteHits | backslashHits | controlHits) & high
}

@inlinable @inline(__always)
func _isDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }

@inlinable @inline(__always)
func _hexValue(_ c: UInt8) -> UInt8? {
    if c &- 0x30 < 10 { return c &- 0x30 }
    let lower = c | 0x20
    if lower &- 0x61 < 6 { return lower &- 0x61 &+ 10 }
    return nil
}

// MARK: - Cursor

/// A forward-only position in a JSON document with the token scanners used by every parser here.
@usableFromInline
struct _JSONCursor {
    @usableFromInline let base: UnsafePointer<UInt8>
    @usableFromInline let end: Int
    @usableFromInline var pos: Int

    @inlinable @inline(__always)
    init(base: UnsafePointer<UInt8>, count: Int) {
        self.base = base
        self.end = count
        self.pos = 0
    }

    /// Skips JSON whitespace (space, tab, CR, LF).
    @inlinable @inline(__always)
    mutating func skipWhitespace() {
        while pos < end {
            let c = base[pos]
            if c > 0x20 { return }
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            pos &+= 1
        }
    }

    /// Skips whitespace and returns the next byte without consuming it.
    @inlinable @inline(__always)
    mutating func peekNonWhitespace() throws(StreamKitError) -> UInt8 {
        if pos < end, base[pos] > 0x20 { return base[pos] }
        skipWhitespace()
        guard pos < end else { throw _jsonSyntaxError(.unexpectedEnd, at: pos) }
        return base[pos]
    }

    /// Scans a string body. On entry `pos` is just past the opening quote; on return it is just
    /// past the closing quote. Returns whether the string contains escape sequences.
    @inlinable @inline(__always)
    mutating func scanStringBody() throws(StreamKitError) -> Bool {
        var escapes = false
        while true {
            while pos &+ 8 <= end {
                let word = UInt64(littleEndian: UnsafeRawPointer(base + pos).loadUnaligned(as: UInt64.self))
                let mask = _stringSpecialMask(word)
                if mask == 0 { pos &+= 8; continue }
                pos &+= mask.trailingZeroBitCount &>> 3
                break
            }
            guard pos < end else { throw _jsonSyntaxError(.unterminatedString, at: pos) }
            let c = base[pos]
            if c == _ASCII.quote { pos &+= 1; return escapes }
            if c == _ASCII.backslash {
                escapes = true
                try scanEscape()
                continue
            }
            if c < 0x20 { throw _jsonSyntaxError(.controlCharacterInString, at: pos) }
            pos &+= 1
        }
    }

    /// Validates one escape sequence starting at the backslash at `pos`.
    @inlinable
    mutating func scanEscape() throws(StreamKitError) {
        guard pos &+ 1 < end else { throw _jsonSyntaxError(.unterminatedString, at: end) }
        switch base[pos &+ 1] {
        case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74: // " \ / b f n r t
            pos &+= 2
        case 0x75: // u
            guard pos &+ 6 <= end else { throw _jsonSyntaxError(.invalidUnicodeEscape, at: pos) }
            for i in 2..<6 where _hexValue(base[pos &+ i]) == nil {
                throw _jsonSyntaxError(.invalidUnicodeEscape, at: pos)
            }
            pos &+= 6
        default:
            throw _jsonSyntaxError(.invalidEscape, at: pos)
        }
    }

    /// Scans a number per the JSON grammar `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    /// On entry `pos` is at the first byte (`-` or a digit).
    @inlinable @inline(__always)
    mutating func scanNumber() throws(StreamKitError) {
        let start = pos
        if base[pos] == _ASCII.minus { pos &+= 1 }
        guard pos < end else { throw _jsonSyntaxError(.invalidNumber, at: start) }
        let first = base[pos]
        if first == _ASCII.zero {
            pos &+= 1
        } else if _isDigit(first) {
            pos &+= 1
            skipDigits()
        } else {
            throw _jsonSyntaxError(.invalidNumber, at: start)
        }
        guard pos < end else { return }
        var c = base[pos]
        if c == _ASCII.dot {
            pos &+= 1
            guard pos < end, _isDigit(base[pos]) else { throw _jsonSyntaxError(.invalidNumber, at: start) }
            pos &+= 1
            skipDigits()
            guard pos < end else { return }
            c = base[pos]
        }
        if c | 0x20 == 0x65 { // e or E
            pos &+= 1
            if pos < end, base[pos] == _ASCII.plus || base[pos] == _ASCII.minus { pos &+= 1 }
            guard pos < end, _isDigit(base[pos]) else { throw _jsonSyntaxError(.invalidNumber, at: start) }
            pos &+= 1
            while pos < end, _isDigit(base[pos]) { pos &+= 1 }
            guard pos < end else { return }
            c = base[pos]
        }
        // A number must be followed by a delimiter; catch "01", "1.2.3", "12abc" here with a
        // number-specific message.
        if _isDigit(c) || c == _ASCII.dot || (c | 0x20) &- 0x61 < 26 {
            throw _jsonSyntaxError(.invalidNumber, at: start)
        }
    }

    /// Advances past a run of ASCII digits, eight at a time where possible.
    @inlinable @inline(__always)
    mutating func skipDigits() {
        while pos &+ 8 <= end {
            let t = UInt64(littleEndian: UnsafeRawPointer(base + pos).loadUnaligned(as: UInt64.self)) ^ 0x3030_3030_3030_3030
            // High bit set in each byte that is not a digit (t >= 10); only the lowest is exact.
            let nonDigit = ((t &+ 0x7676_7676_7676_7676) | t) & 0x8080_8080_8080_8080
            if nonDigit != 0 {
                pos &+= nonDigit.trailingZeroBitCount &>> 3
                return
            }
            pos &+= 8
        }
        while pos < end, _isDigit(base[pos]) { pos &+= 1 }
    }

    /// Scans `true`, `false` or `null` at `pos` and returns the kind.
    @inlinable @inline(__always)
    mutating func scanLiteral() throws(StreamKitError) -> JSONScalar.Kind {
        guard pos &+ 4 <= end else { throw _jsonSyntaxError(.invalidLiteral, at: pos) }
        let word = UInt32(littleEndian: UnsafeRawPointer(base + pos).loadUnaligned(as: UInt32.self))
        let kind: JSONScalar.Kind
        switch word {
        case 0x6C6C_756E: // "null"
            pos &+= 4; kind = .null
        case 0x6575_7274: // "true"
            pos &+= 4; kind = .bool
        case 0x736C_6166: // "fals"
            guard pos &+ 5 <= end, base[pos &+ 4] == 0x65 else { throw _jsonSyntaxError(.invalidLiteral, at: pos) }
            pos &+= 5; kind = .bool
        default:
            throw _jsonSyntaxError(.invalidLiteral, at: pos)
        }
        if pos < end, (base[pos] | 0x20) &- 0x61 < 26 || _isDigit(base[pos]) {
            throw _jsonSyntaxError(.invalidLiteral, at: pos)
        }
        return kind
    }

    /// Validates and skips any JSON value starting at `pos` (whitespace already skipped).
    @inlinable
    mutating func skipValue(depth: Int, maxDepth: Int) throws(StreamKitError) {
        let c = base[pos]
        switch c {
        case _ASCII.quote:
            pos &+= 1
            _ = try scanStringBody()
        case _ASCII.minus, 0x30...0x39:
            try scanNumber()
        case _ASCII.openBrace:
            try skipObject(depth: depth, maxDepth: maxDepth)
        case _ASCII.openBracket:
            try skipArray(depth: depth, maxDepth: maxDepth)
        case 0x74, 0x66, 0x6E: // t f n
            _ = try scanLiteral()
        default:
            throw _jsonSyntaxError(.unexpectedCharacter, at: pos)
        }
    }

    /// Validates and skips an object; `pos` is at `{`.
    @inlinable
    mutating func skipObject(depth: Int, maxDepth: Int) throws(StreamKitError) {
        guard depth < maxDepth else { throw _jsonSyntaxError(.tooDeep, at: pos) }
        pos &+= 1
        var c = try peekNonWhitespace()
        if c == _ASCII.closeBrace { pos &+= 1; return }
        while true {
            guard c == _ASCII.quote else { throw _jsonSyntaxError(.expectedKey, at: pos) }
            pos &+= 1
            _ = try scanStringBody()
            guard try peekNonWhitespace() == _ASCII.colon else { throw _jsonSyntaxError(.expectedColon, at: pos) }
            pos &+= 1
            let v = try peekNonWhitespace()
            if v == _ASCII.quote {
                pos &+= 1
                _ = try scanStringBody()
            } else if v &- 0x30 < 10 || v == _ASCII.minus {
                try scanNumber()
            } else {
                try skipValue(depth: depth &+ 1, maxDepth: maxDepth)
            }
            c = try peekNonWhitespace()
            pos &+= 1
            if c == _ASCII.comma {
                c = try peekNonWhitespace()
                continue
            }
            if c == _ASCII.closeBrace { return }
            throw _jsonSyntaxError(.expectedCommaOrBrace, at: pos &- 1)
        }
    }

    /// Validates and skips an array; `pos` is at `[`.
    @inlinable
    mutating func skipArray(depth: Int, maxDepth: Int) throws(StreamKitError) {
        guard depth < maxDepth else { throw _jsonSyntaxError(.tooDeep, at: pos) }
        pos &+= 1
        var c = try peekNonWhitespace()
        if c == _ASCII.closeBracket { pos &+= 1; return }
        while true {
            try skipValue(depth: depth &+ 1, maxDepth: maxDepth)
            c = try peekNonWhitespace()
            pos &+= 1
            if c == _ASCII.comma {
                _ = try peekNonWhitespace()
                continue
            }
            if c == _ASCII.closeBracket { return }
            throw _jsonSyntaxError(.expectedCommaOrBracket, at: pos &- 1)
        }
    }

    /// After the top-level value: only whitespace may remain.
    @inlinable @inline(__always)
    mutating func finish() throws(StreamKitError) {
        skipWhitespace()
        if pos != end { throw _jsonSyntaxError(.trailingCharacters, at: pos) }
    }
}
