import Testing
import StreamKitTesting
import StreamKit
import StreamKitWorkload

/// Window operators driven through the harness: assignment, firing at `end - 1`, lateness.
@Suite struct TumblingWindowTests {
    typealias Harness = OperatorTestHarness<SlicingWindowOperator<Int, Ev, CountSum>>

    static func harness(_ assigner: WindowAssigner, lateness: Duration = .zero) throws -> Harness {
        try OperatorTestHarness(SlicingWindowOperator(assigner: assigner, allowedLateness: lateness, aggregate: countSum(), key: { $0.key }))
    }

    @Test func contentsAndHalfOpenBoundaries() throws {
        let h = try Self.harness(.tumbling(size: .seconds(10)))
        try h.processElement(Ev(1, 0, 1), timestamp: 0)
        try h.processElement(Ev(1, 9_999, 2), timestamp: 9_999)    // last ms of [0, 10000)
        try h.processElement(Ev(1, 10_000, 4), timestamp: 10_000)  // first ms of [10000, 20000)
        try h.processElement(Ev(2, 5_000, 8), timestamp: 5_000)
        try h.processWatermark(9_998)
        #expect(h.output.isEmpty, "a window must not fire before the watermark reaches end - 1")
        try h.processWatermark(9_999)
        #expect(rows(h.takeOutput()) == [Row(key: 1, start: 0, end: 10_000, count: 2, sum: 3),
                                         Row(key: 2, start: 0, end: 10_000, count: 1, sum: 8)])
        try h.processWatermark(19_998)
        #expect(h.output.isEmpty)
        try h.processWatermark(19_999)
        let out = h.takeOutput()
        #expect(rows(out) == [Row(key: 1, start: 10_000, end: 20_000, count: 1, sum: 4)])
        #expect(out.first?.timestamp == 19_999, "a window result carries its max timestamp end - 1")
        #expect(h.metrics.lateRecords.current == 0)
    }

    @Test func epochAlignmentAndOddSizes() throws {
        // 1-minute windows align to the epoch, not to the first record.
        let h = try Self.harness(.tumbling(size: .minutes(1)))
        try h.processElement(Ev(1, 1_700_000_000_030), timestamp: 1_700_000_000_030)
        try h.endInput()
        #expect(rows(h.output) == [Row(key: 1, start: 1_699_999_980_000, end: 1_700_000_040_000, count: 1, sum: 1)])

        let odd = try Self.harness(.tumbling(size: .milliseconds(7)))
        for ts: EventTime in [13, 14, 20, 21] { try odd.processElement(Ev(1, ts), timestamp: ts) }
        try odd.endInput()
        #expect(rows(odd.output) == [Row(key: 1, start: 7, end: 14, count: 1, sum: 1),
                                     Row(key: 1, start: 14, end: 21, count: 2, sum: 2),
                                     Row(key: 1, start: 21, end: 28, count: 1, sum: 1)])

        let offset = try Self.harness(.tumbling(size: .milliseconds(10), offset: .milliseconds(3)))
        for ts: EventTime in [2, 3, 12, 13] { try offset.processElement(Ev(1, ts), timestamp: ts) }
        try offset.endInput()
        #expect(rows(offset.output) == [Row(key: 1, start: -7, end: 3, count: 1, sum: 1),
                                        Row(key: 1, start: 3, end: 13, count: 2, sum: 2),
                                        Row(key: 1, start: 13, end: 23, count: 1, sum: 1)])
    }

    @Test func negativeTimesFloorCorrectly() throws {
        let h = try Self.harness(.tumbling(size: .milliseconds(10)))
        for (ts, v) in [(EventTime(-1), 1.0), (-10, 2), (-11, 4), (0, 8)] { try h.processElement(Ev(1, ts, v), timestamp: ts) }
        try h.processWatermark(-12)
        #expect(h.output.isEmpty)
        try h.processWatermark(-11)
        #expect(rows(h.takeOutput()) == [Row(key: 1, start: -20, end: -10, count: 1, sum: 4)])
        try h.processWatermark(-1)
        #expect(rows(h.takeOutput()) == [Row(key: 1, start: -10, end: 0, count: 2, sum: 3)])
        try h.endInput()
        #expect(rows(h.takeOutput()) == [Row(key: 1, start: 0, end: 10, count: 1, sum: 8)])
    }

    @Test func outOfOrderWithinTheDelayCounts() throws {
        let h = try Self.harness(.tumbling(size: .milliseconds(100)))
        // Watermark = max seen - 50, as a bounded-out-of-orderness strategy would set it.
        var maxTs = EventTime.min
        for (ts, v) in [(EventTime(90), 1.0), (120, 2), (75, 4), (99, 8), (160, 16), (110, 32)] {
            if maxTs != .min { try h.processWatermark(maxTs - 50) }
            try h.processElement(Ev(1, ts, v), timestamp: ts)
            maxTs = max(maxTs, ts)
        }
        try h.processWatermark(maxTs - 50)   // 110: [0,100) fired
        #expect(rows(h.takeOutput()) == [Row(key: 1, start: 0, end: 100, count: 3, sum: 13)])
        try h.endInput()
        #expect(rows(h.takeOutput()) == [Row(key: 1, start: 100, end: 200, count: 3, sum: 50)])
        #expect(h.metrics.lateRecords.current == 0)
        #expect(h.sideOutput.isEmpty)
    }

    @Test func lateRecordsGoToTheSideOutputAndAreCounted() throws {
        let h = try Self.harness(.tumbling(size: .milliseconds(100)))
        try h.processElement(Ev(1, 50), timestamp: 50)
        try h.processWatermark(99)
        #expect(rows(h.takeOutput()) == [Row(key: 1, start: 0, end: 100, count: 1, sum: 1)])
        try h.processElement(Ev(1, 60, 7), timestamp: 60)     // [0,100) fired and expired
        try h.processElement(Ev(2, 99, 9), timestamp: 99)
        #expect(h.metrics.lateRecords.current == 2)
        #expect(h.sideOutputValues == [Ev(1, 60, 7), Ev(2, 99, 9)])
        #expect(h.sideOutput.map(\.timestamp) == [60, 99])
        try h.endInput()
        #expect(h.output.isEmpty, "late records must not create or re-fire windows")
    }

    @Test func allowedLatenessRefiresUpdatedResult() throws {
        let h = try Self.harness(.tumbling(size: .milliseconds(100)), lateness: .milliseconds(50))
        try h.processElement(Ev(1, 10, 1), timestamp: 10)
        try h.processWatermark(99)
        #expect(rows(h.takeOutput()) == [Row(key: 1, start: 0, end: 100, count: 1, sum: 1)])
        try h.processWatermark(120)
        try h.processElement(Ev(1, 20, 2), timestamp: 20)     // fired, not expired (99 + 50 > 120)
        #expect(rows(h.takeOutput()) == [Row(key: 1, start: 0, end: 100, count: 2, sum: 3)])
        try h.processWatermark(148)
        try h.processElement(Ev(1, 30, 4), timestamp: 30)     // still inside lateness (149 > 148)
        #expect(rows(h.takeOutput()) == [Row(key: 1, start: 0, end: 100, count: 3, sum: 7)])
        try h.processWatermark(149)
        try h.processElement(Ev(1, 40, 8), timestamp: 40)     // expired now
        #expect(h.output.isEmpty)
        #expect(h.metrics.lateRecords.current == 1)
        #expect(h.sideOutputValues == [Ev(1, 40, 8)])
    }

    /// A key's pane that was first stored out of its usual place (another pane held the spot) must
    /// keep one accumulator when more records arrive for it after that other pane expired.
    @Test func paneRevisitedAfterAnOlderPaneExpiredKeepsItsContents() throws {
        let h = try Self.harness(.tumbling(size: .milliseconds(10)))
        try h.processElement(Ev(1, 0, 1), timestamp: 0)
        try h.processElement(Ev(1, 40, 2), timestamp: 40)     // far ahead, out of order (no watermark yet)
        try h.processWatermark(9)
        #expect(rows(h.takeOutput()) == [Row(key: 1, start: 0, end: 10, count: 1, sum: 1)])
        try h.processElement(Ev(1, 41, 4), timestamp: 41)
        try h.endInput()
            #expect(rows(h.takeOutput()) == [Row(key: 1, start: 40, end: 50, count: 2, sum: 6)])
    }

    /// A late record far behind the watermark (ts + size <= watermark) still re-fires a window
    /// that is inside its allowed lateness.
    @Test func allowedLatenessRefiresEvenFarBehindTheWatermark() throws {
        let h = try Self.harness(.tumbling(size: .milliseconds(10)), lateness: .milliseconds(100))
        try h.processElement(Ev(1, 5, 1), timestamp: 5)
        try h.processWatermark(50)
        #expect(rows(h.takeOutput()) == [Row(key: 1, start: 0, end: 10, count: 1, sum: 1)])
        try h.processElement(Ev(1, 6, 2), timestamp: 6)       // window [0,10): 9 + 100 > 50, not expired
        #expect(rows(h.takeOutput()) == [Row(key: 1, start: 0, end: 10, count: 2, sum: 3)])
        #expect(h.metrics.lateRecords.current == 0)
    }
}

