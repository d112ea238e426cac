/// The database-neutral rules that turn dates and timestamps in their text form (PostgreSQL with
/// `DateStyle = ISO`, MySQL) into the values of a Debezium event, for every value the databases
/// can hold: BC dates, years of 5 or more digits and `±infinity` included.
///
/// - Dates and times are proleptic Gregorian with **astronomical year numbering**: 1 BC is year
///   0, 44 BC is year -43 (PostgreSQL's `0044-03-15 BC`).
/// - A `date` is its signed number of days since 1970-01-01; `infinity` → ``positiveInfinityDays``
///   (2147483647), `-infinity` → ``negativeInfinityDays`` (-2147483648). No real date reaches them.
/// - A `timestamp` (no zone) is its signed number of µs since 1970-01-01T00:00:00 (Debezium's
///   MicroTimestamp); `infinity` → ``positiveInfinityMicros`` (9223372036825200000), `-infinity`
///   → ``negativeInfinityMicros`` (-9223372036832400000): the values PgJDBC and Debezium use. A
///   timestamp at or past them (after 294247-01-10T04:00:25.2Z, a value PostgreSQL allows up to
///   294276) cannot be told from infinity and is an error.
/// - A `timestamptz` is an ISO-8601 UTC string `YYYY-MM-DDTHH:MM:SS.ffffffZ` (Debezium's
///   ZonedTimestamp, always 6 fraction digits). Years 0000–9999 are written with 4 digits; others
///   as ISO 8601 expanded years with a sign, as `java.time` prints them: `-0043-03-15T12:00:00.000000Z`
///   (44 BC), `+294276-12-31T23:59:59.999999Z`. `infinity` → `"infinity"`, `-infinity` → `"-infinity"`.
public enum TemporalMapping {
    public static let positiveInfinityDays: Int64 = Int64(Int32.max)
    public static let negativeInfinityDays: Int64 = Int64(Int32.min)
    public static let positiveInfinityMicros: Int64 = 9_223_372_036_825_200_000
    public static let negativeInfinityMicros: Int64 = -9_223_372_036_832_400_000
    static let microsPerDay: Int64 = 86_400_000_000

    /// A parsed date or timestamp: a UTC day and the µs into it, or an infinity.
    public enum Instant: Equatable, Sendable {
        case finite(days: Int64, micros: Int64)
        case positiveInfinity
        case negativeInfinity
    }

    /// `Y...Y-MM-DD[ BC]` (4 or more year digits), `infinity`, `-infinity` → the day; nil: not a date.
    public static func parseDate(_ text: String) -> Instant? {
        var t = text
        return t.withUTF8 { parse($0, time: false) }
    }

    /// `Y...Y-MM-DD HH:MM:SS[.ffffff][±HH[:MM[:SS]]][ BC]` (a `T` may separate date and time),
    /// `infinity`, `-infinity` → the instant in UTC (the offset applied); nil: not a timestamp.
    public static func parseTimestamp(_ text: String) -> Instant? {
        var t = text
        return t.withUTF8 { parse($0, time: true) }
    }

    /// µs since the epoch of a finite instant; nil when it does not fit the mapping (see the type's rules).
    public static func epochMicros(days: Int64, micros: Int64) -> Int64? {
        let (d, o1) = days.multipliedReportingOverflow(by: microsPerDay)
        guard !o1 else { return nil }
        let (us, o2) = d.addingReportingOverflow(micros)
        guard !o2, us < positiveInfinityMicros, us > negativeInfinityMicros else { return nil }
        return us
    }

    /// The ISO-8601 UTC text of a finite instant (see the type's rules).
    public static func isoUTC(days: Int64, micros: Int64) -> String {
        withISOUTC(days: days, micros: micros) { String(decoding: $0, as: UTF8.self) }
    }

