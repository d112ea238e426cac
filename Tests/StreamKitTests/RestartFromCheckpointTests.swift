import Foundation
import Synchronization
import Testing
import StreamKitTesting
@_spi(Testing) import StreamKit
import StreamKitWorkload
import StreamKitQuery

/// Restart strategies through real jobs with injected faults: a job that fails restarts in the
/// same process from its newest confirmed checkpoint and ends with the output of a clean run; an
/// exhausted strategy surfaces the failure; a failure between a checkpoint's completion and its
/// commits loses nothing a two-phase-commit sink held.
@Suite struct RestartFromCheckpointTests {
    static func options(parallelism: Int, checkpoints dir: String, strategy: RestartStrategy, faults: FaultInjection?) -> Job.RunOptions {
        var o = Job.RunOptions(parallelism: parallelism)
        o.batchSize = 1_000
        o.checkpoints = CheckpointConfiguration(directory: dir, interval: nil, everyRecords: 10_000)
        o.faults = faults
        o.restartStrategy = strategy
        return o
    }

    @Test(.timeLimit(.minutes(15)), arguments: [1, 2])
    func failedRunRestartsFromItsCheckpointAndMatchesACleanRun(parallelism: Int) async throws {
        let expected = try CheckpointRestoreTests.expectedLines.get()
        let dir = TempDir("streamkit-restart")
        defer { dir.cleanup() }
        let input = dir.file("events.jsonl")
        _ = try WorkloadGenerator.writeFile(path: input, events: CheckpointRestoreTests.events)
        let out = dir.file("out.ndjson")
        var faults = FaultInjection(failAfterRecords: 15_000, afterACheckpoint: true)
        faults.failingAttempts = 2
        let job = try CheckpointRestoreTests.query(input).job(output: .file(out))
        let restarting = RestartingJob(job, options: Self.options(parallelism: parallelism, checkpoints: dir.file("checkpoints"),
                                                                  strategy: .fixedDelay(attempts: 3, delay: .milliseconds(10)), faults: faults))
        let result = try await restarting.result()
        #expect(result.restarts == 2, "two failing attempts, then a clean one")
        #expect(restarting.restarts.current == 2)
        #expect(result.restoredCheckpoint != nil, "the last attempt restored a checkpoint")
        #expect(result.metrics.sourceRecords.current < UInt64(CheckpointRestoreTests.events), "and resumed from its position")
        #expect("\(restarting.lastFailure.map { "\($0)" } ?? "")".contains("injected failure"))
        let got = try sortedLines(out)
        #expect(got.count == expected.count)
        #expect(got == expected, "restarts from checkpoints give the clean run's output")
    }

    @Test(.timeLimit(.minutes(15)))
    func exhaustedStrategyFailsWithTheCause() async throws {
        let dir = TempDir("streamkit-restart-exhausted")
        defer { dir.cleanup() }
        let input = dir.file("events.jsonl")
        _ = try WorkloadGenerator.writeFile(path: input, events: 30_000)
        let job = try CheckpointRestoreTests.query(input).job(output: .file(dir.file("out.ndjson")))
        let options = Self.options(parallelism: 1, checkpoints: dir.file("checkpoints"),
                                   strategy: .fixedDelay(attempts: 2, delay: .zero), faults: FaultInjection(failAfterRecords: 5_000))
        do {
            _ = try await job.run(options)
            Issue.record("a job failing on every attempt must fail")
        } catch let e as StreamKitError {
            #expect(e.message.contains("fixed-delay:attempts=2,delay=0s"), "names the strategy: \(e.message)")
            #expect(e.message.contains("exhausted after 2 restarts"), "\(e.message)")
            #expect(e.message.contains("injected failure after"), "carries the cause: \(e.message)")
        }
        // `.none` (the library default) fails with the failure itself.
        var none = options
        none.restartStrategy = .none
        await #expect(throws: StreamKitError.self) { try await job.run(none) }
    }

