import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import StreamKitTesting
@testable import StreamKit

/// The lifecycle of a running job: its state machine alone, and a job as a `Service` in a
/// `ServiceGroup` (graceful shutdown = final checkpoint, then stop).
@Suite struct JobLifecycleTests {
    typealias Machine = RunningJob.StateMachine

    @Test func tasksEndingFinishesTheRunSuccessfully() {
        var m = Machine(tasks: ["a", "b"])
        guard case .none = m.taskEnded("a", now: 1) else { Issue.record("one task still runs"); return }
        #expect(!m.isFinished)
        guard case let .finish(waiters, outcome) = m.taskEnded("b", now: 2) else { Issue.record("the last task finishes"); return }
        #expect(waiters.isEmpty)
        #expect(outcome.error == nil && !outcome.stopped && outcome.endNanos == 2)
        #expect(m.isFinished)
        guard case .exit = m.nextPeriodicCheckpoint() else { Issue.record("no checkpoints after the end"); return }
    }

    @Test func theFirstFailureStopsTheTasksOnceAndIsReported() {
        var m = Machine(tasks: ["a", "b"])
        guard case .stopTasks = m.taskFailed(StreamKitError(.io, "first")) else { Issue.record("stops the tasks"); return }
        guard case .none = m.taskFailed(StreamKitError(.io, "second")) else { Issue.record("stops only once"); return }
        _ = m.taskEnded("a", now: 1)
        guard case let .finish(_, outcome) = m.taskEnded("b", now: 2) else { Issue.record("finishes"); return }
        #expect((outcome.error as? StreamKitError)?.message == "first")
    }

    @Test func gracefulStopTakesTheFinalCheckpointThenStops() {
        var m = Machine(tasks: ["a"])
        guard case .takeFinalCheckpoint = m.stopRequested(checkpoint: true) else { Issue.record("checkpoint first"); return }
        #expect(m.isTakingFinalCheckpoint)
        guard case .waitUntilFinished = m.stopRequested(checkpoint: true) else { Issue.record("a second stop waits"); return }
        guard case .skip = m.nextPeriodicCheckpoint() else { Issue.record("no periodic checkpoint during the final one"); return }
        guard case .stopTasks = m.finalCheckpointEnded(7) else { Issue.record("then the tasks stop"); return }
        guard case let .finish(_, outcome) = m.taskEnded("a", now: 3) else { Issue.record("finishes"); return }
        #expect(outcome.error == nil && outcome.stopped && outcome.finalCheckpoint == 7)
    }

    @Test func stopWithoutCheckpointStopsAtOnce() {
        var m = Machine(tasks: ["a"])
        guard case .stopTasks = m.stopRequested(checkpoint: false) else { Issue.record("stops at once"); return }
        guard case let .finish(_, outcome) = m.taskEnded("a", now: 3) else { Issue.record("finishes"); return }
        #expect(outcome.error == nil && outcome.stopped && outcome.finalCheckpoint == nil)
    }

    @Test func cancelDuringTheFinalCheckpointWins() {
        var m = Machine(tasks: ["a"])
        _ = m.stopRequested(checkpoint: true)
        guard case .stopTasks = m.cancel(StreamKitError(.cancelled, "job cancelled")) else { Issue.record("cancel stops the tasks"); return }
        guard case .none = m.finalCheckpointEnded(nil) else { Issue.record("the cancel already stopped them"); return }
        guard case .none = m.cancelGraceExpired() else { Issue.record("no waiters to release"); return }
        guard case let .finish(_, outcome) = m.taskEnded("a", now: 3) else { Issue.record("finishes"); return }
        #expect((outcome.error as? StreamKitError)?.code == .cancelled)
        guard case .none = m.cancel(StreamKitError(.cancelled, "again")) else { Issue.record("nothing to cancel after the end"); return }
    }

