import Foundation
import Testing
import StreamKitJSON
import StreamKit
import StreamKitCapture

/// The value mapping of the capture core (issue 12): dates and timestamps of every year the
/// databases hold, ±infinity, non-finite floats, and errors that name the column.
struct TemporalMappingTests {
    typealias T = TemporalMapping

    @Test func datesAreSignedDaysSinceTheEpochWithAstronomicalYears() {
        #expect(T.parseDate("1970-01-01") == .finite(days: 0, micros: 0))
        #expect(T.parseDate("2024-03-01") == .finite(days: 19_783, micros: 0))
        #expect(T.parseDate("0001-01-01") == .finite(days: -719_162, micros: 0))
        // 1 BC is year 0, a leap year.
        #expect(T.parseDate("0001-12-31 BC") == .finite(days: -719_163, micros: 0))
        #expect(T.parseDate("0001-01-01 BC") == .finite(days: -719_162 - 366, micros: 0))
        // Julian day 0 (4714-11-24 BC, proleptic Gregorian) is 2440588 days before the epoch.
        #expect(T.parseDate("4714-11-24 BC") == .finite(days: -2_440_588, micros: 0))
        #expect(T.parseDate("9999-12-31") == .finite(days: 2_932_896, micros: 0))
        #expect(T.parseDate("10000-01-01") == .finite(days: 2_932_897, micros: 0))
        #expect(T.parseDate("5874897-12-31") == .finite(days: 2_145_042_905, micros: 0), "PostgreSQL's last date")
        #expect(T.parseDate("infinity") == .positiveInfinity && T.parseDate("-infinity") == .negativeInfinity)
        for bad in ["26/05/2085", "2085-13-01", "2085-05-32", "85-05-26", "", "2085-05-26 AD", "2085-05-26 00:00:00"] {
            #expect(T.parseDate(bad) == nil, "\(bad)")
        }
    }

    @Test func timestampsKeepBCAndLongYearsAndApplyOffsets() {
        func us(_ t: String) -> Int64? {
            guard case let .finite(d, m)? = T.parseTimestamp(t) else { return nil }
            return T.epochMicros(days: d, micros: m)
        }
        #expect(us("2024-03-01 12:00:00.123456") == 1_709_294_400_123_456)
        #expect(us("2024-03-01T12:00:00.5") == 1_709_294_400_500_000)
        #expect(us("1969-12-31 23:59:59.999999") == -1)
        #expect(us("4713-01-01 00:00:00 BC") == T.days(year: -4712, month: 1, day: 1) * 86_400_000_000, "BC: not 4713 AD")
        #expect(us("4713-01-01 00:00:00 BC") == -210_863_520_000_000_000, "PostgreSQL: extract(epoch ...) * 1e6")
        #expect(us("10000-01-01 00:00:00") == Int64(253_402_300_800_000_000), "253402300800 s: 10000-01-01T00:00:00Z")
        // Offsets move the instant, across the day boundary too.
        #expect(us("2024-03-01 00:30:00+02") == us("2024-02-29 22:30:00"))
        #expect(us("1900-01-01 00:00:00-03:30:52") == us("1900-01-01 03:30:52"))
        #expect(us("0044-03-15 12:00:00+00 BC") == T.days(year: -43, month: 3, day: 15) * 86_400_000_000 + 43_200_000_000)
        // Past the infinity sentinel (PostgreSQL allows up to 294276): not representable.
        #expect(us("294276-12-31 23:59:59.999999") == nil)
        #expect(T.parseTimestamp("294276-12-31 23:59:59.999999+00") != nil, "parsed; only the µs form overflows")
        #expect(T.epochMicros(days: 0, micros: T.positiveInfinityMicros - 1) == T.positiveInfinityMicros - 1)
        #expect(T.epochMicros(days: 0, micros: T.positiveInfinityMicros) == nil)
        #expect(T.parseTimestamp("infinity") == .positiveInfinity && T.parseTimestamp("-infinity") == .negativeInfinity)
        for bad in ["19/10/2038 05:02:34.996483 NDT", "2038-10-19", "2038-10-19 05:02", "2038-10-19 05:02:34.1234567", "Tue Oct 19 05:02:34 2038"] {
            #expect(T.parseTimestamp(bad) == nil, "\(bad)")
        }
    }

    @Test func isoUTCUsesExpandedYearsOutside0000To9999() {
        func iso(_ t: String) -> String? {
            guard case let .finite(d, m)? = T.parseTimestamp(t) else { return nil }
            return T.isoUTC(days: d, micros: m)
        }
        #expect(iso("2024-03-01 12:00:00+02") == "2024-03-01T10:00:00.000000Z")
        #expect(iso("0044-03-15 12:00:00+00 BC") == "-0043-03-15T12:00:00.000000Z", "44 BC is year -43")
        #expect(iso("0001-01-01 00:00:00+00 BC") == "0000-01-01T00:00:00.000000Z")
        #expect(iso("0001-01-01 00:00:00+00") == "0001-01-01T00:00:00.000000Z")
        #expect(iso("4714-11-24 00:00:00+00 BC") == "-4713-11-24T00:00:00.000000Z")
        #expect(iso("294276-12-31 23:59:59.999999+00") == "+294276-12-31T23:59:59.999999Z")
        #expect(iso("10000-01-01 00:00:00+00") == "+10000-01-01T00:00:00.000000Z")
    }

    @Test func civilAndDaysAreInversesOverEveryRange() {
        var rng = SplitMix64(seed: 12)
        for _ in 0..<20_000 {
            let day = Int64(bitPattern: rng.next()) % 2_200_000_000
            let (y, m, d) = T.civil(days: day)
            #expect(T.days(year: y, month: m, day: d) == day)
            #expect((1...12).contains(m) && (1...31).contains(d))
        }
    }

