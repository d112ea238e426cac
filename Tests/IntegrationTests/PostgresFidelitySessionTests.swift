import Foundation
import Testing
import StreamKit
import StreamKitKafka
import StreamKitCapture
import StreamKitPostgres

/// Issue 12, item 4: the capture's sessions are pinned. A login role with hostile settings
/// (`ALTER ROLE ... SET DateStyle = 'SQL, DMY'`, a half-hour time zone, `extra_float_digits = 0`,
/// `IntervalStyle = sql_standard`, `bytea_output = escape`) captures the same values as a pinned
/// session reads.
@Suite(.serialized, .enabled(if: FidelityNames.runnable, "no Kafka broker reachable (scripts/services up)"))
struct PostgresFidelitySessionTests {
    static func createHostileRole(_ n: FidelityNames) throws {
        try FidelityNames.sql("""
            CREATE ROLE \(n.role) LOGIN REPLICATION;
            ALTER ROLE \(n.role) SET DateStyle = 'SQL, DMY';
            ALTER ROLE \(n.role) SET TimeZone = 'America/St_Johns';
            ALTER ROLE \(n.role) SET extra_float_digits = 0;
            ALTER ROLE \(n.role) SET IntervalStyle = 'sql_standard';
            ALTER ROLE \(n.role) SET bytea_output = 'escape';
            """)
    }

    @Test(.timeLimit(.minutes(15)))
    func everyConnectionIsPinnedWhateverTheRoleSets() throws {
        let n = FidelityNames()
        defer { n.cleanUp() }
        try Self.createHostileRole(n)
        let dsn = FidelityNames.dsn(user: n.role)
        // The role really is hostile: an unpinned session shows its settings.
        let raw = try PostgresConnection(dsn: dsn, pinSession: false)
        #expect(try raw.execute("SHOW DateStyle").rows.first?.first == "SQL, DMY")
        #expect(try raw.execute("SELECT '2085-05-26'::date::text").rows.first?.first == "26/05/2085")
        for replication in [false, true] {
            let c = try PostgresConnection(dsn: dsn, replication: replication)
            for (name, value) in PostgresConnection.pinnedSettings {
                let shown = try c.execute("SHOW \(name)").rows.first?.first ?? nil
                #expect(shown == value, "\(name) on a \(replication ? "replication" : "query") connection")
            }
        }
    }

    @Test(.timeLimit(.minutes(15)))
    func aHostileRoleCapturesWhatAPinnedSessionReads() async throws {
        let n = FidelityNames()
        defer { n.cleanUp() }
        try Self.createHostileRole(n)
        try FidelityNames.sql("""
            CREATE TABLE \(n.table)(id int PRIMARY KEY, d date, ts timestamp, tz timestamptz, f8 float8, f4 real,
                                    iv interval, b bytea, m money, t time, tt timetz);
            GRANT SELECT ON \(n.table) TO \(n.role);
            CREATE PUBLICATION \(n.publication) FOR TABLE \(n.table);
            """)
        let rows = [
            "(1, '2085-05-26', '2038-10-19 05:02:34.996483', '2038-10-19 05:02:34.996483+00', -7.463225179971371e-126, 1.2345678, '1 year 2 mons 3 days 04:05:06.5', '\\x00ff10', 12.34, '13:14:15.5', '13:14:15+05:30')",
            "(2, '1999-12-31', '1900-02-28 23:59:59', '1900-02-28 23:59:59.000001+03:30', 0.1, 3.4028235e38, '-1 days +02:00', '\\x', -0.5, '00:00:00', '00:00:00-11')",
        ]
        let streamed = [
            "(3, '2001-02-03', '2001-02-03 04:05:06', '2001-02-03 04:05:06-03:30', 2.2250738585072014e-308, -1.5e-45, '100 years', '\\x5c27', 0, '23:59:59.999999', '12:00:00+00')",
            "(4, '0099-01-01', '0099-01-01 00:00:00', '1970-01-01 00:00:00+00', 1e300, 1, '-3 mons', '\\xdeadbeef', 1000000, '01:02:03', '01:02:03+14')",
            // St. John's local time puts 0001-01-01 00:00 UTC in 1 BC: the capture must not see it so.
            "(5, '0044-03-15 BC', '4713-01-01 00:00:00 BC', '0001-01-01 00:00:00+00', '-0', 'NaN', '-1 years', '\\x00', -1, '24:00:00', '00:00:00+00')",
        ]
        try FidelityNames.sql("INSERT INTO \(n.table) VALUES \(rows.joined(separator: ", "))")
        let running = CaptureRun(PostgresCapture(configuration: n.configuration(dsn: FidelityNames.dsn(user: n.role)), kafka: KafkaTestSupport.kafka))
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).count) == 2 }
        try FidelityNames.sql("INSERT INTO \(n.table) VALUES \(streamed.joined(separator: ", ")); UPDATE \(n.table) SET f8 = f8 * 3, iv = iv * 2 WHERE id = 1")
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).count) == 6 }
        try running.stop()

        // What a pinned session reads, in the mapping's terms.
        let expected = try FidelityNames.sql("""
            SELECT id, (d - date '1970-01-01')::text, (extract(epoch FROM ts) * 1000000)::bigint::text,
                   tz::text, f8::text, f4::text, iv::text,
                   encode(b, 'base64'), m::text, t::text, tt::text FROM \(n.table) ORDER BY id
            """).rows
        var tokens: [Int: [String: String]] = [:]   // exact number text: -0 stays -0
        for r in try KafkaTopicReader.readAll(topic: n.topic, configuration: KafkaTestSupport.kafka) {
            if let v = r.value { let t = FidelityDecode.afterTokens(v); if let id = t["id"].flatMap({ Int($0) }) { tokens[id] = t } }
        }
        var latest: [Int: [String: Any]] = [:]
        for e in try captureEvents(n.topic) where !e.tombstone {
            if let after = e.after, let id = after["id"] as? Int { latest[id] = after }
        }
        #expect(latest.count == 5)
        for r in expected {
            let id = Int(r[0]!)!
            let a = try #require(latest[id], "row \(id) captured")
            #expect((a["d"] as? NSNumber)?.int64Value == Int64(r[1]!), "date of row \(id)")
            #expect((a["ts"] as? NSNumber)?.int64Value == Int64(r[2]!), "timestamp of row \(id)")
            #expect((a["tz"] as? String).flatMap(FidelityDecode.timestamptzText) == r[3], "timestamptz of row \(id): \(a["tz"] ?? "nil") vs \(r[3] ?? "nil")")
            #expect(tokens[id]?["f8"].flatMap(Double.init)?.bitPattern == Double(r[4]!)!.bitPattern, "float8 of row \(id): \(tokens[id]?["f8"] ?? "nil") vs \(r[4]!)")
            #expect(tokens[id]?["f4"] == (r[5] == "NaN" ? "\"NaN\"" : r[5]), "real of row \(id)")
            #expect(a["iv"] as? String == r[6], "interval of row \(id)")
            #expect(a["b"] as? String == r[7]?.replacingOccurrences(of: "\n", with: ""), "bytea of row \(id)")
            #expect(a["m"] as? String == r[8], "money of row \(id)")
            #expect(a["t"] as? String == r[9], "time of row \(id)")
            #expect(a["tt"] as? String == r[10], "timetz of row \(id)")
        }
    }
}
