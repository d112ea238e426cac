import Foundation
import Synchronization
import Testing
import StreamKitTesting
import StreamKit
import StreamKitWorkload
import StreamKitQuery

/// Back-pressure: a slow sink behind a keyed exchange with tiny channels pauses the source.
@Suite struct BackpressureTests {
    final class Probe: Sendable {
        let emitted = Atomic<Int>(0)
        let received = Atomic<Int>(0)
        let maxOutstanding = Atomic<Int>(0)
        let pauses = Atomic<Int>(0)
        let resumes = Atomic<Int>(0)
        let pausedNow = Atomic<Bool>(false)
        let pollsWhilePaused = Atomic<Int>(0)
    }

    struct CountingSource: Source {
        let probe: Probe
        let count: Int
        var parallelism: Int { 1 }
        func makeReader(subtask: Int) throws -> Reader { Reader(probe: probe, count: count) }
        struct Reader: SourceReader {
            let probe: Probe
            let count: Int
            var next = 0
            mutating func poll(into batch: inout Batch<Ev>, deadLetters: inout [DeadLetter<String>], maxRecords: Int) throws -> SourceStatus {
                if probe.pausedNow.load(ordering: .relaxed) { probe.pollsWhilePaused.add(1, ordering: .relaxed) }
                let outstanding = probe.emitted.load(ordering: .relaxed) - probe.received.load(ordering: .relaxed)
                if outstanding > probe.maxOutstanding.load(ordering: .relaxed) { probe.maxOutstanding.store(outstanding, ordering: .relaxed) }
                let before = next, end = Swift.min(count, next + maxRecords)
                while next < end {
                    batch.append(Ev(next % 4, EventTime(next)), timestamp: Watermark.none, watermark: Watermark.none)
                    next += 1
                }
                probe.emitted.add(next - before, ordering: .relaxed)
                return next >= count ? .finished : .more
            }
            mutating func pause() { probe.pauses.add(1, ordering: .relaxed); probe.pausedNow.store(true, ordering: .relaxed) }
            mutating func resume() { probe.resumes.add(1, ordering: .relaxed); probe.pausedNow.store(false, ordering: .relaxed) }
        }
    }

    /// Sleeps per batch: a sink slower than the source.
    struct SlowSink: StreamOperator {
        typealias Output = Never
        let probe: Probe
        mutating func processBatch(_ input: inout Batch<Ev>, into output: inout Batch<Never>, side: inout Batch<Never>, context: OperatorContext) throws {
            usleep(1_000)
            probe.received.add(input.count, ordering: .relaxed)
        }
    }

    @Test(.timeLimit(.minutes(15)), arguments: [1, 2])
    func slowSinkPausesTheSource(parallelism: Int) async throws {
        let probe = Probe()
        let count = 3_000, batch = 10
        let policy = HighLowWatermark(low: 1, high: 2)
        let job = Job("backpressure") { env in
            _ = env.source(CountingSource(probe: probe, count: count))
                .keyBy { $0.key }
                .transform("slow-sink") { SlowSink(probe: probe) }
        }
        var options = Job.RunOptions(parallelism: parallelism)
        options.batchSize = batch
        options.channelPolicy = policy
        let result = try await job.run(options)
        #expect(probe.received.load(ordering: .relaxed) == count, "every record arrives")
        #expect(probe.pauses.load(ordering: .relaxed) > 0, "the reader was paused")
        #expect(probe.resumes.load(ordering: .relaxed) == probe.pauses.load(ordering: .relaxed), "every pause was resumed")
        #expect(probe.pollsWhilePaused.load(ordering: .relaxed) == 0, "a paused reader is not polled")
        #expect(result.metrics.backpressurePauses > 0)
        #expect(result.metrics.backpressuredNanos > 0)
        for (name, channel) in result.metrics.allChannels {
            #expect(channel.peakOccupancy.current <= Int64(policy.high), "\(name)")
        }
        // Records in flight are bounded by the channels, not by the input size.
        let bound = (policy.high + 2) * batch * parallelism
        #expect(probe.maxOutstanding.load(ordering: .relaxed) <= bound)
    }
}