    /// A source of `count` numbered records; its position is checkpointed.
    struct NumberSource: Source {
        let count: Int
        var parallelism: Int { 1 }
        func makeReader(subtask: Int) throws -> Reader { Reader(count: count) }
        struct Reader: SourceReader {
            let count: Int
            var position = 0
            mutating func poll(into batch: inout Batch<Int>, deadLetters: inout [DeadLetter<String>], maxRecords: Int) throws -> SourceStatus {
                if position >= count { return .finished }
                let end = Swift.min(position + maxRecords, count)
                while position < end { batch.append(position, timestamp: Watermark.none, watermark: Watermark.none); position += 1 }
                return .more
            }
            func snapshotPosition(into writer: inout ByteWriter) { writer.writeVarUInt(UInt64(position)) }
            mutating func restorePosition(_ bytes: [UInt8]) throws { var r = ByteReader(bytes); position = Int(try r.readVarUInt()) }
        }
    }

    /// What the two-phase-commit sink made visible (the "external system"), across attempts.
    final class Committed: Sendable {
        let values = Mutex<[Int]>([])
    }

    /// A two-phase-commit sink shaped like the transactional ``KafkaSink``: records between two
    /// checkpoints form one transaction, pre-committed by `snapshotState` and committed by
    /// `checkpointCompleted`; a failed attempt's open and pre-committed transactions are lost
    /// with it (aborted).
    struct TwoPhaseSink: StreamOperator {
        typealias Input = Int
        typealias Output = Never
        let committed: Committed
        var open: [Int] = []
        var preCommitted: [(checkpoint: Int64, values: [Int])] = []
        mutating func processBatch(_ input: inout Batch<Int>, into output: inout Batch<Never>, side: inout Batch<Never>, context: OperatorContext) throws {
            open.append(contentsOf: input.values)
        }
        mutating func snapshotState(_ snapshot: inout OperatorSnapshot, context: OperatorContext) throws {
            preCommitted.append((snapshot.checkpointID, open))
            open = []
        }
        mutating func checkpointCompleted(_ checkpointID: Int64, context: OperatorContext) throws {
            while let first = preCommitted.first, first.checkpoint <= checkpointID {
                preCommitted.removeFirst()
                committed.values.withLock { $0.append(contentsOf: first.values) }
            }
        }
        mutating func finish(into output: inout Batch<Never>, side: inout Batch<Never>, context: OperatorContext) throws {
            let rest = preCommitted.flatMap(\.values) + open
            committed.values.withLock { $0.append(contentsOf: rest) }
            preCommitted = []; open = []
        }
    }

    @Test(.timeLimit(.minutes(15)), arguments: [1, 2, 3])
    func crashBetweenCheckpointCompletionAndCommitLosesNothing(crashAfterCheckpoint n: Int) async throws {
        let dir = TempDir("streamkit-2pc")
        defer { dir.cleanup() }
        let committed = Committed()
        let count = 50_000
        let job = Job("two-phase") { env in
            env.source(NumberSource(count: count)).map { $0 }.sink("two-phase-sink") { TwoPhaseSink(committed: committed) }
        }
        var faults = FaultInjection(failAfterCheckpointWritten: n)
        faults.failingAttempts = 1
        let checkpoints = dir.file("checkpoints")
        let result = try await job.run(Self.options(parallelism: 1, checkpoints: checkpoints,
                                                    strategy: .fixedDelay(attempts: 1, delay: .zero), faults: faults))
        #expect(result.restarts == 1)
        // Checkpoint n was written but never announced: the restore used checkpoint n-1, whose
        // transaction had committed, not checkpoint n, whose transaction the crash aborted.
        #expect(result.restoredCheckpoint == (n == 1 ? nil : Int64(n - 1)))
        let values = committed.values.withLock { $0 }
        let unique = Set(values)
        #expect(unique.count == count, "nothing lost: \(count - unique.count) records missing")
        #expect(values.count == count, "and, with a two-phase-commit sink, nothing twice")
        #expect(try CheckpointStore(directory: checkpoints).confirmedCheckpoint() != nil)
    }
}
