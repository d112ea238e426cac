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
    }

    @Test func rejectsWrongCombinations() throws {
        let both = try CLITests.run(["backfill", "user-activity", "--input", "a", "--topic", "t", "--labels", "l", "--out", "o"])
        #expect(both.status != 0 && both.stderr.contains("exactly one of --input FILE or --topic TOPIC"), "\(both.stderr)")
        let noLabels = try CLITests.run(["backfill", "user-activity", "--input", "a", "--out", "o"])
        #expect(noLabels.status != 0 && noLabels.stderr.contains("--labels"), "\(noLabels.stderr)")
        let unknown = try CLITests.run(["backfill", "no-such-job", "--input", "a", "--labels", "l", "--out", "o"])
        #expect(unknown.status != 0 && unknown.stderr.contains("unknown job"), "\(unknown.stderr)")
        let notBackfillable = try CLITests.run(["backfill", "session-features", "--input", "a", "--labels", "l", "--out", "o"])
        #expect(notBackfillable.status != 0 && notBackfillable.stderr.contains("no backfillable feature definition"), "\(notBackfillable.stderr)")
    }
}
