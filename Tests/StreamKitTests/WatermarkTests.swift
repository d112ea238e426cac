import Synchronization
import Testing
import StreamKitTesting
import StreamKit

/// Watermark generation (``TimestampAssigner``) through the harness, and the gate's minimum
/// combination in a running job.
@Suite struct WatermarkTests {
    typealias Harness = OperatorTestHarness<TimestampAssigner<Ev>>
    static func harness(_ strategy: WatermarkStrategy, now: Int64 = 0) throws -> Harness {
        try OperatorTestHarness(TimestampAssigner(extract: { $0.ts }, strategy: strategy), processingTime: now)
    }
    static func batch(_ ts: [EventTime], split: Int32) -> Batch<Ev> {
        var b = Batch<Ev>()
        for t in ts { b.append(Ev(Int(split), t), timestamp: Watermark.none, watermark: Watermark.none) }
        b.split = split
        return b
    }

    @Test func watermarkAdvancesAfterEveryRecord() throws {
        let h = try Self.harness(.boundedOutOfOrderness(.milliseconds(2)))
        try h.processBatch(Self.batch([10, 8, 15, 12, 16], split: -1))
        #expect(h.output.map(\.timestamp) == [10, 8, 15, 12, 16])
        // Each record carries the watermark in force before it: max seen so far - 2.
        #expect(h.output.map(\.watermark) == [Watermark.none, 8, 8, 13, 13])
        #expect(h.outputWatermark == 14)
        // The same records one by one give the same watermarks (batching does not matter).
        let one = try Self.harness(.boundedOutOfOrderness(.milliseconds(2)))
        for t: EventTime in [10, 8, 15, 12, 16] { try one.processBatch(Self.batch([t], split: -1)) }
        #expect(one.output.map(\.watermark) == h.output.map(\.watermark))
    }

    @Test func splitsCombineByMinimum() throws {
        let h = try Self.harness(.boundedOutOfOrderness(.milliseconds(2)))
        try h.processBatch(Self.batch([100], split: 0))
        #expect(h.outputWatermark == 98)
        try h.processBatch(Self.batch([200, 250], split: 1))
        #expect(h.outputWatermark == 98, "split 0 holds the watermark back")
        #expect(h.output.suffix(2).map(\.watermark) == [98, 98])
        try h.processBatch(Self.batch([150], split: 0))
        #expect(h.outputWatermark == 148)
        try h.processBatch(Self.batch([300], split: 0))
        #expect(h.outputWatermark == 248, "now split 1 (max 250) is the slowest")
    }

    @Test func idleSplitStopsHoldingTheWatermarkUntilItSendsAgain() throws {
        let h = try Self.harness(WatermarkStrategy.boundedOutOfOrderness(.milliseconds(2)).withIdleness(.seconds(1)))
        try h.processBatch(Self.batch([100], split: 0))
        try h.processBatch(Self.batch([200], split: 1))
        #expect(h.outputWatermark == 98)
        try h.setProcessingTime(5_000)
        // Both idle now: nothing active, the watermark does not move, the output is idle.
        #expect(h.outputIdle)
        try h.processBatch(Self.batch([300], split: 1))
        #expect(!h.outputIdle)
        #expect(h.outputWatermark == 298, "split 0 is idle and no longer holds the watermark back")
        try h.setProcessingTime(5_500)
        #expect(h.outputWatermark == 298)
        try h.processBatch(Self.batch([400], split: 0))       // split 0 active again
        try h.processBatch(Self.batch([500], split: 1))
        #expect(h.outputWatermark == 398, "split 0 is active again and holds the watermark back")
        // Split 0 idles again: after the timeout the watermark follows split 1 alone.
        try h.setProcessingTime(5_999)
        #expect(h.outputWatermark == 398)
        try h.processBatch(Self.batch([510], split: 1))      // keeps split 1 active
        try h.setProcessingTime(6_600)
        #expect(h.outputWatermark == 508)
    }

    @Test func idlenessReleasesAHeldWatermarkOnTheTick() throws {
        let h = try Self.harness(WatermarkStrategy.boundedOutOfOrderness(.zero).withIdleness(.milliseconds(100)))
        try h.processBatch(Self.batch([10], split: 0))
        try h.processBatch(Self.batch([50], split: 1))
        #expect(h.outputWatermark == 10)
        try h.setProcessingTime(60)
        try h.processBatch(Self.batch([70], split: 1))
        #expect(h.outputWatermark == 10)
        try h.setProcessingTime(99)
        #expect(h.outputWatermark == 10, "not idle before the timeout")
        try h.setProcessingTime(100)
        #expect(h.outputWatermark == 70, "split 0 idle: the tick advances the watermark to split 1's")
        #expect(!h.outputIdle)
    }

    /// Time the task spent blocked by back-pressure does not count towards idleness: a split the
    /// task could not read is not released (its records would otherwise arrive late).
    @Test func backpressuredTimeDoesNotCountTowardsIdleness() throws {
        let h = try Self.harness(WatermarkStrategy.boundedOutOfOrderness(.zero).withIdleness(.seconds(1)))
        let hook = BackpressureHook()
        h.context.backpressure = hook
        try h.processBatch(Self.batch([10], split: 0))
        try h.processBatch(Self.batch([50], split: 1))
        #expect(h.outputWatermark == 10)
        // Blocked for 5 s, then split 1 delivers first: split 0 is not idle (0 s of activity).
        hook.recordBackpressure(nanos: 5_000_000_000)
        try h.setProcessingTime(5_000)
        try h.processBatch(Self.batch([90], split: 1))
        #expect(h.outputWatermark == 10, "split 0 still holds the watermark back")
        #expect(h.context.inputActivityTime(at: 5_000) == 0)
        // One second of activity without split 0 (split 1 keeps delivering): now it is idle.
        try h.setProcessingTime(5_500)
        try h.processBatch(Self.batch([95], split: 1))
        try h.setProcessingTime(5_999)
        #expect(h.outputWatermark == 10)
        try h.setProcessingTime(6_000)
        #expect(h.outputWatermark == 95, "split 0 idle after 1 s of input activity")
    }

