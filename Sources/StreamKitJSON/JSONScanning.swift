public import StreamKit

// Low-level JSON scanning primitives shared by `JSONFieldExtractor`, the tape builder of
// `FastJSONDecoder` and `JSONScalar`'s value helpers. Everything here works on raw bytes,
// never allocates on the success path, and reports malformed input as
// `StreamKitError(.malformedInput, "<reason> at byte N")` (via `_JSONFailure`).

// MARK: - Syntax errors

/// The reasons a document can be rejected by the scanner.
@usableFromInline
package enum _JSONSyntax: UInt8, Sendable {
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

/// A syntax failure inside the scanners: small and trivially copyable so typed throws stay cheap
/// on the hot path. Converted to `StreamKitError` at the public API boundary.
@usableFromInline
package struct _JSONFailure: Error, Sendable {
    @usableFromInline let syntax: _JSONSyntax
    @usableFromInline let offset: Int

    @inlinable
    init(_ syntax: _JSONSyntax, _ offset: Int) {
        self.syntax = syntax
        self.offset = offset
    }

    /// The public error: `StreamKitError(.malformedInput, "<reason> at byte N")`.
    @usableFromInline
    var streamKitError: StreamKitError {
        StreamKitError(.malformedInput, "\(syntax.reason) at byte \(offset)")
    }
}

/// Builds the failure for a syntax problem.
@inlinable @inline(__always)
package func _jsonSyntaxError(_ syntax: _JSONSyntax, at offset: Int) -> _JSONFailure {
    _JSONFailure(syntax, offset)
}

// MARK: - ASCII constants

@usableFromInline package enum _JSONASCII {
    @usableFromInline package static var quote: UInt8 { 0x22 }
    @usableFromInline static var backslash: UInt8 { 0x5C }
    @usableFromInline static var comma: UInt8 { 0x2C }
    @usableFromInline package static var colon: UInt8 { 0x3A }
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
package func _jsonStringSpecialMask(_ word: UInt64) -> UInt64 {
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
package func _jsonIsDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }

/// For eight bytes minus ASCII `0` each (`word ^ 0x3030…`): the high bit set in each byte that is
/// not a digit (its value ≥ 10); only the lowest set byte is exact (a carry may mark the ones
/// above it). Zero exactly when all eight are digits.
@inlinable @inline(__always)
package func _jsonNonDigitMask(_ t: UInt64) -> UInt64 {
    ((t &+ 0x7676_7676_7676_7676) | t) & 0x8080_8080_8080_8080
}

@inlinable @inline(__always)
package func _jsonHexValue(_ c: UInt8) -> UInt8? {
    if c &- 0x30 < 10 { return c &- 0x30 }
    let lower = c | 0x20
    if lower &- 0x61 < 6 { return lower &- 0x61 &+ 10 }
    return nil
}

// MARK: - Cursor

/// A JSON document plus a position, with the token scanners used by every parser here.
///
/// The scanners are non-mutating functions that take a byte position and return the position
/// after the token: positions then live in registers instead of being written back to memory
/// after every byte. The `mutating` wrappers at the end (used by the tape builder) advance `pos`.
@usableFromInline
package struct _JSONCursor {
    @usableFromInline let base: UnsafePointer<UInt8>
    @usableFromInline let end: Int
    @usableFromInline var pos: Int

    @inlinable @inline(__always)
    init(base: UnsafePointer<UInt8>, count: Int) {
        self.base = base
        self.end = count
        self.pos = 0
    }

    // MARK: Position-passing scanners

    /// The first position at or after `p` that is not JSON whitespace (space, tab, CR, LF).
    @inlinable @inline(__always)
    func skipWS(_ p: Int) -> Int {
        var p = p
        while p < end {
            let c = base[p]
            if c > 0x20 { return p }
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return p }
            p &+= 1
        }
        return p
    }

    /// The position of the next non-whitespace byte at or after `p`; throws at end of input.
    @inlinable @inline(__always)
    func next(_ p: Int) throws(_JSONFailure) -> Int {
        if p < end, base[p] > 0x20 { return p }
        let q = skipWS(p)
        guard q < end else { throw _jsonSyntaxError(.unexpectedEnd, at: q) }
        return q
    }

    /// Scans a string body starting just past the opening quote; returns the position just past
    /// the closing quote and sets `escapes` if the body contains escape sequences.
    @inlinable @inline(__always)
    func string(_ start: Int, _ escapes: inout Bool) throws(_JSONFailure) -> Int {
        var p = start
        while true {
            while p &+ 8 <= end {
                let word = UInt64(littleEndian: UnsafeRawPointer(base + p).loadUnaligned(as: UInt64.self))
                let mask = _jsonStringSpecialMask(word)
                if mask == 0 { p &+= 8; continue }
                p &+= mask.trailingZeroBitCount &>> 3
                break
            }
            guard p < end else { throw _jsonSyntaxError(.unterminatedString, at: p) }
            let c = base[p]
            if c == _JSONASCII.quote { return p &+ 1 }
            if c == _JSONASCII.backslash {
                escapes = true
                p = try escape(p)
                continue
            }
            if c < 0x20 { throw _jsonSyntaxError(.controlCharacterInString, at: p) }
            p &+= 1
        }
    }

    /// Validates the escape sequence at `p` (a backslash); returns the position after it.
    @inlinable
    func escape(_ p: Int) throws(_JSONFailure) -> Int {
        guard p &+ 1 < end else { throw _jsonSyntaxError(.unterminatedString, at: end) }
        switch base[p &+ 1] {
        case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74: // " \ / b f n r t
            return p &+ 2
        case 0x75: // u
            guard p &+ 6 <= end else { throw _jsonSyntaxError(.invalidUnicodeEscape, at: p) }
            for i in 2..<6 where _jsonHexValue(base[p &+ i]) == nil {
                throw _jsonSyntaxError(.invalidUnicodeEscape, at: p)
            }
            return p &+ 6
        default:
            throw _jsonSyntaxError(.invalidEscape, at: p)
        }
    }

    /// The position after a run of ASCII digits starting at `p`, eight at a time where possible.
    @inlinable @inline(__always)
    func digits(_ start: Int) -> Int {
        var p = start
        while p &+ 8 <= end {
            let t = UInt64(littleEndian: UnsafeRawPointer(base + p).loadUnaligned(as: UInt64.self)) ^ 0x3030_3030_3030_3030
            let nonDigit = _jsonNonDigitMask(t)
            if nonDigit != 0 { return p &+ (nonDigit.trailingZeroBitCount &>> 3) }
            p &+= 8
        }
        while p < end, _jsonIsDigit(base[p]) { p &+= 1 }
        return p
    }

    /// Scans a number per the JSON grammar `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    /// starting at `start` (a `-` or a digit); returns the position after it.
    @inlinable @inline(__always)
    func number(_ start: Int) throws(_JSONFailure) -> Int {
        var p = start
        if base[p] == _JSONASCII.minus { p &+= 1 }
        guard p < end else { throw _jsonSyntaxError(.invalidNumber, at: start) }
        let first = base[p]
        if first == _JSONASCII.zero {
            p &+= 1
        } else if _jsonIsDigit(first) {
            p = digits(p &+ 1)
        } else {
            throw _jsonSyntaxError(.invalidNumber, at: start)
        }
        guard p < end else { return p }
        var c = base[p]
        if c == _JSONASCII.dot {
            p &+= 1
            guard p < end, _jsonIsDigit(base[p]) else { throw _jsonSyntaxError(.invalidNumber, at: start) }
            p = digits(p &+ 1)
            guard p < end else { return p }
            c = base[p]
        }
        if c | 0x20 == 0x65 { // e or E
            p &+= 1
            if p < end, base[p] == _JSONASCII.plus || base[p] == _JSONASCII.minus { p &+= 1 }
            guard p < end, _jsonIsDigit(base[p]) else { throw _jsonSyntaxError(.invalidNumber, at: start) }
            p = digits(p &+ 1)
            guard p < end else { return p }
            c = base[p]
        }
        // A number must be followed by a delimiter; catch "01", "1.2.3", "12abc" here with a
        // number-specific message.
        if _jsonIsDigit(c) || c == _JSONASCII.dot || (c | 0x20) &- 0x61 < 26 {
            throw _jsonSyntaxError(.invalidNumber, at: start)
        }
        return p
    }

    /// Scans `true`, `false` or `null` at `p`; returns the position after it and its kind.
    @inlinable @inline(__always)
    func literal(_ p: Int) throws(_JSONFailure) -> (Int, JSONScalar.Kind) {
        guard p &+ 4 <= end else { throw _jsonSyntaxError(.invalidLiteral, at: p) }
        let word = UInt32(littleEndian: UnsafeRawPointer(base + p).loadUnaligned(as: UInt32.self))
        var q: Int
        let kind: JSONScalar.Kind
        switch word {
        case 0x6C6C_756E: // "null"
            q = p &+ 4; kind = .null
        case 0x6575_7274: // "true"
            q = p &+ 4; kind = .bool
        case 0x736C_6166: // "fals"
            guard p &+ 5 <= end, base[p &+ 4] == 0x65 else { throw _jsonSyntaxError(.invalidLiteral, at: p) }
            q = p &+ 5; kind = .bool
        default:
            throw _jsonSyntaxError(.invalidLiteral, at: p)
        }
        if q < end, (base[q] | 0x20) &- 0x61 < 26 || _jsonIsDigit(base[q]) {
            throw _jsonSyntaxError(.invalidLiteral, at: p)
        }
        return (q, kind)
    }

    /// Validates and skips any JSON value starting at `p` (not whitespace); returns the position after it.
    @inlinable
    func skipValue(_ p: Int, depth: Int, maxDepth: Int) throws(_JSONFailure) -> Int {
        switch base[p] {
        case _JSONASCII.quote:
            var escapes = false
            return try string(p &+ 1, &escapes)
        case _JSONASCII.minus, 0x30...0x39:
            return try number(p)
        case _JSONASCII.openBrace:
            return try skipObject(p, depth: depth, maxDepth: maxDepth)
        case _JSONASCII.openBracket:
            return try skipArray(p, depth: depth, maxDepth: maxDepth)
        case 0x74, 0x66, 0x6E: // t f n
            return try literal(p).0
        default:
            throw _jsonSyntaxError(.unexpectedCharacter, at: p)
        }
    }

    /// Validates and skips a member value: strings and numbers inline, anything else via `skipValue`.
    @inlinable @inline(__always)
    func skipMemberValue(_ p: Int, depth: Int, maxDepth: Int) throws(_JSONFailure) -> Int {
        let v = base[p]
        if v == _JSONASCII.quote {
            var escapes = false
            return try string(p &+ 1, &escapes)
        }
        if v &- 0x30 < 10 || v == _JSONASCII.minus { return try number(p) }
        return try skipValue(p, depth: depth, maxDepth: maxDepth)
    }

    /// Validates and skips an object at `p` (`{`); returns the position after it.
    @inlinable
    func skipObject(_ start: Int, depth: Int, maxDepth: Int) throws(_JSONFailure) -> Int {
        guard depth < maxDepth else { throw _jsonSyntaxError(.tooDeep, at: start) }
        var p = try next(start &+ 1)
        if base[p] == _JSONASCII.closeBrace { return p &+ 1 }
        while true {
            guard base[p] == _JSONASCII.quote else { throw _jsonSyntaxError(.expectedKey, at: p) }
            var escapes = false
            p = try next(try string(p &+ 1, &escapes))
            guard base[p] == _JSONASCII.colon else { throw _jsonSyntaxError(.expectedColon, at: p) }
            p = try next(p &+ 1)
            p = try next(try skipMemberValue(p, depth: depth &+ 1, maxDepth: maxDepth))
            let c = base[p]
            if c == _JSONASCII.comma {
                p = try next(p &+ 1)
                continue
            }
            if c == _JSONASCII.closeBrace { return p &+ 1 }
            throw _jsonSyntaxError(.expectedCommaOrBrace, at: p)
        }
    }

    /// Validates and skips an array at `p` (`[`); returns the position after it.
    @inlinable
    func skipArray(_ start: Int, depth: Int, maxDepth: Int) throws(_JSONFailure) -> Int {
        guard depth < maxDepth else { throw _jsonSyntaxError(.tooDeep, at: start) }
        var p = try next(start &+ 1)
        if base[p] == _JSONASCII.closeBracket { return p &+ 1 }
        while true {
            p = try next(try skipMemberValue(p, depth: depth &+ 1, maxDepth: maxDepth))
            let c = base[p]
            if c == _JSONASCII.comma {
                p = try next(p &+ 1)
                continue
            }
            if c == _JSONASCII.closeBracket { return p &+ 1 }
            throw _jsonSyntaxError(.expectedCommaOrBracket, at: p)
        }
    }

    /// After the top-level value ending at `p`: only whitespace may remain.
    @inlinable @inline(__always)
    func finish(_ p: Int) throws(_JSONFailure) {
        let q = skipWS(p)
        if q != end { throw _jsonSyntaxError(.trailingCharacters, at: q) }
    }

    // MARK: Mutating wrappers (advance `pos`)

    /// Skips whitespace at `pos`.
    @inlinable @inline(__always)
    mutating func skipWhitespace() { pos = skipWS(pos) }

    /// Skips whitespace and returns the next byte without consuming it.
    @inlinable @inline(__always)
    mutating func peekNonWhitespace() throws(_JSONFailure) -> UInt8 {
        pos = try next(pos)
        return base[pos]
    }

    /// Scans a string body from `pos` (just past the opening quote); returns whether it has escapes.
    @inlinable @inline(__always)
    mutating func scanStringBody() throws(_JSONFailure) -> Bool {
        var escapes = false
        pos = try string(pos, &escapes)
        return escapes
    }

    /// Scans a number at `pos`.
    @inlinable @inline(__always)
    mutating func scanNumber() throws(_JSONFailure) { pos = try number(pos) }

    /// Scans a literal at `pos`.
    @inlinable @inline(__always)
    mutating func scanLiteral() throws(_JSONFailure) -> JSONScalar.Kind {
        let (p, kind) = try literal(pos)
        pos = p
        return kind
    }

    /// Validates and skips the value at `pos`.
    @inlinable
    mutating func skipValue(depth: Int, maxDepth: Int) throws(_JSONFailure) {
        pos = try skipValue(pos, depth: depth, maxDepth: maxDepth)
    }

    /// Only whitespace may remain after `pos`.
    @inlinable
    func finish() throws(_JSONFailure) { try finish(pos) }
}