@Suite struct SlidingWindowTests {
    typealias Harness = TumblingWindowTests.Harness

    @Test func eachRecordIsInSizeOverSlideWindows() throws {
        let h = try TumblingWindowTests.harness(.sliding(size: .milliseconds(30), slide: .milliseconds(10)))
        try h.processElement(Ev(1, 25), timestamp: 25)
        try h.endInput()
        #expect(rows(h.output) == [Row(key: 1, start: 0, end: 30, count: 1, sum: 1),
                                   Row(key: 1, start: 10, end: 40, count: 1, sum: 1),
                                   Row(key: 1, start: 20, end: 50, count: 1, sum: 1)])

        // The standard workload's hop: 5 windows per record.
        let hop = try TumblingWindowTests.harness(.sliding(size: .minutes(5), slide: .minutes(1)))
        try hop.processElement(Ev(3, 1_700_000_000_030), timestamp: 1_700_000_000_030)
        try hop.endInput()
        let floor: EventTime = 1_700_000_000_030 / 60_000 * 60_000
        #expect(rows(hop.output).map(\.start) == (0..<5).reversed().map { floor - EventTime($0) * 60_000 })
        #expect(rows(hop.output).allSatisfy { $0.end == $0.start + 300_000 && $0.count == 1 })
    }

    @Test func paneSharingWithOutOfOrderRecords() throws {
        // size 30, slide 10: panes of 10 are shared by three windows each.
        let h = try TumblingWindowTests.harness(.sliding(size: .milliseconds(30), slide: .milliseconds(10)))
        let events: [(EventTime, Double)] = [(25, 1), (5, 2), (15, 4), (27, 8), (12, 16), (31, 32), (8, 64)]
        for (ts, v) in events { try h.processElement(Ev(1, ts, v), timestamp: ts) }   // watermark none: nothing late
        try h.processWatermark(29)
        var got = rows(h.takeOutput())
        #expect(got == [Row(key: 1, start: -20, end: 10, count: 2, sum: 66),
                        Row(key: 1, start: -10, end: 20, count: 4, sum: 86),
                        Row(key: 1, start: 0, end: 30, count: 6, sum: 95)])
        try h.endInput()
        got = rows(h.takeOutput())
        #expect(got == [Row(key: 1, start: 10, end: 40, count: 5, sum: 61),
                        Row(key: 1, start: 20, end: 50, count: 3, sum: 41),
                        Row(key: 1, start: 30, end: 60, count: 1, sum: 32)])
    }

    /// Lateness is judged per window: a record behind the watermark still counts in those of its
    /// windows that have not fired.
    @Test func perWindowLateness() throws {
        let h = try TumblingWindowTests.harness(.sliding(size: .milliseconds(30), slide: .milliseconds(10)))
        try h.processElement(Ev(1, 25, 1), timestamp: 25)
        try h.processWatermark(20)                            // [-10,20) has fired (empty)
        try h.processElement(Ev(1, 12, 2), timestamp: 12)     // behind the watermark: windows [-10,20) fired, [0,30) and [10,40) open
        #expect(h.metrics.lateRecords.current == 0)
        #expect(h.sideOutput.isEmpty)
        try h.endInput()
        #expect(rows(h.output) == [Row(key: 1, start: 0, end: 30, count: 2, sum: 3),
                                   Row(key: 1, start: 10, end: 40, count: 2, sum: 3),
                                   Row(key: 1, start: 20, end: 50, count: 1, sum: 1)])
        // Once every window of the record has fired, it is late.
        let h2 = try TumblingWindowTests.harness(.sliding(size: .milliseconds(30), slide: .milliseconds(10)))
        try h2.processElement(Ev(1, 45, 1), timestamp: 45)
        try h2.processWatermark(39)
        try h2.processElement(Ev(1, 12, 2), timestamp: 12)    // [10,40) fired at 39: all windows of 12 closed
        #expect(h2.metrics.lateRecords.current == 1)
        #expect(h2.sideOutputValues == [Ev(1, 12, 2)])
    }

    /// Random streams (out of order within and beyond the delay, several keys) against a plain
    /// reference model of Flink's semantics, compared after every step.
    @Test(arguments: [
        (WindowAssigner.tumbling(sizeMillis: 13, offsetMillis: 4), Int64(0)),
        (WindowAssigner.tumbling(sizeMillis: 10, offsetMillis: 0), Int64(25)),
        (WindowAssigner.sliding(sizeMillis: 30, slideMillis: 10, offsetMillis: 0), Int64(0)),
        (WindowAssigner.sliding(sizeMillis: 30, slideMillis: 10, offsetMillis: 0), Int64(15)),
        (WindowAssigner.sliding(sizeMillis: 7, slideMillis: 3, offsetMillis: 1), Int64(0)),
        (WindowAssigner.sliding(sizeMillis: 20, slideMillis: 15, offsetMillis: 0), Int64(4)),
    ])
    func matchesReferenceModel(assigner: WindowAssigner, lateness: Int64) throws {
        let h = try TumblingWindowTests.harness(assigner, lateness: .milliseconds(lateness))
        var model = ReferenceWindows(assigner: assigner, lateness: lateness)
        var rng = WorkloadGenerator.SplitMix64(seed: 7)
        var maxTs: EventTime = .min
        let delay: EventTime = 8
        for i in 0..<600 {
            let base = EventTime(i / 3) - 60                       // negative times too
            let jitter = EventTime(rng.next() % 61) - 45           // up to 45 behind: some beyond the delay
            let ts = base + jitter
            let e = Ev(Int(rng.next() % 3), ts, Double(rng.next() % 1000))
            if maxTs != .min {
                try h.processWatermark(maxTs - delay)
                model.advance(to: maxTs - delay)
            }
            try h.processElement(e, timestamp: ts)
            model.add(e)
            maxTs = max(maxTs, ts)
            let got = rows(h.takeOutput()), want = model.take()
                #expect(got == want, "step \(i), ts \(ts)")
        }
        try h.endInput()
        model.advance(to: .max)
        #expect(rows(h.takeOutput()) == model.take())
        #expect(h.metrics.lateRecords.current == model.late)
        #expect(UInt64(h.sideOutput.count) == model.late)
        #expect(model.late > 0, "the stream should exercise late data")
    }
}