    @Test func futureSkewIsClampedAndCounted() throws {
        let strategy = WatermarkStrategy.boundedOutOfOrderness(.milliseconds(100)).withMaxFutureSkew(.seconds(1))
        let h = try Self.harness(strategy, now: 10_000)
        try h.processBatch(Self.batch([5_000, 50_000, 9_000, 999_999], split: -1))
        #expect(h.operator.clampedTimestamps == 2)
        #expect(h.outputWatermark == 11_000 - 100, "the watermark may not pass now + skew - delay")
        #expect(h.output.map(\.timestamp) == [5_000, 50_000, 9_000, 999_999], "records keep their own timestamps")
        try h.setProcessingTime(20_000)
        try h.processBatch(Self.batch([15_000], split: -1))
        #expect(h.operator.clampedTimestamps == 2)
        #expect(h.outputWatermark == 15_000 - 100)
    }

    @Test func snapshotRestoresSplitProgress() throws {
        let h = try Self.harness(.boundedOutOfOrderness(.zero))
        try h.processBatch(Self.batch([100], split: 0))
        try h.processBatch(Self.batch([50], split: 1))
        let r = try Harness.restore(from: [try h.snapshot()]) {
            TimestampAssigner(extract: { $0.ts }, strategy: .boundedOutOfOrderness(.zero))
        }
        try r.processBatch(Self.batch([300], split: 0))
        #expect(r.outputWatermark == 100, "restored split 1 (max 50) still holds back, the watermark never decreases")
        try r.processBatch(Self.batch([200], split: 1))
        #expect(r.outputWatermark == 200)
    }
}

/// End to end: the input gate of a union combines its channels' watermarks by minimum.
@Suite struct GateWatermarkTests {
    /// Shared between the two sources and the test.
    final class Progress: Sendable {
        let fastDone = Atomic<Bool>(false)
    }

    /// The fast source: everything at once, then a record far ahead (its watermark runs ahead).
    struct FastSource: Source {
        let progress: Progress
        var parallelism: Int { 1 }
        func makeReader(subtask: Int) throws -> Reader { Reader(progress: progress) }
        struct Reader: SourceReader {
            let progress: Progress
            var sent = false
            mutating func poll(into batch: inout Batch<Ev>, deadLetters: inout [DeadLetter<String>], maxRecords: Int) throws -> SourceStatus {
                if sent { progress.fastDone.store(true, ordering: .releasing); return .finished }
                for t in stride(from: EventTime(0), to: 60_000, by: 1_000) { batch.append(Ev(1, t), timestamp: Watermark.none, watermark: Watermark.none) }
                batch.append(Ev(1, 500_000), timestamp: Watermark.none, watermark: Watermark.none)
                sent = true
                return .more
            }
        }
    }

    /// The lagging source: says nothing until the fast source finished and the window operator
    /// received all of its records, then sends records far behind the fast source's watermark.
    struct SlowSource: Source {
        let progress: Progress
        var parallelism: Int { 1 }
        func makeReader(subtask: Int) throws -> Reader { Reader(progress: progress) }
        struct Reader: SourceReader {
            let progress: Progress
            var jobMetrics: JobMetrics?
            var sent = false
            mutating func open(context: SourceContext) throws { jobMetrics = context.jobMetrics }
            mutating func poll(into batch: inout Batch<Ev>, deadLetters: inout [DeadLetter<String>], maxRecords: Int) throws -> SourceStatus {
                if sent { return .finished }
                let windowIn = jobMetrics!.allOperators.filter { $0.name.contains("window") }.reduce(0) { $0 + $1.recordsIn.current }
                guard progress.fastDone.load(ordering: .acquiring), windowIn >= 61 else { return .idle }
                for t in stride(from: EventTime(30_500), to: 40_000, by: 1_000) { batch.append(Ev(1, t, 100), timestamp: Watermark.none, watermark: Watermark.none) }
                sent = true
                return .more
            }
        }
    }

    @Test(.timeLimit(.minutes(15)), arguments: [1, 2])
    func unionHoldsTheWatermarkAtTheSlowerInput(parallelism: Int) async throws {
        let progress = Progress()
        let out = CollectedOutput<WindowResult<Int, (Int64, Double)>>()
        let job = Job("union") { env in
            let fast = env.source(FastSource(progress: progress), name: "fast")
                .assignTimestamps({ $0.ts }, watermark: .boundedOutOfOrderness(.seconds(1)))
            let slow = env.source(SlowSource(progress: progress), name: "slow")
                .assignTimestamps({ $0.ts }, watermark: .boundedOutOfOrderness(.seconds(1)))
            fast.union(slow)
                .keyBy { $0.key }
                .window(.tumbling(size: .minutes(1)))
                .aggregate(countSum(), name: "window")
                .collect(into: out)
        }
        let result = try await job.run(parallelism: parallelism)
        let got = out.values.map(\.row).sorted()
        // The slow source's 10 records land in [0, 60000) although the fast source's watermark
        // passed that window long before: the union's watermark is the minimum of its inputs.
        #expect(got == [Row(key: 1, start: 0, end: 60_000, count: 70, sum: 60 + 1_000),
                        Row(key: 1, start: 480_000, end: 540_000, count: 1, sum: 1)])
        #expect(result.metrics.lateRecords == 0)
    }
}
