import Foundation
import Testing
import StreamKit
import StreamKitKafka
import StreamKitCapture
import StreamKitPostgres

/// Issue 12, the property: seeded random rows of every supported type — extremes included (BC
/// and 5+ digit years, ±infinity, NaN, -0, subnormals, any Unicode text) — captured, decoded by
/// the README's rules, equal the rows a pinned session reads back with `SELECT`.
@Suite(.serialized, .enabled(if: FidelityNames.runnable, "no Kafka broker reachable (scripts/services up)"))
struct PostgresFidelityPropertyTests {
    typealias Rule = PostgresFidelityValuesTests.Rule

    /// Column name, SQL type, decoding rule, generator (nil: NULL).
    static let columns: [(name: String, type: String, rule: Rule, make: @Sendable (inout FidelityRandom) -> String?)] = [
        ("i2", "int2", .integer, { r in String(r.pick([Int64(Int16.min), Int64(Int16.max), 0, r.int(-32768...32767)])) }),
        ("i4", "int4", .integer, { r in String(r.pick([Int64(Int32.min), Int64(Int32.max), r.int(-2_147_483_648...2_147_483_647)])) }),
        ("i8", "int8", .integer, { r in String(r.pick([Int64.min, Int64.max, Int64(bitPattern: r.next())])) }),
        ("o", "oid", .integer, { r in String(r.next() % (UInt64(UInt32.max) + 1)) }),
        ("b", "bool", .boolean, { r in r.chance(50) ? "true" : "false" }),
        ("f4", "float4", .float, { r in floatText(Double(Float(bitPattern: UInt32(truncatingIfNeeded: r.next())))) }),
        ("f8", "float8", .float, { r in floatText(r.chance(20) ? r.pick([0.0, -0.0, .infinity, -.infinity, .nan, 5e-324, .greatestFiniteMagnitude]) : Double(bitPattern: r.next())) }),
        ("nu", "numeric", .numeric, { r in
            if r.chance(10) { return r.pick(["NaN", "Infinity", "-Infinity"]) }
            let int = (0..<r.int(1...40)).map { _ in String(r.next() % 10) }.joined()
            let frac = (0..<r.int(0...20)).map { _ in String(r.next() % 10) }.joined()
            return (r.chance(50) ? "-" : "") + int + (frac.isEmpty ? "" : "." + frac)
        }),
        ("d", "date", .date, { r in
            if r.chance(8) { return r.pick(["infinity", "-infinity"]) }
            return dateText(&r, maxYear: 5_874_896)
        }),
        ("ts", "timestamp", .timestamp, { r in
            if r.chance(8) { return r.pick(["infinity", "-infinity"]) }
            return timeText(&r, date: dateText(&r, maxYear: 294_246), offset: false)
        }),
        ("tz", "timestamptz", .timestamptz, { r in
            if r.chance(8) { return r.pick(["infinity", "-infinity"]) }
            return timeText(&r, date: dateText(&r, maxYear: 294_275), offset: true)
        }),
        ("by", "bytea", .bytes, { r in "\\x" + (0..<r.int(0...40)).map { _ in String(format: "%02x", r.next() % 256) }.joined() }),
        ("tx", "text", .text, { r in unicodeText(&r) }),
        ("vc", "varchar(64)", .text, { r in String(unicodeText(&r).prefix(64)) }),
        ("js", "json", .text, { r in #"{"a": \#(r.int(-99...99)), "s": "\#(jsonEscaped(unicodeText(&r)))", "l": [true, null, 1.5e300]}"# }),
        ("jb", "jsonb", .text, { r in #"{"z": [\#(r.int(-9...9)), {"k": "\#(jsonEscaped(unicodeText(&r)))"}], "a": -0.0}"# }),
        ("u", "uuid", .text, { r in
            let h = String(format: "%016llx%016llx", r.next(), r.next())
            let c = Array(h)
            return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-" + String(c[16..<20]) + "-" + String(c[20..<32])
        }),
        ("ta", "text[]", .text, { r in "{" + (0..<r.int(0...4)).map { _ in r.chance(15) ? "NULL" : "\"" + arrayEscaped(unicodeText(&r)) + "\"" }.joined(separator: ",") + "}" }),
        ("ia", "int4[]", .text, { r in "{" + (0..<r.int(0...5)).map { _ in String(r.int(-2_147_483_648...2_147_483_647)) }.joined(separator: ",") + "}" }),
        ("iv", "interval", .text, { r in "\(r.int(-200...200)) years \(r.int(-11...11)) mons \(r.int(-40...40)) days \(r.int(-99...99)):\(r.int(0...59)):\(r.int(0...59)).\(r.int(0...999_999))" }),
        ("t", "time", .text, { r in String(format: "%02lld:%02lld:%02lld.%06lld", r.int(0...23), r.int(0...59), r.int(0...59), r.int(0...999_999)) }),
        ("tt", "timetz", .text, { r in String(format: "%02lld:%02lld:%02lld.%06lld%+03lld:%02lld", r.int(0...23), r.int(0...59), r.int(0...59), r.int(0...999_999), r.int(-15...15), r.int(0...1) * 30) }),
        ("m", "money", .text, { r in String(r.int(-9_000_000_000_000...9_000_000_000_000)) + "." + String(format: "%02lld", r.int(0...99)) }),
    ]

    static func floatText(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
        return "\(d)"
    }

    /// `Y-MM-DD[ BC]`: most years 1–9999, some BC (to 4713 BC), some of 5+ digits.
    static func dateText(_ r: inout FidelityRandom, maxYear: Int64) -> String {
        let bc = r.chance(15)
        let year = bc ? r.int(1...4713) : (r.chance(15) ? r.int(10_000...maxYear) : r.int(1...9999))
        var y = String(year)
        while y.count < 4 { y = "0" + y }
        return "\(y)-\(String(format: "%02lld", r.int(1...12)))-\(String(format: "%02lld", r.int(1...28)))\(bc ? " BC" : "")"
    }

    static func timeText(_ r: inout FidelityRandom, date: String, offset: Bool) -> String {
        let bc = date.hasSuffix(" BC")
        let day = bc ? String(date.dropLast(3)) : date
        var t = "\(day) " + String(format: "%02lld:%02lld:%02lld", r.int(0...23), r.int(0...59), r.int(0...59))
        if r.chance(70) { t += "." + String(format: "%06lld", r.int(0...999_999)) }
        if offset { t += String(format: "%+03lld:%02lld", r.int(-12...14), r.pick([0, 30, 45])) }
        return t + (bc ? " BC" : "")
    }

    /// Any Unicode scalars (no NUL): ASCII, quotes and backslashes, Latin, CJK, emoji.
    static func unicodeText(_ r: inout FidelityRandom) -> String {
        var s = String.UnicodeScalarView()
        for _ in 0..<r.int(0...24) {
            let ranges: [ClosedRange<Int64>] = [1...127, 0xA0...0x24F, 0x4E00...0x9FFF, 0x1F300...0x1F64F]
            if let u = Unicode.Scalar(UInt32(r.int(r.pick(ranges)))) { s.append(u) }
        }
        return String(s)
    }

    static func jsonEscaped(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }

    static func arrayEscaped(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }

    enum Kind { case log, trigger }

    func run(_ kind: Kind, seed: UInt64, rows: Int) async throws {
        let n = FidelityNames()
        defer { n.cleanUp() }
        let cols = Self.columns
        try FidelityNames.sql("CREATE TABLE \(n.table)(id int PRIMARY KEY, \(cols.map { "\($0.name) \($0.type)" }.joined(separator: ", ")))")
        var rng = FidelityRandom(seed: seed)
        let insertSQL = "INSERT INTO \(n.table) VALUES ($1::int, \(cols.enumerated().map { "$\($0.offset + 2)::\($0.element.type)" }.joined(separator: ", ")))"
        let conn = try PostgresConnection(dsn: Services.postgresDSN)
        func insert(_ ids: Range<Int>) throws {
            try conn.execute("BEGIN")
            for id in ids {
                try conn.execute(insertSQL, [String(id)] + cols.map { c in rng.chance(8) ? nil : c.make(&rng) })
            }
            try conn.execute("COMMIT")
        }
        let half = rows / 2
        let stop: () throws -> Void
        let failed: () -> (any Error)?
        switch kind {
        case .log:
            try insert(0..<half)   // read by the snapshot
            let running = CaptureRun(PostgresCapture(configuration: n.configuration(), kafka: KafkaTestSupport.kafka))
            stop = running.stop; failed = { running.failed }
            try await waitUntil(timeout: .seconds(180), every: .milliseconds(100), failed: failed) { (try? captureEvents(n.topic).count) == half }
        case .trigger:
            var c = TriggerCaptureConfiguration(dsn: Services.postgresDSN, tables: [n.table], topicPrefix: n.prefix)
            c.changeLog = "public." + n.changeLog
            c.pollInterval = .milliseconds(50)
            let capture = TriggerCapture(configuration: c, kafka: KafkaTestSupport.kafka)
            try capture.install()
            try insert(0..<half)
            let running = CaptureRun(capture)
            stop = running.stop; failed = { running.failed }
        }
        // The rest streamed, in a few transactions.
        for start in stride(from: half, to: rows, by: 50) { try insert(start..<min(start + 50, rows)) }
        try await waitUntil(timeout: .seconds(180), every: .milliseconds(100), failed: failed) { (try? captureEvents(n.topic).count) == rows }
        try stop()
        let mismatches = try PostgresFidelityValuesTests.compare(n, columns: cols.map { ($0.name, $0.rule) })
        #expect(mismatches.isEmpty, "seed \(seed): \(mismatches.count) differences\n\(mismatches.prefix(20).joined(separator: "\n"))")
    }

    @Test(.timeLimit(.minutes(15)))
    func randomRowsOfEveryTypeRoundTripThroughTheLogCapture() async throws {
        try await run(.log, seed: 20_261_205, rows: 300)
    }

    @Test(.timeLimit(.minutes(15)))
    func randomRowsOfEveryTypeRoundTripThroughTheTriggerCapture() async throws {
        try await run(.trigger, seed: 12, rows: 300)
    }
}