/// Flink's window semantics written as plainly as possible.
struct ReferenceWindows {
    let size: Int64, slide: Int64, offset: Int64, lateness: Int64
    var watermark: EventTime = .min
    var contents: [Int: [EventTime: (Int64, Double)]] = [:]
    var emitted: [Row] = []
    var late: UInt64 = 0

    init(assigner: WindowAssigner, lateness: Int64) {
        switch assigner {
        case let .tumbling(s, o): size = s; slide = s; offset = o
        case let .sliding(s, sl, o): size = s; slide = sl; offset = o
        default: fatalError()
        }
        self.lateness = lateness
    }
    func starts(_ ts: EventTime) -> [EventTime] {
        var r = (ts - offset) % slide; if r < 0 { r += slide }
        var s = ts - r, out: [EventTime] = []
        while s + size > ts { out.append(s); s -= slide }
        return out
    }
    mutating func add(_ e: Ev) {
        let open = starts(e.ts).filter { $0 + size - 1 + lateness > watermark }
        if open.isEmpty { late += 1; return }
        for s in open {
            var c = contents[e.key, default: [:]][s] ?? (0, 0)
            c.0 += 1; c.1 += e.value
            contents[e.key, default: [:]][s] = c
            if s + size - 1 <= watermark { emitted.append(Row(key: e.key, start: s, end: s + size, count: c.0, sum: c.1)) }
        }
    }
    mutating func advance(to wm: EventTime) {
        guard wm > watermark else { return }
        for (k, windows) in contents {
            for (s, c) in windows where s + size - 1 > watermark && s + size - 1 <= wm {
                emitted.append(Row(key: k, start: s, end: s + size, count: c.0, sum: c.1))
            }
        }
        watermark = wm
    }
    mutating func take() -> [Row] { defer { emitted = [] }; return emitted.sorted() }
}