    // MARK: the encoder's mapping

    struct Source: SourceFields {
        var tsMillis: Int64 = 0
        var snapshot = "false"
        func writeFields(to writer: inout JSONWriter) {}
    }

    static func table(_ kind: ColumnKind) -> CapturedTable {
        CapturedTable(schema: "public", name: "t", columns: [
            CaptureColumn(name: "id", typeID: 23, kind: .integer, isKey: true),
            CaptureColumn(name: "v", typeID: 0, kind: kind, isKey: false),
        ], keyColumns: [0])
    }

    /// The JSON text written for `text` in a column of `kind`.
    static func encoded(_ text: String, _ kind: ColumnKind) throws -> String {
        var e = DebeziumChangeEncoder(serverName: "s", database: "d", connector: "postgresql")
        let bytes = try e.value(op: UInt8(ascii: "c"), table: table(kind), before: nil, after: [.text("1"), .text(text)], source: Source(), nowMillis: 0)
        let json = String(decoding: bytes, as: UTF8.self)
        let start = json.range(of: #""after":{"id":1,"v":"#)!.upperBound
        return String(json[start...].prefix { $0 != "}" })
    }

    @Test func encoderWritesEveryExtremeByTheDocumentedRule() throws {
        #expect(try Self.encoded("NaN", .decimal) == #""NaN""#)
        #expect(try Self.encoded("Infinity", .decimal) == #""Infinity""#)
        #expect(try Self.encoded("-Infinity", .decimal) == #""-Infinity""#)
        #expect(try Self.encoded("-0", .decimal) == "-0")
        #expect(try Self.encoded("-7.463225179971371e-126", .decimal) == "-7.463225179971371e-126")
        #expect(try Self.encoded("1e+300", .decimal) == "1e+300")
        #expect(try Self.encoded("123456789012345678901234567890.000000001", .decimal) == "123456789012345678901234567890.000000001")
        #expect(try Self.encoded("infinity", .timestamp) == "9223372036825200000")
        #expect(try Self.encoded("-infinity", .timestamp) == "-9223372036832400000")
        #expect(try Self.encoded("4713-01-01 00:00:00 BC", .timestamp) == String(T.days(year: -4712, month: 1, day: 1) * 86_400_000_000))
        #expect(try Self.encoded("infinity", .timestampWithZone) == #""infinity""#)
        #expect(try Self.encoded("-infinity", .timestampWithZone) == #""-infinity""#)
        #expect(try Self.encoded("0044-03-15 12:00:00+00 BC", .timestampWithZone) == #""-0043-03-15T12:00:00.000000Z""#)
        #expect(try Self.encoded("4713-01-01 BC", .date) == String(T.days(year: -4712, month: 1, day: 1)))
        #expect(try Self.encoded("infinity", .date) == "2147483647")
        #expect(try Self.encoded("-infinity", .date) == "-2147483648")
        #expect(try Self.encoded("18446744073709551615", .integer) == "18446744073709551615", "MySQL's bigint unsigned")
        #expect(try Self.encoded("f", .boolean) == "false")
    }

    @Test func aValueTheMappingCannotRepresentIsAnErrorNamingTheColumn() {
        let cases: [(String, ColumnKind)] = [("294276-12-31 23:59:59.999999", .timestamp), ("26/05/2085", .date), ("19/10/2038 05:02:34 NDT", .timestampWithZone),
                                             ("1,5", .decimal), ("inf", .decimal), ("99999999999999999999999", .integer), ("yes", .boolean), ("\\001", .bytes)]
        for (text, kind) in cases {
            do {
                _ = try Self.encoded(text, kind)
                Issue.record("\(text) as \(kind) was written")
            } catch let e as CaptureError {
                #expect(e.code == .unrepresentableValue && e.message.contains("public.t.v"), "\(e)")
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    @Test func keysTakeUnchangedTOASTedColumnsFromTheOldRowAndNeverThePlaceholder() throws {
        var e = DebeziumChangeEncoder(serverName: "s", database: "d", connector: "postgresql")
        var t = Self.table(.text)
        t.keyColumns = [1]
        let key = try e.key(table: t, values: [.text("1"), .unchangedToast], fallback: [.text("1"), .text("big key")])
        #expect(String(decoding: key ?? [], as: UTF8.self) == #"{"v":"big key"}"#)
        #expect(throws: CaptureError.self) { try e.key(table: t, values: [.text("1"), .unchangedToast]) }
        t.keyColumns = []
        #expect(try e.key(table: t, values: [.text("1"), .text("x")]) == nil, "no key columns: a null key")
    }

    @Test func messageKeyColumnsParseDebeziumsFormat() throws {
        let k = try MessageKeyColumns(parsing: "public.a:x,y; b:z", defaultSchema: "public")
        #expect(k.tables == ["public.a": ["x", "y"], "public.b": ["z"]])
        let cols = ["z", "x", "y"].map { CaptureColumn(name: $0, typeID: 25, kind: .text, isKey: false) }
        #expect(try k.keyColumns(schema: "public", name: "a", columns: cols, defaultKey: [0]) == [1, 2])
        #expect(try k.keyColumns(schema: "public", name: "c", columns: cols, defaultKey: [0]) == [0])
        #expect(throws: CaptureError.self) { try k.keyColumns(schema: "public", name: "b", columns: Array(cols.dropFirst()), defaultKey: []) }
        #expect(throws: CaptureError.self) { try MessageKeyColumns(parsing: "public.a", defaultSchema: "public") }
        #expect(throws: CaptureError.self) { try MessageKeyColumns(parsing: "a:x;public.a:y", defaultSchema: "public") }
    }
}
