import StreamKit

// Conversions from validated JSON tokens (raw bytes) to Swift values: integers, correctly
// rounded doubles and unescaped strings. Inputs are assumed to have passed `_JSONCursor`'s
// validation; nothing here allocates except the slow `Double` fallback and `String` creation.

/// Exact powers of ten representable in a `Double` (10^0 ... 10^22).
@inlinable @inline(__always)
package func _jsonExactPowerOfTen(_ e: Int) -> Double {
    switch e {
    case 0: return 1e0
    case 1: return 1e1
    case 2: return 1e2
    case 3: return 1e3
    case 4: return 1e4
    case 5: return 1e5
    case 6: return 1e6
    case 7: return 1e7
    case 8: return 1e8
    case 9: return 1e9
    case 10: return 1e10
    case 11: return 1e11
    case 12: return 1e12
    case 13: return 1e13
    case 14: return 1e14
    case 15: return 1e15
    case 16: return 1e16
    case 17: return 1e17
    case 18: return 1e18
    case 19: return 1e19
    case 20: return 1e20
    case 21: return 1e21
    default: return 1e22
    }
}

/// Parses an integer token (`-?[0-9]+`, no fraction or exponent) into sign and magnitude.
/// Returns `nil` if the token is not in integer form or the magnitude overflows `UInt64`.
@inlinable @inline(__always)
package func _parseJSONIntegerMagnitude(_ p: UnsafePointer<UInt8>, _ n: Int) -> (negative: Bool, magnitude: UInt64)? {
    var i = 0
    var negative = false
    if n > 0, p[0] == _JSONASCII.minus { negative = true; i = 1 }
    guard i < n else { return nil }
    var value: UInt64 = 0
    if n &- i <= 19 {
        // At most 19 digits always fit in UInt64. Eight at a time while eight remain (a
        // millisecond timestamp is 13 digits): all-digit check and conversion in a few
        // multiplies (Lemire's SWAR method) instead of a chain of eight multiply-adds.
        while n &- i >= 8 {
            let word = UInt64(littleEndian: UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self))
            let t = word ^ 0x3030_3030_3030_3030
            guard _jsonNonDigitMask(t) == 0 else { return nil }
            var v = t                                          // eight digit values, the first in the low byte
            v = (v &* 10) &+ (v >> 8)                          // pairs
            v = (((v & 0x0000_00FF_0000_00FF) &* (100 &+ (1_000_000 << 32)))
                 &+ (((v >> 16) & 0x0000_00FF_0000_00FF) &* (1 &+ (10_000 << 32)))) >> 32
            value = value &* 100_000_000 &+ v
            i &+= 8
        }
        while i < n {
            let d = p[i] &- 0x30
            guard d < 10 else { return nil }
            value = value &* 10 &+ UInt64(d)
            i &+= 1
        }
    } else {
        while i < n {
            let d = p[i] &- 0x30
            guard d < 10 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { return nil }
            value = s
            i &+= 1
        }
    }
    return (negative, value)
}

