import Testing
@testable import StreamKitJSON

/// The integer reader (eight digits at a time where eight remain) against the standard library's.
@Suite struct JSONIntegerParsingTests {
    static func parse(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { _parseJSONInt64($0.baseAddress!, $0.count) }
    }

    @Test func equalsInt64OfStringForEveryLengthAndBoundary() {
        var rng = SystemRandomNumberGenerator()
        var cases = ["0", "7", "-0", "-1", "12345678", "123456789", "99999999", "100000000", "1700000000030",
                     "9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809",
                     "9999999999999999999", "18446744073709551615", "18446744073709551616", "99999999999999999999",
                     "-", "", "00000000", "01234567890"]
        for digits in 1...20 {
            for _ in 0..<300 {
                var t = String(Int.random(in: 1...9, using: &rng))
                for _ in 1..<digits { t += String(Int.random(in: 0...9, using: &rng)) }
                cases.append(t); cases.append("-" + t)
            }
        }
        for c in cases { #expect(Self.parse(c) == Int64(c), "\(c)") }
    }

    /// Any non-digit at any position of a long integer (in the first eight, the second eight, the
    /// rest) makes it not an integer.
    @Test func aNonDigitAnywhereIsNotAnInteger() {
        let base = Array("1234567890123456789".utf8)
        for i in 0..<base.count {
            for c in Array("./:eE+-a \u{0}".utf8) + [0x80, 0xFF, 0x2F, 0x3A] {
                var t = base; t[i] = c
                let text = String(decoding: t, as: UTF8.self)
                let parsed = t.withUnsafeBufferPointer { _parseJSONInt64($0.baseAddress!, $0.count) }
                let expected: Int64? = (i == 0 && c == UInt8(ascii: "-")) ? Int64(text) : nil
                #expect(parsed == expected, "\(text)")
            }
        }
    }
}
