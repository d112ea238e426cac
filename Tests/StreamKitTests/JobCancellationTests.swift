import Foundation
import Synchronization
import Testing
import StreamKitTesting
import StreamKit

/// Cancelling the task that awaits `Job.run` stops the job instead of leaving it running.
@Suite struct JobCancellationTests {
    /// An unbounded source that never has data; counts its polls and whether it was closed.
    struct EndlessSource: Source {
        final class Probe: Sendable {
            let polls = Atomic<Int>(0)
            let closed = Atomic<Bool>(false)
        }
        let probe: Probe
        var parallelism: Int { 2 }
        func makeReader(subtask: Int) throws -> Reader { Reader(probe: probe) }
        struct Reader: SourceReader {
            let probe: Probe
            mutating func poll(into batch: inout Batch<Int>, deadLetters: inout [DeadLetter<String>], maxRecords: Int) throws -> SourceStatus {
                probe.polls.add(1, ordering: .relaxed)
                return .idle
            }
            mutating func close() { probe.closed.store(true, ordering: .relaxed) }
        }
    }

    @Test(.timeLimit(.minutes(15)))
    func cancellingTheWaitingTaskStopsTheJob() async throws {
        let probe = EndlessSource.Probe()
        let out = CollectedOutput<Int>()
        let task = Task {
            try await Job("endless") { env in
                env.source(EndlessSource(probe: probe), name: "endless").map("id") { $0 }.collect(into: out)
            }.run(parallelism: 2)
        }
        while probe.polls.load(ordering: .relaxed) < 10 { try await Task.sleep(for: .milliseconds(5)) }
        task.cancel()
        let result = await task.result
        // Without cancellation support the job would run until the test's time limit (no
        // wall-clock bound here: the whole suite shares two cores; one took 30.8 s under load).
        guard case let .failure(error) = result else { Issue.record("a cancelled job must not report success"); return }
        #expect((error as? StreamKitError)?.code == .cancelled, "\(error)")
        let closed = probe.closed.load(ordering: .relaxed)
        #expect(closed, "readers were closed")
        let polls = probe.polls.load(ordering: .relaxed)
        try await Task.sleep(for: .milliseconds(100))
        #expect(probe.polls.load(ordering: .relaxed) == polls, "no reader polls after the job stopped")
    }
}
