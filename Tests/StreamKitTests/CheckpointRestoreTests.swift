import Foundation
import Synchronization
import Testing
import StreamKitTesting
@_spi(Testing) import StreamKit
import StreamKitWorkload
import StreamKitQuery

/// Checkpoint → failure → restore through real jobs: the output file of an interrupted and resumed
/// run must equal (as a multiset of lines) the output of an uninterrupted run.
@Suite struct CheckpointRestoreTests {
    static let events = 60_000

    static func query(_ input: String) throws -> WindowQuery {
        try WindowQuery(input: .file(input), keyPath: "after.user_id", timePath: "after.ts_ms",
                        window: .sliding(size: .seconds(10), slide: .seconds(5)),
                        aggregates: "count,sum:after.amount,max:after.amount")
    }

    static func options(parallelism: Int, checkpoints dir: String? = nil, failAfter: Int? = nil, restore: Bool = false) -> Job.RunOptions {
        var o = Job.RunOptions(parallelism: parallelism)
        o.batchSize = 1_000
        if let dir { o.checkpoints = CheckpointConfiguration(directory: dir, interval: nil, everyRecords: 10_000) }
        o.faults = failAfter.map { FaultInjection(failAfterRecords: $0) }
        o.restore = restore
        return o
    }

    /// The input file and the sorted output of an uninterrupted run, made once for all cases
    /// (the output does not depend on the parallelism).
    static let expectedLines: Result<[String], any Error> = Result {
        let dir = TempDir("streamkit-cp-reference")
        defer { dir.cleanup() }
        let input = dir.file("events.jsonl")
        _ = try WorkloadGenerator.writeFile(path: input, events: events)
        let reference = dir.file("reference.ndjson")
        _ = try query(input).job(output: .file(reference)).start(options(parallelism: 1)).waitUntilFinished()
        return try sortedLines(reference)
    }

    @Test(.timeLimit(.minutes(15)), arguments: [(1, 1), (2, 2), (1, 2)])
    func failureThenRestoreGivesTheUninterruptedOutput(before: Int, after: Int) async throws {
        let expected = try Self.expectedLines.get()
        #expect(expected.count > 10_000)
        let dir = TempDir("streamkit-cp")
        defer { dir.cleanup() }
        let input = dir.file("events.jsonl")
        _ = try WorkloadGenerator.writeFile(path: input, events: Self.events)
        let q = try Self.query(input)

        let out = dir.file("out.ndjson")
        let checkpoints = dir.file("checkpoints")
        await #expect(throws: StreamKitError.self, "the injected failure stops the first run") {
            try await q.job(output: .file(out)).run(Self.options(parallelism: before, checkpoints: checkpoints, failAfter: 35_000))
        }
        // The restore point is the newest *confirmed* checkpoint (every task handled its
        // completion); one that completed as the source failed is not, and is replaced.
        let latest = try CheckpointStore(directory: checkpoints).restorePoint()
        #expect(latest != nil, "the first run completed checkpoints before it failed")

        let resumed = try await q.job(output: .file(out)).run(Self.options(parallelism: after, checkpoints: checkpoints, restore: true))
        #expect(resumed.restoredCheckpoint != nil && resumed.restoredCheckpoint == latest?.id)
        #expect(resumed.metrics.sourceRecords.current < UInt64(Self.events), "the restored run resumes from the checkpointed position")
        let got = try sortedLines(out)
        #expect(got.count == expected.count)
        #expect(got == expected)
    }

    /// A source that stops (returns `.idle`) half way until the test opens its gate, and whose
    /// position is checkpointed.
    final class Gate: Sendable {
        let open = Atomic<Bool>(false)
        let reachedHalf = Atomic<Bool>(false)
    }

    struct HalfwaySource: Source {
        let gate: Gate
        let count: Int
        var parallelism: Int { 1 }
        func makeReader(subtask: Int) throws -> Reader { Reader(gate: gate, count: count) }
        struct Reader: SourceReader {
            let gate: Gate
            let count: Int
            var position = 0
            mutating func poll(into batch: inout Batch<Ev>, deadLetters: inout [DeadLetter<String>], maxRecords: Int) throws -> SourceStatus {
                if position >= count { return .finished }
                if position >= count / 2 && !gate.open.load(ordering: .acquiring) {
                    gate.reachedHalf.store(true, ordering: .releasing)
                    return .idle
                }
                let end = Swift.min(position + maxRecords, position < count / 2 ? count / 2 : count)
                while position < end {
                    batch.append(Ev(position % 13, EventTime(position * 10), Double(position)), timestamp: Watermark.none, watermark: Watermark.none)
                    position += 1
                }
                return .more
            }
            func snapshotPosition(into writer: inout ByteWriter) { writer.writeVarUInt(UInt64(position)) }
            mutating func restorePosition(_ bytes: [UInt8]) throws { var r = ByteReader(bytes); position = Int(try r.readVarUInt()) }
        }
    }

    static func halfwayJob(gate: Gate, output: String) -> Job {
        Job("halfway") { env in
            env.source(HalfwaySource(gate: gate, count: 20_000))
                .assignTimestamps({ $0.ts }, watermark: .boundedOutOfOrderness(.seconds(1)))
                .keyBy { $0.key }
                .window(.tumbling(size: .seconds(7)))
                .aggregate(countSum())
                .writeLines(to: output) { r, out in
                    out.append(contentsOf: Array("\(r.key) \(r.windowStart) \(r.windowEnd) \(r.value.0) \(r.value.1)".utf8))
                }
        }
    }

    @Test(.timeLimit(.minutes(15)), arguments: [1, 2])
    func stopWithCheckpointThenRestore(parallelism: Int) throws {
        let dir = TempDir("streamkit-stop")
        defer { dir.cleanup() }
        let reference = dir.file("reference.txt")
        let openGate = Gate()
        openGate.open.store(true, ordering: .relaxed)
        _ = try Self.halfwayJob(gate: openGate, output: reference).start(Self.options(parallelism: parallelism)).waitUntilFinished()
        let expected = try sortedLines(reference)
        #expect(expected.count > 100)

        let out = dir.file("out.txt")
        let checkpoints = dir.file("checkpoints")
        var options = Self.options(parallelism: parallelism)
        options.checkpoints = CheckpointConfiguration(directory: checkpoints, interval: nil)
        let gate = Gate()
        let running = try Self.halfwayJob(gate: gate, output: out).start(options)
        let deadline = Date().addingTimeInterval(30)
        while !gate.reachedHalf.load(ordering: .acquiring) && Date() < deadline { usleep(1_000) }
        let reached = gate.reachedHalf.load(ordering: .acquiring)
        #expect(reached)
        let id = running.stop(checkpoint: true, timeout: .seconds(5))   // SIGTERM-style graceful stop
        #expect(id != nil, "the stop checkpoint completed")
        if id == nil { running.stop(checkpoint: false) }
        let partial = try sortedLines(out)
        #expect(partial.count < expected.count, "windows are not flushed on stop")

        gate.open.store(true, ordering: .releasing)
        options.restore = true
        let result = try Self.halfwayJob(gate: gate, output: out).start(options).waitUntilFinished()
        #expect(result.restoredCheckpoint == id)
        #expect(result.metrics.sourceRecords.current == 10_000, "the restored run reads only the second half")
        #expect(try sortedLines(out) == expected)
    }
}