@Suite struct SessionWindowTests {
    typealias Harness = OperatorTestHarness<SessionWindowOperator<Int, Ev, CountSum>>
    static func harness(gap: Int64, lateness: Int64 = 0) throws -> Harness {
        try OperatorTestHarness(SessionWindowOperator(gap: .milliseconds(gap), allowedLateness: .milliseconds(lateness),
                                                      aggregate: countSum(), key: { $0.key }))
    }

    @Test func gapClosesASessionThatFiresAtEndMinusOne() throws {
        let h = try Self.harness(gap: 10)
        try h.processElement(Ev(1, 0, 1), timestamp: 0)
        try h.processElement(Ev(1, 5, 2), timestamp: 5)     // [0,15)
        try h.processElement(Ev(1, 16, 4), timestamp: 16)   // [16,26): a gap of 11 > 10
        try h.processElement(Ev(2, 3, 8), timestamp: 3)     // another key: [3,13)
        try h.processWatermark(12)
        #expect(rows(h.takeOutput()) == [Row(key: 2, start: 3, end: 13, count: 1, sum: 8)])
        try h.processWatermark(13)
        #expect(h.output.isEmpty)
        try h.processWatermark(14)
        #expect(rows(h.takeOutput()) == [Row(key: 1, start: 0, end: 15, count: 2, sum: 3)])
        try h.processWatermark(24)
        #expect(h.output.isEmpty)
        try h.processWatermark(25)
        #expect(rows(h.takeOutput()) == [Row(key: 1, start: 16, end: 26, count: 1, sum: 4)])
    }