/// Malformed input goes to the dead-letter file and the job keeps running.
@Suite struct DeadLetterTests {
    @Test(.timeLimit(.minutes(15)))
    func malformedLinesBecomeDeadLetters() async throws {
        let dir = TempDir("streamkit-dead")
        defer { dir.cleanup() }
        var generator = WorkloadGenerator(seed: 42, count: 200)
        var good: [WorkloadEvent] = []
        var file: [UInt8] = []
        var badLines: [Int] = []
        var lineNumber = 0
        func addBad(_ bytes: [UInt8]) { file += bytes; file.append(0x0A); lineNumber += 1; badLines.append(lineNumber) }
        while let e = generator.next() {
            var line: [UInt8] = []
            WorkloadGenerator.appendLine(of: e, to: &line)
            file += line; lineNumber += 1; good.append(e)
            switch e.id {
            case 20: addBad(Array(line.prefix(60)))                                             // truncated JSON
            case 50: addBad(Array(#"{"op":"c","after":{"user_id":[1,2],"amount":1.5,"ts_ms":1700000000000}}"#.utf8))   // key of the wrong type
            case 90: addBad(Array(#"{"op":"c","after":{"user_id":7,"amount":1.5,"ts_ms":"yesterday"}}"#.utf8))          // time of the wrong type
            case 130: addBad([0xFF, 0xFE, 0x00, 0x13, 0x80, 0xC3, 0x28, 0x7B, 0x22])                 // binary garbage
            default: break
            }
        }
        let input = dir.file("events.jsonl")
        try Data(file).write(to: URL(fileURLWithPath: input))

        let q = try WindowQuery(input: .file(input), keyPath: "after.user_id", timePath: "after.ts_ms",
                                window: .tumbling(size: .seconds(1)), aggregates: "count,sum:after.amount")
        let output = dir.file("out.ndjson"), dead = dir.file("dead.ndjson"), late = dir.file("late.ndjson")
        let result = try await q.job(output: .file(output), late: late, deadLetters: dead).run(Job.RunOptions(parallelism: 2))

        #expect(result.metrics.droppedRecords == UInt64(badLines.count))
        #expect(result.metrics.lateRecords == 0)
        let letters = try String(contentsOfFile: dead, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(letters.count == badLines.count, "one dead letter per bad line")
        let reasons = letters.compactMap { line -> String? in
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            #expect(obj["record"] is String)
            return obj["reason"] as? String
        }
        #expect(reasons.count == badLines.count, "every dead letter is one JSON object with a reason")
        for (reason, n) in zip(reasons.sorted(), badLines.map { "\(input):\($0):" }.sorted()) {
            #expect(reason.hasPrefix(n), "the reason names the line: \(reason)")
        }

        // The good lines give exactly the reference windows.
        struct Window: Hashable { var key: Int64; var start: Int64 }
        var reference: [Window: (Int64, Int64)] = [:]    // count, sum in cents
        for e in good {
            let w = Window(key: e.userId, start: e.tsMs - ((e.tsMs % 1_000) + 1_000) % 1_000)
            let c = reference[w] ?? (0, 0)
            reference[w] = (c.0 + 1, c.1 + e.amountCents)
        }
        let rows = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
        #expect(rows.count == reference.count)
        for row in rows {
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(row.utf8)) as? [String: Any])
            let key = (obj["key"] as? NSNumber)?.int64Value ?? -1
            let start = (obj["window_start"] as? NSNumber)?.int64Value ?? -1
            let end = (obj["window_end"] as? NSNumber)?.int64Value ?? -1
            guard let ref = reference[Window(key: key, start: start)] else { Issue.record("unexpected row \(row)"); continue }
            #expect(end == start + 1_000)
            #expect((obj["count"] as? NSNumber)?.int64Value == ref.0)
            #expect(abs(((obj["sum"] as? NSNumber)?.doubleValue ?? .nan) * 100 - Double(ref.1)) < 1e-6)
        }
    }
}

/// The standard workload's published numbers (WORKLOAD.md §3).
@Suite struct WorkloadCorrectnessTests {
    static func run(_ window: WindowAssigner, parallelism: Int) async throws -> WindowChecksums.Partial {
        let q = try WindowQuery(input: .workload(events: 100_000, seed: 42), keyPath: "after.user_id", timePath: "after.ts_ms",
                                window: window, aggregates: "count,sum:after.amount,avg:after.amount,max:after.amount")
        let sums = WindowChecksums()
        let result = try await q.job(output: .checksums(sums)).run(Job.RunOptions(parallelism: parallelism))
        #expect(result.metrics.lateRecords == 0, "the workload has no late events")
        #expect(result.metrics.droppedRecords == 0)
        return sums.value
    }

    static func fixed(_ v: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", v) }

    @Test(.timeLimit(.minutes(15)), arguments: [1, 2])
    func hop100k(parallelism: Int) async throws {
        let s = try await Self.run(.sliding(size: .minutes(5), slide: .minutes(1)), parallelism: parallelism)
        #expect(s.rows == 330_323)
        #expect(s.count == 500_000)
        #expect(Self.fixed(s.sum, 1) == "125432916.8")
        #expect(Self.fixed(s.avg, 4) == "82783623.0861")
        #expect(Self.fixed(s.max, 2) == "94770652.47")
    }

    /// Expected numbers: `python3 /work/shared/gen_events.py 100000 events.jsonl`, then a plain
    /// Python loop applying WORKLOAD.md §2 (tumble 60 s, watermark max - 2 s, sums in integer
    /// cents); the same loop reproduces the published hop row above.
    @Test(.timeLimit(.minutes(15)), arguments: [1, 2])
    func tumble100k(parallelism: Int) async throws {
        let s = try await Self.run(.tumbling(size: .minutes(1)), parallelism: parallelism)
        #expect(s.rows == 78_061)
        #expect(s.count == 100_000)
        #expect(Self.fixed(s.sum, 2) == "25086583.36")
        #expect(Self.fixed(s.avg, 4) == "19569696.3280")
        #expect(Self.fixed(s.max, 2) == "21231438.80")
    }
}
