import Foundation
import Testing
import StreamKit
import StreamKitKafka
import StreamKitCapture
import StreamKitPostgres

/// Issue 12, items 2 and 3: extreme values on the real PostgreSQL round-trip — captured value →
/// the README's rule → the original value as a pinned session prints it; a value the mapping
/// cannot represent stops the capture with an error naming the column.
@Suite(.serialized, .enabled(if: FidelityNames.runnable, "no Kafka broker reachable (scripts/services up)"))
struct PostgresFidelityValuesTests {
    static let extremes = [
        "(1, '4713-01-01 BC', '4713-01-01 00:00:00 BC', '4713-01-01 00:00:00+00 BC', 'NaN', 'NaN', 'NaN')",
        "(2, '0044-03-15 BC', '0044-03-15 12:00:00.5 BC', '0044-03-15 12:00:00+00 BC', 'Infinity', 'Infinity', 'Infinity')",
        "(3, '0001-01-01', '0001-01-01 00:00:00', '0001-01-01 00:00:00+00', '-Infinity', '-Infinity', '-Infinity')",
        "(4, '0001-12-31 BC', '0001-12-31 23:59:59.999999 BC', '0001-01-01 00:00:00+00 BC', '-0', '-0', '0')",
        "(5, '10000-01-01', '10000-01-01 00:00:00', '10000-01-01 00:00:00+00', 4.9e-324, 1.4e-45, '-0.000000000000000000001')",
        "(6, '5874897-12-31', '294246-12-31 23:59:59.999999', '294276-12-31 23:59:59.999999+00', 1.7976931348623157e308, 3.4028235e38, '123456789012345678901234567890.123456789')",
        "(7, 'infinity', 'infinity', 'infinity', -7.463225179971371e-126, -1.1754944e-38, '1e-100')",
        "(8, '-infinity', '-infinity', '-infinity', 0.1, 0.1, '0.1')",
        "(9, '1970-01-01', '1969-12-31 23:59:59.999999', '1900-01-01 00:00:00-03:30:52', 2.2250738585072014e-308, 16777217, '-0.5')",
    ]

