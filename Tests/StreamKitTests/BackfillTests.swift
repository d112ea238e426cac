import Foundation
import Testing
import StreamKit
import StreamKitBackfill
import StreamKitJobs
import StreamKitRedis
import StreamKitWorkload

/// Point-in-time semantics of the backfill on the real user-activity feature definition
/// (5-minute windows every minute, watermark delay 2 s): no leakage from windows that had not
/// fired, late updates visible only from when they arrived, TTL expiry as missing, and the same
/// training set whatever the number of splits.
@Suite struct BackfillTests {
    /// A minute boundary (windows are aligned to the epoch).
    static let m: Int64 = 28_333_334 * 60_000

    /// A Debezium create event of `user_interactions`.
    static func line(id: Int, user: Int64, amount: Double, ts: Int64) -> String {
        #"{"before":null,"after":{"id":\#(id),"user_id":\#(user),"item_id":1,"interaction_type":"view","amount":\#(amount),"ts_ms":\#(ts)},"op":"c","ts_ms":\#(ts)}"#
    }

    static func file(_ events: [(user: Int64, amount: Double, ts: Int64)]) throws -> String {
        let path = NSTemporaryDirectory() + "backfill-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).ndjson"
        let text = events.enumerated().map { line(id: $0.offset + 1, user: $0.element.user, amount: $0.element.amount, ts: $0.element.ts) }
            .joined(separator: "\n") + "\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func backfill(_ path: String, labels: [(String, Int64)], arguments: [String: String] = [:], parallelism: Int = 1) async throws -> [TrainingRow] {
        let events = labels.enumerated().map { LabelEvent(entity: $0.element.0, time: $0.element.1, label: "\($0.offset)", sequence: Int64($0.offset)) }
        let job = try UserActivityFeatures(arguments)
        return try await Backfill(job: job, labels: .events(events)).run(input: .file(path), parallelism: parallelism).rows
    }