    @Test func sessionsThatTouchMerge() throws {
        let h = try Self.harness(gap: 10)
        try h.processElement(Ev(1, 0, 1), timestamp: 0)     // [0,10)
        try h.processElement(Ev(1, 10, 2), timestamp: 10)   // [10,20) touches [0,10)
        try h.endInput()
        #expect(rows(h.output) == [Row(key: 1, start: 0, end: 20, count: 2, sum: 3)])
    }

    @Test func oneRecordBridgesTwoSessions() throws {
        let h = try Self.harness(gap: 10)
        try h.processElement(Ev(1, 0, 1), timestamp: 0)     // [0,10)
        try h.processElement(Ev(1, 20, 2), timestamp: 20)   // [20,30)
        try h.processElement(Ev(1, 30, 4), timestamp: 30)   // extends to [20,40)
        try h.processElement(Ev(1, 10, 8), timestamp: 10)   // [10,20) touches both: one session [0,40)
        try h.processWatermark(38)
        #expect(h.output.isEmpty, "the bridged session must fire once, at 39")
        try h.processWatermark(39)
        #expect(rows(h.takeOutput()) == [Row(key: 1, start: 0, end: 40, count: 4, sum: 15)])
        try h.endInput()
        #expect(h.output.isEmpty)
    }

    @Test func recordBehindWatermarkJoinsAnOpenSession() throws {
        let h = try Self.harness(gap: 10)
        try h.processElement(Ev(1, 100, 1), timestamp: 100)
        try h.processWatermark(104)
        try h.processElement(Ev(1, 95, 2), timestamp: 95)   // [95,105) merges with [100,110): open
        #expect(h.metrics.lateRecords.current == 0)
        try h.processWatermark(109)
        #expect(rows(h.takeOutput()) == [Row(key: 1, start: 95, end: 110, count: 2, sum: 3)])
    }

    @Test func lateRecordsAreDroppedAndCounted() throws {
        let h = try Self.harness(gap: 10)
        try h.processElement(Ev(1, 0, 1), timestamp: 0)
        try h.processWatermark(20)
        #expect(rows(h.takeOutput()) == [Row(key: 1, start: 0, end: 10, count: 1, sum: 1)])
        try h.processElement(Ev(1, 5, 2), timestamp: 5)     // [5,15): 14 <= 20
        #expect(h.metrics.lateRecords.current == 1)
        #expect(h.sideOutputValues == [Ev(1, 5, 2)])
        try h.endInput()
        #expect(h.output.isEmpty)
    }

    @Test func allowedLatenessRefiresSession() throws {
        let h = try Self.harness(gap: 10, lateness: 20)
        try h.processElement(Ev(1, 0, 1), timestamp: 0)
        try h.processWatermark(9)
        #expect(rows(h.takeOutput()) == [Row(key: 1, start: 0, end: 10, count: 1, sum: 1)])
        try h.processWatermark(15)
        try h.processElement(Ev(1, 3, 2), timestamp: 3)     // [3,13) merges: [0,13), 12 <= 15 fired, 12 + 20 > 15
        #expect(rows(h.takeOutput()) == [Row(key: 1, start: 0, end: 13, count: 2, sum: 3)])
        try h.processWatermark(32)                          // 12 + 20 = 32: expired
        try h.processElement(Ev(1, 2, 4), timestamp: 2)
        #expect(h.metrics.lateRecords.current == 1)
        try h.endInput()
        #expect(h.output.isEmpty, "nothing left to fire")
    }