    @Test(.timeLimit(.minutes(15)))
    func extremeValuesRoundTripThroughTheDocumentedRules() async throws {
        let n = FidelityNames()
        defer { n.cleanUp() }
        try FidelityNames.sql("CREATE TABLE \(n.table)(id int PRIMARY KEY, d date, ts timestamp, tz timestamptz, f8 float8, f4 real, nu numeric)")
        // Half read by the snapshot, half streamed: both paths.
        try FidelityNames.sql("INSERT INTO \(n.table) VALUES \(Self.extremes.prefix(5).joined(separator: ", "))")
        let running = CaptureRun(PostgresCapture(configuration: n.configuration(), kafka: KafkaTestSupport.kafka))
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).count) == 5 }
        try FidelityNames.sql("INSERT INTO \(n.table) VALUES \(Self.extremes.dropFirst(5).joined(separator: ", "))")
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).count) == Self.extremes.count }
        try running.stop()
        let mismatches = try Self.compare(n, columns: [("d", .date), ("ts", .timestamp), ("tz", .timestamptz), ("f8", .float), ("f4", .float), ("nu", .numeric)])
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n"))")
    }

    @Test(.timeLimit(.minutes(15)))
    func aValueTheMappingCannotRepresentStopsTheCaptureNamingTheColumn() async throws {
        let n = FidelityNames()
        defer { n.cleanUp() }
        try FidelityNames.sql("""
            CREATE TABLE \(n.table)(id int PRIMARY KEY, late timestamp);
            INSERT INTO \(n.table) VALUES (1, '2024-01-01 00:00:00');
            """)
        let running = CaptureRun(PostgresCapture(configuration: n.configuration(), kafka: KafkaTestSupport.kafka))
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).count) == 1 }
        // 294276 AD: PostgreSQL holds it; as µs since the epoch it is past the infinity value.
        try FidelityNames.sql("INSERT INTO \(n.table) VALUES (2, '294276-12-31 23:59:59.999999')")
        try await waitUntil(timeout: .seconds(180), every: .milliseconds(50)) { running.failed != nil }
        let error = try #require(running.failed as? CaptureError)
        #expect(error.code == .unrepresentableValue)
        #expect(error.message.contains("public.\(n.table).late"), "\(error.message)")
        #expect(try captureEvents(n.topic).count == 1, "nothing published in another type")
    }

    enum Rule { case date, timestamp, timestamptz, float, numeric, integer, boolean, bytes, text }

    /// Decodes every captured row's columns by the README's rules and compares them with what a
    /// pinned session reads; returns the differences.
    static func compare(_ n: FidelityNames, columns: [(name: String, rule: Rule)]) throws -> [String] {
        var select = ["id::text"]
        for (c, rule) in columns {
            switch rule {
            case .date: select.append("CASE WHEN isfinite(\(c)) THEN (\(c) - date '1970-01-01')::text ELSE \(c)::text END")
            case .timestamp: select.append("CASE WHEN isfinite(\(c)) THEN (extract(epoch FROM \(c)) * 1000000)::bigint::text ELSE \(c)::text END")
            case .bytes: select.append("encode(\(c), 'hex')")
            default: select.append("\(c)::text")
            }
        }
        let expected = try FidelityNames.sql("SELECT \(select.joined(separator: ", ")) FROM \(n.table)").rows
        var latest: [String: [String: String]] = [:]
        for r in try KafkaTopicReader.readAll(topic: n.topic, configuration: KafkaTestSupport.kafka) {
            guard let v = r.value else { continue }
            let t = FidelityDecode.afterTokens(v)
            if let id = t["id"] { latest[id] = t }
        }
        var problems: [String] = []
        if latest.count != expected.count { problems.append("\(latest.count) rows captured, \(expected.count) in the table") }
        for row in expected {
            let id = row[0]!
            guard let tokens = latest[id] else { problems.append("row \(id) not captured"); continue }
            for (i, (c, rule)) in columns.enumerated() {
                let original = row[i + 1]
                let token = tokens[c] ?? "<missing>"
                if !matches(token, original, rule) { problems.append("row \(id) \(c): captured \(token.prefix(80)), PostgreSQL \(original?.prefix(80) ?? "NULL")") }
            }
        }
        return problems
    }

    /// Whether `token` decodes by `rule` to `original` (a pinned session's text, as selected in ``compare``).
    static func matches(_ token: String, _ original: String?, _ rule: Rule) -> Bool {
        guard let original else { return token == "null" }
        switch rule {
        case .date:
            switch original {
            case "infinity": return token == "2147483647"
            case "-infinity": return token == "-2147483648"
            default: return token == original
            }
        case .timestamp:
            switch original {
            case "infinity": return token == "9223372036825200000"
            case "-infinity": return token == "-9223372036832400000"
            default: return token == original
            }
        case .timestamptz:
            return FidelityDecode.unquoted(token).flatMap(FidelityDecode.timestamptzText) == original
        case .float:
            if ["NaN", "Infinity", "-Infinity"].contains(original) { return token == "\"\(original)\"" }
            guard let a = Double(token), let b = Double(original) else { return false }
            return a.bitPattern == b.bitPattern   // -0 stays -0, every digit kept
        case .numeric:
            if ["NaN", "Infinity", "-Infinity"].contains(original) { return token == "\"\(original)\"" }
            return token == original
        case .integer:
            return token == original
        case .boolean:
            return token == (original == "true" || original == "t" ? "true" : "false")
        case .bytes:
            guard let b64 = FidelityDecode.unquoted(token), let data = Data(base64Encoded: b64) else { return false }
            return data.map { String(format: "%02x", $0) }.joined() == original
        case .text:
            return FidelityDecode.unquoted(token).map { Array($0.unicodeScalars) } == Array(original.unicodeScalars)
        }
    }
}
