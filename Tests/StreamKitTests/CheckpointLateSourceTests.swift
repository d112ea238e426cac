import Foundation
import Synchronization
import Testing
import StreamKitTesting
@_spi(Testing) import StreamKit

/// A source subtask that opens late (its reader's `open` is slow: a Kafka metadata request on a
/// loaded machine) still takes part in the checkpoint the other subtask triggered before it
/// started: the checkpoint completes and later ones follow.
@Suite struct CheckpointLateSourceTests {
    final class Progress: Sendable {
        let firstSubtaskRecords = Atomic<Int>(0)
    }

    /// Two subtasks of `count` integers each; subtask 1 opens only after subtask 0 has read
    /// `openAfter` records (past its first checkpoint trigger).
    struct LateOpeningSource: Source {
        let progress: Progress
        let count: Int
        let openAfter: Int
        var parallelism: Int { 2 }
        func makeReader(subtask: Int) throws -> Reader { Reader(progress: progress, subtask: subtask, count: count, openAfter: openAfter) }
        struct Reader: SourceReader {
            let progress: Progress
            let subtask: Int
            let count: Int
            let openAfter: Int
            var next = 0
            mutating func open(context: SourceContext) throws {
                guard subtask == 1 else { return }
                while progress.firstSubtaskRecords.load(ordering: .acquiring) < openAfter { usleep(1_000) }
            }
            mutating func poll(into batch: inout Batch<Int>, deadLetters: inout [DeadLetter<String>], maxRecords: Int) throws -> SourceStatus {
                let end = Swift.min(count, next + maxRecords)
                while next < end { batch.append(next, timestamp: Watermark.none, watermark: Watermark.none); next += 1 }
                if subtask == 0 { progress.firstSubtaskRecords.store(next, ordering: .releasing) }
                return next == count ? .finished : .more
            }
            func snapshotPosition(into writer: inout ByteWriter) { writer.writeVarInt(Int64(next)) }
        }
    }

    @Test(.timeLimit(.minutes(15)))
    func aCheckpointTriggeredBeforeASubtaskStartedCompletes() async throws {
        let dir = TempDir("streamkit-late-source")
        defer { dir.cleanup() }
        let progress = Progress()
        let seen = Atomic<Int>(0)
        var options = Job.RunOptions(parallelism: 2)
        options.batchSize = 100
        // Subtask 0 triggers checkpoint 1 at 1,000 records; subtask 1 opens at 1,200 (its channel
        // holds 16 batches before back-pressure, so subtask 0 gets there while aligned).
        options.checkpoints = CheckpointConfiguration(directory: dir.file("cp"), interval: nil, everyRecords: 1_000)
        let result = try await Job("late-source") { env in
            env.source(LateOpeningSource(progress: progress, count: 20_000, openAfter: 1_200), name: "late")
                .sink("count", parallelism: 1) { DiscardSink(initial: 0, observe: { (_: inout Int, _: Int) in seen.add(1, ordering: .relaxed) }, done: { _ in }) }
        }.run(options)
        #expect(seen.load(ordering: .relaxed) == 40_000)
        // Without the late subtask's barrier checkpoint 1 never completes, and as only one
        // checkpoint is in flight at a time, none after it is ever triggered.
        #expect(result.lastCheckpoint >= 2, "checkpoints completed: \(result.metrics.checkpointsCompleted.current)")
    }
}