/// Parses an integer token into an `Int64`; `nil` for non-integer syntax or out of range.
@inlinable @inline(__always)
package func _parseJSONInt64(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int64? {
    guard let (negative, magnitude) = _parseJSONIntegerMagnitude(p, n) else { return nil }
    if negative {
        if magnitude <= UInt64(Int64.max) { return -Int64(magnitude) }
        if magnitude == UInt64(Int64.max) &+ 1 { return Int64.min }
        return nil
    }
    return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
}

/// Parses a validated JSON number token into the correctly rounded `Double`.
///
/// Fast path (exact, hence correctly rounded): a decimal mantissa of at most 19 significant
/// digits whose value is ≤ 2^53, scaled by 10^k with |k| ≤ 22 — a single IEEE multiply or divide
/// by an exactly representable power of ten. Everything else goes to the C library's `strtod`
/// (via the standard library's locale-independent `Double(String)`), which is correctly rounded.
@inlinable
package func _parseJSONDouble(_ p: UnsafePointer<UInt8>, _ n: Int) -> Double {
    var i = 0
    var negative = false
    if p[0] == _JSONASCII.minus { negative = true; i = 1 }
    var mantissa: UInt64 = 0
    var significantDigits = 0
    var exponent = 0
    var truncated = false
    while i < n {
        let d = p[i] &- 0x30
        guard d < 10 else { break }
        if significantDigits < 19 {
            mantissa = mantissa &* 10 &+ UInt64(d)
            if mantissa != 0 { significantDigits &+= 1 }
        } else {
            truncated = true
        }
        i &+= 1
    }
    if truncated { return _parseJSONDoubleSlow(p, n) }
    if i < n, p[i] == _JSONASCII.dot {
        i &+= 1
        while i < n {
            let d = p[i] &- 0x30
            guard d < 10 else { break }
            if significantDigits < 19 {
                mantissa = mantissa &* 10 &+ UInt64(d)
                if mantissa != 0 { significantDigits &+= 1 }
                exponent &-= 1
            } else {
                truncated = true
            }
            i &+= 1
        }
        if truncated { return _parseJSONDoubleSlow(p, n) }
    }
    if i < n, p[i] | 0x20 == 0x65 {
        i &+= 1
        var expNegative = false
        if p[i] == _JSONASCII.minus { expNegative = true; i &+= 1 } else if p[i] == _JSONASCII.plus { i &+= 1 }
        var e = 0
        while i < n {
            let d = p[i] &- 0x30
            guard d < 10 else { break }
            if e < 100_000 { e = e &* 10 &+ Int(d) }
            i &+= 1
        }
        exponent &+= expNegative ? -e : e
    }
    if mantissa == 0 { return negative ? -0.0 : 0.0 }
    if mantissa <= 1 << 53 {
        var value = Double(mantissa)
        if exponent == 0 {
            // exact
        } else if exponent < 0 {
            guard exponent >= -22 else { return _parseJSONDoubleSlow(p, n) }
            value /= _jsonExactPowerOfTen(-exponent)
        } else if exponent <= 22 {
            value *= _jsonExactPowerOfTen(exponent)
        } else if exponent <= 22 + 15 {
            // e.g. 12e30: move part of the exponent into the mantissa while it stays exact.
            var m = mantissa
            var extra = exponent &- 22
            while extra > 0 {
                m &*= 10
                guard m <= 1 << 53 else { return _parseJSONDoubleSlow(p, n) }
                extra &-= 1
            }
            value = Double(m) * 1e22
        } else {
            return _parseJSONDoubleSlow(p, n)
        }
        return negative ? -value : value
    }
    return _parseJSONDoubleSlow(p, n)
}

/// Slow path of `_parseJSONDouble`: correctly rounded conversion by the C library's `strtod`.
@usableFromInline @inline(never)
package func _parseJSONDoubleSlow(_ p: UnsafePointer<UInt8>, _ n: Int) -> Double {
    let text = String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    return Double(text) ?? .nan
}

@inlinable @inline(__always)
package func _jsonHex4(_ p: UnsafePointer<UInt8>) -> UInt32 {
    var v: UInt32 = 0
    for k in 0..<4 { v = v &<< 4 | UInt32(_jsonHexValue(p[k]) ?? 0) }
    return v
}

/// Writes the UTF-8 encoding of `scalar` to `dst` and returns the number of bytes written.
@inlinable @inline(__always)
package func _jsonEncodeUTF8(_ scalar: UInt32, _ dst: UnsafeMutablePointer<UInt8>) -> Int {
    switch scalar {
    case 0..<0x80:
        dst[0] = UInt8(scalar)
        return 1
    case 0x80..<0x800:
        dst[0] = UInt8(0xC0 | scalar >> 6)
        dst[1] = UInt8(0x80 | scalar & 0x3F)
        return 2
    case 0x800..<0x10000:
        dst[0] = UInt8(0xE0 | scalar >> 12)
        dst[1] = UInt8(0x80 | scalar >> 6 & 0x3F)
        dst[2] = UInt8(0x80 | scalar & 0x3F)
        return 3
    default:
        dst[0] = UInt8(0xF0 | scalar >> 18)
        dst[1] = UInt8(0x80 | scalar >> 12 & 0x3F)
        dst[2] = UInt8(0x80 | scalar >> 6 & 0x3F)
        dst[3] = UInt8(0x80 | scalar & 0x3F)
        return 4
    }
}

/// Unescapes a validated JSON string body (`src`, `n` bytes, no quotes) into `dst`, which must
/// have room for `n` bytes (unescaping never grows the text). Returns the unescaped length.
/// Unpaired surrogates become U+FFFD.
@inlinable
package func _unescapeJSONString(_ src: UnsafePointer<UInt8>, _ n: Int, into dst: UnsafeMutablePointer<UInt8>) -> Int {
    var i = 0
    var o = 0
    while i < n {
        let c = src[i]
        if c != _JSONASCII.backslash {
            dst[o] = c
            o &+= 1
            i &+= 1
            continue
        }
        guard i &+ 1 < n else { break }
        let e = src[i &+ 1]
        i &+= 2
        switch e {
        case 0x6E: dst[o] = 0x0A; o &+= 1 // n
        case 0x74: dst[o] = 0x09; o &+= 1 // t
        case 0x72: dst[o] = 0x0D; o &+= 1 // r
        case 0x62: dst[o] = 0x08; o &+= 1 // b
        case 0x66: dst[o] = 0x0C; o &+= 1 // f
        case 0x75: // u
            guard i &+ 4 <= n else { i = n; break }
            var scalar = _jsonHex4(src + i)
            i &+= 4
            if scalar &- 0xD800 < 0x400 {
                if i &+ 6 <= n, src[i] == _JSONASCII.backslash, src[i &+ 1] == 0x75 {
                    let low = _jsonHex4(src + (i &+ 2))
                    if low &- 0xDC00 < 0x400 {
                        scalar = 0x10000 &+ ((scalar &- 0xD800) &<< 10) &+ (low &- 0xDC00)
                        i &+= 6
                    } else {
                        scalar = 0xFFFD
                    }
                } else {
                    scalar = 0xFFFD
                }
            } else if scalar &- 0xDC00 < 0x400 {
                scalar = 0xFFFD
            }
            o &+= _jsonEncodeUTF8(scalar, dst + o)
        default: // " \ /
            dst[o] = e
            o &+= 1
        }
    }
    return o
}

/// Calls `body` with the unescaped bytes of a string body, using stack memory for short strings.
@inlinable
package func _jsonWithUnescaped<R>(_ p: UnsafePointer<UInt8>, _ n: Int, hasEscapes: Bool,
                       _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    if !hasEscapes { return body(UnsafeBufferPointer(start: p, count: n)) }
    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(n, 1)) { tmp in
        let length = _unescapeJSONString(p, n, into: tmp.baseAddress!)
        return body(UnsafeBufferPointer(start: tmp.baseAddress!, count: length))
    }
}