    /// Calls `body` with the ISO-8601 UTC bytes of a finite instant (no allocation).
    public static func withISOUTC<R>(days: Int64, micros: Int64, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let (y, m, d) = civil(days: days)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 48) { buf in
            var i = 0
            func put(_ b: UInt8) { buf[i] = b; i += 1 }
            func digits(_ v: Int64, _ width: Int) {
                var n = v, w = 0
                var tmp: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
                    (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
                withUnsafeMutableBytes(of: &tmp) { t in
                    repeat { t[w] = UInt8(48 + n % 10); n /= 10; w += 1 } while n > 0
                    while w < width { t[w] = 48; w += 1 }
                    while w > 0 { w -= 1; put(t[w]) }
                }
            }
            if y < 0 { put(45) } else if y > 9999 { put(43) }
            digits(y < 0 ? -y : y, 4)
            put(45); digits(m, 2); put(45); digits(d, 2); put(84)
            let s = micros / 1_000_000
            digits(s / 3600, 2); put(58); digits(s / 60 % 60, 2); put(58); digits(s % 60, 2)
            put(46); digits(micros % 1_000_000, 6); put(90)
            return body(UnsafeBufferPointer(rebasing: buf[0..<i]))
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date with astronomical year `y` (Howard
    /// Hinnant's algorithm, valid for every Int64 year the databases hold).
    public static func days(year y0: Int64, month m: Int64, day d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The proleptic Gregorian date (astronomical year) of a day since 1970-01-01.
    public static func civil(days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    static func parse(_ b: UnsafeBufferPointer<UInt8>, time: Bool) -> Instant? {
        let n = b.count
        if n == 8 || n == 9 {
            if matches(b, "infinity") { return .positiveInfinity }
            if matches(b, "-infinity") { return .negativeInfinity }
        }
        var i = 0
        func number(_ count: Int) -> Int64? {
            guard i + count <= n else { return nil }
            var v: Int64 = 0
            for _ in 0..<count { let c = b[i] &- 48; guard c < 10 else { return nil }; v = v * 10 + Int64(c); i += 1 }
            return v
        }
        // The year: 4 or more digits (at most 9: PostgreSQL's dates end in 5874897).
        var year: Int64 = 0, yearDigits = 0
        while i < n, b[i] &- 48 < 10, yearDigits < 10 { year = year * 10 + Int64(b[i] - 48); i += 1; yearDigits += 1 }
        guard yearDigits >= 4, yearDigits <= 9, i < n, b[i] == 45 else { return nil }
        i += 1
        guard let month = number(2), month >= 1, month <= 12, i < n, b[i] == 45 else { return nil }
        i += 1
        guard let day = number(2), day >= 1, day <= 31 else { return nil }
        var micros: Int64 = 0
        if time {
            guard i < n, b[i] == 32 || b[i] == 84 else { return nil }
            i += 1
            guard let h = number(2), h <= 24, i < n, b[i] == 58 else { return nil }
            i += 1
            guard let mi = number(2), mi < 60, i < n, b[i] == 58 else { return nil }
            i += 1
            guard let s = number(2), s < 61 else { return nil }
            micros = ((h * 60 + mi) * 60 + s) * 1_000_000
            if i < n, b[i] == 46 {
                i += 1
                var digits = 0, frac: Int64 = 0
                while i < n, b[i] &- 48 < 10 {
                    guard digits < 6 else { return nil }   // more than µs: not a form the databases print
                    frac = frac * 10 + Int64(b[i] - 48); digits += 1; i += 1
                }
                guard digits > 0 else { return nil }
                while digits < 6 { frac *= 10; digits += 1 }
                micros += frac
            }
            if i < n, b[i] == 43 || b[i] == 45 {
                let sign: Int64 = b[i] == 45 ? -1 : 1
                i += 1
                guard let oh = number(2) else { return nil }
                var offset = oh * 3600
                if i < n, b[i] == 58 { i += 1; guard let om = number(2) else { return nil }; offset += om * 60 }
                if i < n, b[i] == 58 { i += 1; guard let os = number(2) else { return nil }; offset += os }
                micros -= sign * offset * 1_000_000
            }
        }
        if i + 3 == n, b[i] == 32, b[i + 1] == 66, b[i + 2] == 67 {   // " BC"
            year = 1 - year
            i += 3
        }
        guard i == n else { return nil }
        var days = Self.days(year: year, month: month, day: day)
        // The offset may move the instant into the previous or next UTC day.
        if micros < 0 { let back = (-micros + microsPerDay - 1) / microsPerDay; days -= back; micros += back * microsPerDay }
        if micros >= microsPerDay { days += micros / microsPerDay; micros %= microsPerDay }
        return .finite(days: days, micros: micros)
    }

    private static func matches(_ b: UnsafeBufferPointer<UInt8>, _ s: StaticString) -> Bool {
        guard b.count == s.utf8CodeUnitCount else { return false }
        let p = s.utf8Start
        for i in 0..<b.count where b[i] != p[i] { return false }
        return true
    }
}