    /// An unbounded source that never ends; counts its polls.
    struct EndlessSource: Source {
        let polls: Counter
        final class Counter: Sendable { let value = Atomic<Int>(0) }
        var parallelism: Int { 2 }
        func makeReader(subtask: Int) throws -> Reader { Reader(polls: polls) }
        struct Reader: SourceReader {
            let polls: Counter
            var emitted = 0
            mutating func poll(into batch: inout Batch<Int>, deadLetters: inout [DeadLetter<String>], maxRecords: Int) throws -> SourceStatus {
                polls.value.add(1, ordering: .relaxed)
                if emitted < 1000 { batch.append(emitted, timestamp: Watermark.none, watermark: Watermark.none); emitted += 1; return .more }
                return .idle
            }
            func snapshotPosition(into writer: inout ByteWriter) { writer.writeVarUInt(UInt64(emitted)) }
        }
    }

    static func group(_ service: JobService) -> ServiceGroup {
        ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup,
                             failureTerminationBehavior: .gracefullyShutdownGroup)],
            logger: Logger(label: "test")))
    }

    @Test(.timeLimit(.minutes(15)))
    func gracefulShutdownOfTheGroupTakesAFinalCheckpoint() async throws {
        let dir = TempDir("streamkit-service")
        defer { dir.cleanup() }
        let polls = EndlessSource.Counter()
        var options = Job.RunOptions(parallelism: 2)
        options.checkpoints = CheckpointConfiguration(directory: dir.file("cp"), interval: nil)
        let service = JobService(Job("endless") { env in
            env.source(EndlessSource(polls: polls), name: "endless").sink("discard") {
                DiscardSink(initial: 0, observe: { (n: inout Int, _: Int) in n += 1 }, done: { _ in })
            }
        }, options: options)
        let group = Self.group(service)
        async let run: Void = group.run()
        while polls.value.load(ordering: .relaxed) < 50 { try await Task.sleep(for: .milliseconds(5)) }
        await group.triggerGracefulShutdown()
        try await run
        let result = try #require(try service.result?.get())
        #expect(result.stopped)
        let final = try #require(result.finalCheckpoint)
        #expect(try CheckpointStore(directory: dir.file("cp")).latestComplete()?.id == final)
        #expect(service.running?.isFinished == true)
    }

    @Test(.timeLimit(.minutes(15)))
    func aBoundedJobEndsItsServiceAndTheGroup() async throws {
        let out = CollectedOutput<Int>()
        let service = JobService(Job("bounded") { env in
            env.source(CollectionSource(Array(0..<10_000)), name: "numbers").map("id") { $0 }.collect(into: out)
        }, options: Job.RunOptions(parallelism: 1))
        try await Self.group(service).run()
        let result = try #require(try service.result?.get())
        #expect(!result.stopped)
        #expect(result.metrics.sourceRecords.current == 10_000)
    }

    @Test(.timeLimit(.minutes(15)))
    func aFailingJobFailsTheGroupWithItsError() async throws {
        let service = JobService(Job("failing") { _ in
            throw StreamKitError(.configuration, "bad job")
        }, options: Job.RunOptions(parallelism: 1))
        await #expect(throws: StreamKitError.self) { try await Self.group(service).run() }
        guard case let .failure(error)? = service.result else { Issue.record("the result is the failure"); return }
        #expect((error as? StreamKitError)?.code == .configuration)
    }

    @Test func durationsNeedAUnitAndAcceptDecimals() throws {
        #expect(try parseDuration("250ms") == .milliseconds(250))
        #expect(try parseDuration("1.5s") == .milliseconds(1500))
        #expect(try parseDuration("10s") == .seconds(10))
        #expect(try parseDuration("5m") == .minutes(5))
        #expect(try parseDuration("1h") == .hours(1))
        #expect(try parseDuration("0s") == .zero)
        #expect(try parseDuration("0") == .zero, "zero needs no unit")
        for bad in ["10", "1.5", "-1s", "s", "1e3ms", "abc", "1.2.3s", "inf s"] {
            #expect(throws: StreamKitError.self, "\(bad)") { try parseDuration(bad) }
        }
    }
}