    static func row(_ rows: [TrainingRow], at t: Int64) throws -> TrainingRow { try #require(rows.first { $0.label.time == t }) }

    @Test func aLabelOneMillisecondBeforeAWindowFiresDoesNotSeeIt() async throws {
        let m = Self.m
        // User 7 buys at m+1000; the window [m-240000, m+60000) is the first to contain it and fires
        // when the watermark reaches its end − 1 = m+59999 (event time of the features).
        let path = try Self.file([(7, 10, m + 1000), (7, 20, m + 61_000), (8, 1, m + 400_000)])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let rows = try await Self.backfill(path, labels: [("7", m + 59_998), ("7", m + 59_999), ("7", m + 119_998), ("7", m + 119_999)])
        #expect(rows.count == 4)
        let before = try Self.row(rows, at: m + 59_998)
        #expect(before.features == nil && before.featureEventTime == nil, "nothing was servable 1 ms before the first window fired")
        let at = try Self.row(rows, at: m + 59_999)
        #expect(at.featureEventTime == m + 59_999)
        #expect(at.features == [.int(1), .double(10), .double(10), .double(10)])
        // One millisecond before the next window fires the label still sees the older window,
        // although the event at m+61000 is already in the input.
        let next = try Self.row(rows, at: m + 119_998)
        #expect(next.featureEventTime == m + 59_999 && next.features?[0] == .int(1))
        let fired = try Self.row(rows, at: m + 119_999)
        #expect(fired.featureEventTime == m + 119_999 && fired.features == [.int(2), .double(30), .double(15), .double(20)])
    }

    @Test func lateUpdatesAreVisibleOnlyFromTheWatermarkTheyArrivedAt() async throws {
        let m = Self.m
        // Out of order within the 2 s delay (m+900 after m+1000) counts normally. m+65000 moves the
        // watermark to m+63000 (the first window fires); m+2000 then arrives late but inside the
        // 10 s allowed lateness: the window is re-fired with the same event time, servable from m+63000.
        let path = try Self.file([(7, 10, m + 1000), (7, 1, m + 900), (9, 3, m + 65_000), (7, 5, m + 2000), (9, 1, m + 400_000)])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let rows = try await Self.backfill(path, labels: [("7", m + 59_999), ("7", m + 62_999), ("7", m + 63_000)],
                                           arguments: ["allowed-lateness": "10s"])
        let onTime = try Self.row(rows, at: m + 59_999)
        #expect(onTime.featureEventTime == m + 59_999 && onTime.features == [.int(2), .double(11), .double(5.5), .double(10)])
        let beforeLate = try Self.row(rows, at: m + 62_999)
        #expect(beforeLate.features == onTime.features, "the late event had not arrived yet")
        let afterLate = try Self.row(rows, at: m + 63_000)
        #expect(afterLate.featureEventTime == m + 59_999)
        #expect(afterLate.features == [.int(3), .double(16), .double(16.0 / 3), .double(10)])

        // Without allowed lateness the fired window is never updated (the event only counts in the
        // windows that had not fired yet).
        let strict = try await Self.backfill(path, labels: [("7", m + 63_000)])
        #expect(try Self.row(strict, at: m + 63_000).features == onTime.features)
    }

    @Test func featuresOlderThanTheTTLAreMissing() async throws {
        let m = Self.m
        // The last window containing m+1000 ends at m+300000: features with event time m+299999.
        let path = try Self.file([(7, 10, m + 1000), (8, 1, m + 600_000)])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let rows = try await Self.backfill(path, labels: [("7", m + 359_999), ("7", m + 360_000), ("42", m + 100_000)],
                                           arguments: ["ttl": "1m"])
        let fresh = try Self.row(rows, at: m + 359_999)
        #expect(fresh.featureEventTime == m + 299_999 && fresh.features?[0] == .int(1), "exactly the TTL old: still served")
        let expired = try Self.row(rows, at: m + 360_000)
        #expect(expired.features == nil && expired.featureEventTime == nil, "older than the TTL: missing")
        #expect(try Self.row(rows, at: m + 100_000).features == nil, "an entity without features")
    }

    @Test func parallelismOneAndTwoGiveTheSameTrainingSet() async throws {
        // 20,000 standard-workload events (out of order by up to ±1 s), labels every 7th event at
        // a time after it: the byte ranges split users' events between the readers.
        var generator = WorkloadGenerator(seed: 42, count: 20_000)
        var bytes: [UInt8] = []
        var labels: [(String, Int64)] = []
        var i = 0
        while let e = generator.next() {
            WorkloadGenerator.appendLine(of: e, to: &bytes)
            if i % 7 == 0 { labels.append((String(e.userId), e.tsMs + Int64(i % 5) * 20_000)) }
            i += 1
        }
        let path = NSTemporaryDirectory() + "backfill-p-\(getpid()).ndjson"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let p1 = try await Self.backfill(path, labels: labels, parallelism: 1)
        let p2 = try await Self.backfill(path, labels: labels, parallelism: 2)
        #expect(p1.count == labels.count && p2.count == labels.count)
        #expect(p1.contains { $0.features != nil } && p1.contains { $0.features == nil })
        var bitEqual = 0
        for (a, b) in zip(p1, p2) {
            #expect(a.label == b.label && a.featureEventTime == b.featureEventTime)
            #expect(Self.equal(a.features, b.features, relative: 1e-12), "\(a) vs \(b)")
            if a.features == b.features { bitEqual += 1 }
        }
        // Sums of a user's events read by two readers may be added in another order.
        #expect(bitEqual >= p1.count * 9 / 10)
    }

    /// Bad lines are appended to the dead-letter file as they are found, with the reason and its
    /// code; only the first `deadLettersKept` stay in memory, the count covers all of them, and
    /// the training set is what the good lines give.
    @Test func deadLettersStreamToTheirFileAndOnlyTheFirstAreKept() async throws {
        let m = Self.m
        let dir = NSTemporaryDirectory() + "backfill-dlq-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 2,000 events of users 1…4, one bad line after every 20th (100 bad lines in all).
        var lines: [String] = []
        for i in 0..<2_000 {
            lines.append(Self.line(id: i + 1, user: Int64(i % 4 + 1), amount: 1, ts: m + Int64(i) * 100))
            if i % 20 == 0 { lines.append(#"{"before":null,"after":{"id":"#) }
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/events.ndjson", atomically: true, encoding: .utf8)
        try ([#"{"entity":"1","label_time":\#(m + 199_999),"label":1}"#, #"{"entity":"2","label":0}"#, "not json"]
            .joined(separator: "\n") + "\n").write(toFile: dir + "/labels.ndjson", atomically: true, encoding: .utf8)
        var backfill = Backfill(job: try UserActivityFeatures(), labels: .file(dir + "/labels.ndjson"))
        backfill.deadLetterPath = dir + "/dead.ndjson"
        backfill.deadLettersKept = 3
        let result = try await backfill.run(input: .file(dir + "/events.ndjson"), parallelism: 2)
        #expect(result.deadLetterCount == 102)
        #expect(result.deadLetters.count == 3)
        let dead = try String(contentsOfFile: dir + "/dead.ndjson", encoding: .utf8).split(separator: "\n")
        #expect(dead.count == 102)
        let parsed = try dead.map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String]) }
        #expect(parsed.allSatisfy { !($0["reason"] ?? "").isEmpty && !($0["code"] ?? "").isEmpty && $0["record"] != nil })
        #expect(parsed.filter { $0["record"] == #"{"before":null,"after":{"id":"# }.count == 100)
        #expect(parsed.contains { $0["record"] == "not json" } && parsed.contains { $0["record"] == #"{"entity":"2","label":0}"# })
        // The one good label: user 1's five-minute window ending at m + 180,000 (its 450 events
        // before then: every 4th of the first 1,800).
        #expect(result.rowCount == 1)
        let row = try #require(result.rows.first)
        #expect(row.label.entity == "1" && row.features?.first == .int(450), "\(row)")
        // Without a path nothing is written and the count still covers every bad line.
        var counted = Backfill(job: try UserActivityFeatures(), labels: .file(dir + "/labels.ndjson"))
        counted.deadLettersKept = 0
        let again = try await counted.run(input: .file(dir + "/events.ndjson"), parallelism: 1)
        #expect(again.deadLetterCount == 102 && again.deadLetters.isEmpty)
    }

    /// Ints exactly, doubles within `relative`.
    static func equal(_ a: [FeatureValue?]?, _ b: [FeatureValue?]?, relative: Double) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) {
            switch (x, y) {
            case let (.double(u)?, .double(v)?):
                if u != v && abs(u - v) > relative * max(abs(u), abs(v)) { return false }
            default: if x != y { return false }
            }
        }
        return true
    }

