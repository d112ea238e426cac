import Foundation
import Testing

/// `cdc-features backfill` as a process: CSV output with the exact columns, bad label lines to the
/// dead letters with the reason, and clear errors for wrong flag combinations.
@Suite struct BackfillCommandTests {
    @Test func writesACSVTrainingSetAndDeadLettersBadLabels() throws {
        let m: Int64 = 28_333_334 * 60_000
        let dir = NSTemporaryDirectory() + "backfill-cli-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let events = [(7, "10.5", m + 1000), (7, "2.25", m + 61_000), (8, "1.00", m + 400_000)].enumerated().map { i, e in
            #"{"before":null,"after":{"id":\#(i + 1),"user_id":\#(e.0),"item_id":1,"interaction_type":"view","amount":\#(e.1),"ts_ms":\#(e.2)},"op":"c","ts_ms":\#(e.2)}"#
        }
        try (events.joined(separator: "\n") + "\n").write(toFile: dir + "/events.ndjson", atomically: true, encoding: .utf8)
        let labels = [
            #"{"entity":"7","label_time":\#(m + 59_998),"label":"a,b"}"#,
            #"{"entity":7,"label_time":\#(m + 119_999),"label":1}"#,
            #"{"entity":"7","label":0}"#,
        ]
        try (labels.joined(separator: "\n") + "\n").write(toFile: dir + "/labels.ndjson", atomically: true, encoding: .utf8)
        let (status, stderr) = try CLITests.run(["backfill", "user-activity", "--input", dir + "/events.ndjson", "--labels", dir + "/labels.ndjson",
                                                 "--out", dir + "/train.csv", "--format", "csv", "--parallelism", "2", "--ttl", "1h"])
        #expect(status == 0, "\(stderr)")
        let lines = try String(contentsOfFile: dir + "/train.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines == [
            "entity,label_time,label,count,sum,avg,max,feature_event_time",
            "7,\(m + 59_998),\"\"\"a,b\"\"\",,,,,",
            "7,\(m + 119_999),1,2,12.75,6.375,10.5,\(m + 119_999)",
        ])
        let dead = try String(contentsOfFile: dir + "/train.csv.dead-letters.ndjson", encoding: .utf8)
        #expect(dead.contains("label_time") && dead.contains(#"\"label\":0"#), "\(dead)")
        #expect(stderr.contains("2 rows (1 with missing features) from 3 events"), "\(stderr)")

        // Labels sorted one per spilled run and one split: the same training set.
        let spilled = try CLITests.run(["backfill", "user-activity", "--input", dir + "/events.ndjson", "--labels", dir + "/labels.ndjson",
                                        "--out", dir + "/train-1.csv", "--format", "csv", "--label-buffer", "1", "--ttl", "1h",
                                        "--progress-interval", "0s"])
        #expect(spilled.status == 0, "\(spilled.stderr)")
        #expect(try String(contentsOfFile: dir + "/train-1.csv", encoding: .utf8).split(separator: "\n").map(String.init) == lines)
        let zero = try CLITests.run(["backfill", "user-activity", "--input", "a", "--labels", "l", "--out", "o", "--label-buffer", "0"])
        #expect(zero.status != 0 && zero.stderr.contains("--label-buffer must be at least 1"), "\(zero.stderr)")
        // A Kafka time range's flags with a file history: a clear error, nothing run.
        let range = try CLITests.run(["backfill", "user-activity", "--input", dir + "/events.ndjson", "--labels", dir + "/labels.ndjson",
                                      "--out", dir + "/never.csv", "--stop-after", "2026-01-01T00:00:00Z"])
        #expect(range.status != 0 && range.stderr.contains("--from/--to/--stop-after apply to --topic"), "\(range.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/never.csv"))
    }

    /// `realtime-pricing`: the demand of a listing after each booking change, served as of the label.
    @Test func writesARealtimePricingTrainingSet() throws {
        let m: Int64 = 28_333_334 * 60_000
        let dir = NSTemporaryDirectory() + "backfill-cli-pricing-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Listing 5: 2 nights at 100.5, 3 nights at 50.5 a minute later, then the first one cancelled; listing 6 later.
        func change(_ id: Int, _ listing: Int, _ nights: Int, _ price: String, _ status: String, _ op: String, _ ts: Int64) -> String {
            #"{"before":null,"after":{"id":\#(id),"listing_id":\#(listing),"guest_id":1,"nights":\#(nights),"price_per_night":\#(price),"status":"\#(status)","created_at_ms":\#(ts)},"source":{"version":"2.5.0.Final","connector":"postgresql","name":"app","ts_ms":\#(ts),"db":"app","schema":"public","table":"bookings"},"op":"\#(op)","ts_ms":\#(ts)}"#
        }
        let events = [change(1, 5, 2, "100.5", "confirmed", "c", m + 1_000), change(2, 5, 3, "50.5", "confirmed", "c", m + 61_000),
                      change(1, 5, 2, "100.5", "cancelled", "u", m + 62_000), change(3, 6, 1, "80.25", "confirmed", "c", m + 400_000)]
        try (events.joined(separator: "\n") + "\n").write(toFile: dir + "/bookings.ndjson", atomically: true, encoding: .utf8)
        let labels = [
            #"{"entity":"5","label_time":\#(m + 999),"label":0}"#,
            #"{"entity":"5","label_time":\#(m + 60_999),"label":1}"#,
            #"{"entity":"5","label_time":\#(m + 61_500),"label":2}"#,
            #"{"entity":"5","label_time":\#(m + 400_000),"label":3}"#,
            #"{"entity":"6","label_time":\#(m + 400_000),"label":4}"#,
        ]
        try (labels.joined(separator: "\n") + "\n").write(toFile: dir + "/labels.ndjson", atomically: true, encoding: .utf8)
        let (status, stderr) = try CLITests.run(["backfill", "realtime-pricing", "--input", dir + "/bookings.ndjson", "--labels", dir + "/labels.ndjson",
                                                 "--out", dir + "/train.csv", "--format", "csv", "--parallelism", "2", "--progress-interval", "0s"])
        #expect(status == 0, "\(stderr)")
        let lines = try String(contentsOfFile: dir + "/train.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines == [
            "entity,label_time,label,bookings_5m,bookings_1h,cancellations_1h,nights_1h,avg_nightly_price_1h,feature_event_time",
            "5,\(m + 999),0,,,,,,",
            "5,\(m + 60_999),1,1,1,0,2,100.5,\(m + 1_000)",
            "5,\(m + 61_500),2,2,2,0,5,70.5,\(m + 61_000)",
            "5,\(m + 400_000),3,2,2,1,5,70.5,\(m + 62_000)",
            "6,\(m + 400_000),4,1,1,0,1,80.25,\(m + 400_000)",
        ])
        #expect(stderr.contains("5 rows (1 with missing features) from 4 events"), "\(stderr)")
    }

    /// `session-features`: the open session as of the label, and the closed one after the gap.
    @Test func writesASessionFeaturesTrainingSet() throws {
        let m: Int64 = 28_333_334 * 60_000
        let dir = NSTemporaryDirectory() + "backfill-cli-sessions-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let events = [(7, 1, m + 1_000), (7, 2, m + 31_000), (7, 1, m + 61_000), (8, 3, m + 2_000_000)].enumerated().map { i, e in
            #"{"before":null,"after":{"id":\#(i + 1),"user_id":\#(e.0),"item_id":\#(e.1),"interaction_type":"view","amount":1.0,"ts_ms":\#(e.2)},"source":{"version":"2.5.0.Final","connector":"postgresql","name":"app","ts_ms":\#(e.2),"db":"app","schema":"public","table":"user_interactions"},"op":"c","ts_ms":\#(e.2)}"#
        }
        try (events.joined(separator: "\n") + "\n").write(toFile: dir + "/events.ndjson", atomically: true, encoding: .utf8)
        let labels = [
            #"{"entity":"7","label_time":\#(m + 30_999),"label":"a"}"#,
            #"{"entity":"7","label_time":\#(m + 90_000),"label":"b"}"#,
            #"{"entity":"7","label_time":\#(m + 5_000_000),"label":"c"}"#,
        ]
        try (labels.joined(separator: "\n") + "\n").write(toFile: dir + "/labels.ndjson", atomically: true, encoding: .utf8)
        let (status, stderr) = try CLITests.run(["backfill", "session-features", "--input", dir + "/events.ndjson", "--labels", dir + "/labels.ndjson",
                                                 "--out", dir + "/train.ndjson", "--gap", "10m", "--progress-interval", "0s"])
        #expect(status == 0, "\(stderr)")
        let lines = try String(contentsOfFile: dir + "/train.ndjson", encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines == [
            #"{"entity":"7","label_time":\#(m + 30_999),"label":"a","session_start":\#(m + 1_000),"session_length_ms":0,"events_in_session":1,"distinct_items":1,"since_last_event_ms":0,"state":"open","feature_event_time":\#(m + 1_000)}"#,
            #"{"entity":"7","label_time":\#(m + 90_000),"label":"b","session_start":\#(m + 1_000),"session_length_ms":60000,"events_in_session":3,"distinct_items":2,"since_last_event_ms":30000,"state":"open","feature_event_time":\#(m + 61_000)}"#,
            #"{"entity":"7","label_time":\#(m + 5_000_000),"label":"c","session_start":\#(m + 1_000),"session_length_ms":60000,"events_in_session":3,"distinct_items":2,"since_last_event_ms":0,"state":"closed","feature_event_time":\#(m + 61_000)}"#,
        ])
        #expect(stderr.contains("3 rows (0 with missing features) from 4 events"), "\(stderr)")
    }

    /// `user-features`: one view per backfill (`--view`), here the hourly one.
    @Test func writesAUserFeaturesTrainingSetOfOneView() throws {
        let m: Int64 = 5_666_667 * 300_000   // a multiple of the 5-minute slide
        let dir = NSTemporaryDirectory() + "backfill-cli-user-features-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let events = [(7, 1, "click", "2.5", m + 1_000), (7, 2, "purchase", "10.25", m + 61_000), (8, 3, "view", "1.0", m + 700_000)]
            .enumerated().map { i, e in
                #"{"before":null,"after":{"id":\#(i + 1),"user_id":\#(e.0),"item_id":\#(e.1),"interaction_type":"\#(e.2)","amount":\#(e.3),"ts_ms":\#(e.4)},"source":{"version":"2.5.0.Final","connector":"postgresql","name":"app","ts_ms":\#(e.4),"db":"app","schema":"public","table":"user_interactions"},"op":"c","ts_ms":\#(e.4)}"#
            }
        try (events.joined(separator: "\n") + "\n").write(toFile: dir + "/events.ndjson", atomically: true, encoding: .utf8)
        // Hourly windows every 5 minutes: the one ending at m + 300,000 holds both of user 7's events.
        let labels = [#"{"entity":"7","label_time":\#(m + 299_998),"label":0}"#, #"{"entity":"7","label_time":\#(m + 299_999),"label":1}"#]
        try (labels.joined(separator: "\n") + "\n").write(toFile: dir + "/labels.ndjson", atomically: true, encoding: .utf8)
        let (status, stderr) = try CLITests.run(["backfill", "user-features", "--view", "user_1h", "--input", dir + "/events.ndjson",
                                                 "--labels", dir + "/labels.ndjson", "--out", dir + "/train.csv", "--format", "csv",
                                                 "--progress-interval", "0s"])
        #expect(status == 0, "\(stderr)")
        let lines = try String(contentsOfFile: dir + "/train.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines.first == "entity,label_time,label,clicks,purchases,spend,distinct_items,p90_amount,feature_event_time")
        #expect(lines.dropFirst().first == "7,\(m + 299_998),0,,,,,,")
        #expect(lines.last?.hasPrefix("7,\(m + 299_999),1,1,1,10.25,2,") == true, "\(lines)")
        #expect(lines.last?.hasSuffix(",\(m + 299_999)") == true, "\(lines)")
    }

    @Test func rejectsWrongCombinations() throws {
        let both = try CLITests.run(["backfill", "user-activity", "--input", "a", "--topic", "t", "--labels", "l", "--out", "o"])
        #expect(both.status != 0 && both.stderr.contains("exactly one of --input FILE or --topic TOPIC"), "\(both.stderr)")
        let noLabels = try CLITests.run(["backfill", "user-activity", "--input", "a", "--out", "o"])
        #expect(noLabels.status != 0 && noLabels.stderr.contains("--labels"), "\(noLabels.stderr)")
        let unknown = try CLITests.run(["backfill", "no-such-job", "--input", "a", "--labels", "l", "--out", "o"])
        #expect(unknown.status != 0 && unknown.stderr.contains("unknown job"), "\(unknown.stderr)")
        let badView = try CLITests.run(["backfill", "user-features", "--view", "user_2h", "--input", "a", "--labels", "l", "--out", "o"])
        #expect(badView.status != 0 && badView.stderr.contains("--view must be user or user_1h"), "\(badView.stderr)")
        let notBackfillable = try CLITests.run(["backfill", "drift-monitor", "--input", "a", "--labels", "l", "--out", "o"])
        #expect(notBackfillable.status != 0 && notBackfillable.stderr.contains("no backfillable feature definition"), "\(notBackfillable.stderr)")
    }
}