    /// Two records with the same timestamp register the same firing time twice; the session must
    /// still fire once (with and without allowed lateness).
    @Test(arguments: [Int64(0), 50])
    func duplicateTimestampsFireOnce(lateness: Int64) throws {
        let h = try Self.harness(gap: 10, lateness: lateness)
        try h.processElement(Ev(1, 0, 1), timestamp: 0)
        try h.processElement(Ev(1, 0, 2), timestamp: 0)
        try h.processWatermark(9)
        #expect(rows(h.takeOutput()) == [Row(key: 1, start: 0, end: 10, count: 2, sum: 3)])
        try h.endInput()
        #expect(h.output.isEmpty)
    }

    @Test func snapshotAndRestore() throws {
        let h = try Self.harness(gap: 10)
        try h.processElement(Ev(1, 0, 1), timestamp: 0)
        try h.processElement(Ev(2, 4, 2), timestamp: 4)
        try h.processWatermark(5)
        let bytes = try h.snapshot()
        let r = try Harness.restore(from: [bytes]) {
            SessionWindowOperator(gap: .milliseconds(10), aggregate: countSum(), key: { $0.key })
        }
        try r.processElement(Ev(1, 9, 4), timestamp: 9)      // extends [0,10) to [0,19)
        try r.processWatermark(13)
        #expect(rows(r.takeOutput()) == [Row(key: 2, start: 4, end: 14, count: 1, sum: 2)])
        try r.endInput()
        #expect(rows(r.takeOutput()) == [Row(key: 1, start: 0, end: 19, count: 2, sum: 5)])
    }
}

@Suite struct CountWindowTests {
    @Test func firesEveryNRecordsPerKey() throws {
        let h = try OperatorTestHarness(CountWindowOperator(count: 3, aggregate: countSum(), key: { (e: Ev) in e.key }))
        for i in 0..<7 { try h.processElement(Ev(1, EventTime(i), Double(1 << i)), timestamp: EventTime(i)) }
        for i in 0..<2 { try h.processElement(Ev(2, EventTime(i), 1), timestamp: EventTime(i)) }
        let out = h.outputValues.map(\.row)
        #expect(out == [Row(key: 1, start: .min, end: .max, count: 3, sum: 7),
                        Row(key: 1, start: .min, end: .max, count: 3, sum: 56)])
        // A restore keeps partial windows.
        let r = try OperatorTestHarness.restore(from: [try h.snapshot()]) {
            CountWindowOperator(count: 3, aggregate: countSum(), key: { (e: Ev) in e.key })
        }
        try r.processElement(Ev(2, 9, 4), timestamp: 9)
        try r.processElement(Ev(1, 9, 128), timestamp: 9)
        try r.endInput()
        #expect(r.outputValues.map(\.row) == [Row(key: 2, start: .min, end: .max, count: 3, sum: 6)],
                "key 1 holds 2 records: a partial count window is not emitted at end of input")
    }
}

@Suite struct SlicingWindowCheckpointTests {
    @Test func restoreIntoTwoSubtasksSplitsPanesByKeyGroup() throws {
        let make = { SlicingWindowOperator(assigner: .sliding(size: .milliseconds(30), slide: .milliseconds(10)),
                                           aggregate: countSum(), key: { (e: Ev) in e.key }) }
        let h = try OperatorTestHarness(make())
        for k in 0..<40 { try h.processElement(Ev(k, EventTime(k % 25), 1), timestamp: EventTime(k % 25)) }
        try h.processWatermark(9)
        let before = rows(h.takeOutput())
        let bytes = try h.snapshot()
        var after: [Row] = []
        for s in 0..<2 {
            let r = try OperatorTestHarness.restore(from: [bytes], subtask: s, parallelism: 2, make)
            try r.endInput()
            let got = rows(r.output)
            #expect(got.allSatisfy { r.owns($0.key) })
            after += got
        }
        let reference = try OperatorTestHarness(make())
        for k in 0..<40 { try reference.processElement(Ev(k, EventTime(k % 25), 1), timestamp: EventTime(k % 25)) }
        try reference.endInput()
        #expect((before + after).sorted() == rows(reference.output))
    }
}