/// Makes a `String` from a string body, unescaping if needed.
@usableFromInline
package func _jsonMakeString(_ p: UnsafePointer<UInt8>, _ n: Int, hasEscapes: Bool) -> String {
    _jsonWithUnescaped(p, n, hasEscapes: hasEscapes) { String(decoding: $0, as: UTF8.self) }
}

/// Byte-wise equality of two buffers of `n` bytes: a word at a time, the last word overlapping
/// the one before (no byte loop from 4 bytes up).
@inlinable @inline(__always)
package func _jsonBytesEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    if n >= 8 {
        var i = 0
        while i &+ 8 < n {
            if UnsafeRawPointer(a + i).loadUnaligned(as: UInt64.self) != UnsafeRawPointer(b + i).loadUnaligned(as: UInt64.self) { return false }
            i &+= 8
        }
        return UnsafeRawPointer(a + (n &- 8)).loadUnaligned(as: UInt64.self) == UnsafeRawPointer(b + (n &- 8)).loadUnaligned(as: UInt64.self)
    }
    if n >= 4 {
        return UnsafeRawPointer(a).loadUnaligned(as: UInt32.self) == UnsafeRawPointer(b).loadUnaligned(as: UInt32.self)
            && UnsafeRawPointer(a + (n &- 4)).loadUnaligned(as: UInt32.self) == UnsafeRawPointer(b + (n &- 4)).loadUnaligned(as: UInt32.self)
    }
    var i = 0
    while i < n {
        if a[i] != b[i] { return false }
        i &+= 1
    }
    return true
}