    @Test func interleavedBlocksKeepReadersWithinTheirRounds() throws {
        let lines = (0..<2_000).map { "line-\($0)" }
        let path = NSTemporaryDirectory() + "rounds-\(getpid()).txt"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let source = try FileRangeSource(path: path, decoder: StringLines(), splits: 2, blockSize: 100, maxAheadRounds: 1)
        var readers = try (0..<2).map { s in
            var r = try source.makeReader(subtask: s)
            try r.open(context: SourceContext(subtask: s, parallelism: 2, metrics: OperatorMetrics(name: "r"), jobMetrics: JobMetrics()))
            return r
        }
        var read: [[String]] = [[], []], finished = [false, false], idle = 0
        // Reader 0 alone runs until it is a round ahead of reader 1, which has not moved.
        var batch = Batch<String>(), dead: [DeadLetter<String>] = []
        while try readers[0].poll(into: &batch, deadLetters: &dead, maxRecords: 3) == .more {}
        #expect(!batch.isEmpty && batch.count < lines.count / 4, "stopped after its first blocks: \(batch.count) lines")
        read[0] = batch.values
        // Then both alternate to the end.
        while !(finished[0] && finished[1]) {
            for s in 0..<2 where !finished[s] {
                var b = Batch<String>()
                let status = try readers[s].poll(into: &b, deadLetters: &dead, maxRecords: 7)
                read[s] += b.values
                if status == .finished { finished[s] = true }
                if status == .idle { idle += 1 }
            }
        }
        #expect((read[0] + read[1]).sorted() == lines.sorted())
        #expect(read[0].count > 500 && read[1].count > 500)
        #expect(source.progress.completed == source.progress.total)
        for s in 0..<2 { readers[s].close() }
        _ = idle
    }

    @Test func byteRangesReadEveryLineOnce() throws {
        let lines = (0..<997).map { i in i % 10 == 3 ? "" : String(repeating: "x", count: i % 37) + "\(i)" }
        for trailingNewline in [true, false] {
            let text = lines.joined(separator: "\n") + (trailingNewline ? "\n" : "")
            let path = NSTemporaryDirectory() + "ranges-\(getpid()).txt"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: path) }
            for splits in [1, 2, 3, 7, 64] {
              for blockSize: Int64 in [4 << 20, 50, 1] {
                let source = try FileRangeSource(path: path, decoder: StringLines(), splits: splits, blockSize: blockSize)
                var read: [String] = []
                for s in 0..<splits {
                    var reader = try source.makeReader(subtask: s)
                    try reader.open(context: SourceContext(subtask: s, parallelism: splits, metrics: OperatorMetrics(name: "r"), jobMetrics: JobMetrics()))
                    var batch = Batch<String>(), dead: [DeadLetter<String>] = []
                    while try reader.poll(into: &batch, deadLetters: &dead, maxRecords: 5) != .finished {}
                    read += batch.values
                    reader.close()
                }
                #expect(read.sorted() == lines.filter { !$0.isEmpty }.sorted(), "splits \(splits), blocks of \(blockSize)")
                if blockSize > Int64(text.utf8.count) { #expect(read == lines.filter { !$0.isEmpty }, "one range per split: file order") }
                #expect(source.progress.completed == source.progress.total)
              }
            }
        }
    }
}
