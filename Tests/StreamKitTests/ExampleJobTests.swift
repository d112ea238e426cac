import Foundation
import Testing
import StreamKit
import StreamKitJobs
import StreamKitWorkload
import StreamKitQuery

/// The README's example job (typed Debezium rows, DSL aggregates) agrees with the ad-hoc
/// field-path query on the standard workload, row for row.
@Suite struct ExampleJobTests {
    @Test(arguments: [1, 2])
    func userActivityMatchesTheAdHocQuery(parallelism: Int) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("streamkit-example-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = "\(dir)/events.jsonl"
        _ = try WorkloadGenerator.writeFile(path: input, events: 30_000)
        // A delete and a malformed line: the delete is skipped, the malformed line is a dead letter.
        let extra = #"{"before":{"id":1,"user_id":75414,"item_id":1,"interaction_type":"view","amount":1.0,"ts_ms":1700000000030},"after":null,"source":{"version":"2.5.0.Final","connector":"postgresql","name":"app","ts_ms":1,"db":"app","schema":"public","table":"user_interactions"},"op":"d","ts_ms":1}"# + "\n{not json\n"
        let handle = FileHandle(forWritingAtPath: input)!
        handle.seekToEndOfFile(); handle.write(extra.data(using: .utf8)!); try handle.close()

        let out = "\(dir)/features.ndjson", late = "\(dir)/late.ndjson", dead = "\(dir)/dead.ndjson"
        let result = try await UserActivityFeatures.job(input: input, output: out, late: late, deadLetters: dead).run(parallelism: parallelism)
        #expect(result.metrics.droppedRecords == 1)
        #expect(try String(contentsOfFile: dead, encoding: .utf8).contains("30002"), "the dead letter names its line")

        let rows = CollectedOutput<WindowRow>()
        let q = try WindowQuery(input: .file(input), keyPath: "after.user_id", timePath: "after.ts_ms",
                                window: .sliding(size: .minutes(5), slide: .minutes(1)),
                                aggregates: "count,sum:after.amount,avg:after.amount,max:after.amount")
        try await q.job(output: .collect(rows)).run(parallelism: 1)
        func norm(_ v: Double) -> String { String(format: "%.6f", v) }
        let expected = rows.values.map { r in
            "\(r.key) \(r.windowStart) \(r.windowEnd) \(Int(r.values[0]!)) \(norm(r.values[1]!)) \(norm(r.values[2]!)) \(norm(r.values[3]!))"
        }.sorted()
        let got = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map { line -> String in
            let o = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            func d(_ k: String) -> Double { (o[k] as! NSNumber).doubleValue }
            return "\(o["user_id"]!) \(o["window_start"]!) \(o["window_end"]!) \(o["count"]!) \(norm(d("sum"))) \(norm(d("avg"))) \(norm(d("max")))"
        }.sorted()
        #expect(got.count == expected.count && got.count > 30_000)
        #expect(got == expected)
    }
}
