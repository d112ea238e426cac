import Testing
import FeatureJobs
import StreamKitTesting
import StreamKit

private struct Click: Sendable, Hashable {
    var user: Int64
    var item: Int64
    var ts: Int64
    var seq: Int
}

private typealias SF = SessionFeatureFunction<Int64, Click, Int64>
private typealias SFHarness = OperatorTestHarness<KeyedProcessOperator<SF>>
private let gap: Int64 = 1_000

private func makeOp(cap: Int = 1024) -> KeyedProcessOperator<SF> {
    KeyedProcessOperator(SF(gap: .milliseconds(gap), maxDistinctItems: cap, item: { $0.item }), key: { $0.user })
}

/// Random clicks: bursts with pauses longer and shorter than the gap, out of order by up to `disorder`.
private func randomClicks(seed: UInt64, count: Int, users: Int64, disorder: Int64) -> [Click] {
    var rng = JoinTestRandom(seed: seed)
    var base: Int64 = 10_000
    return (0..<count).map { i in
        base += Int.random(in: 0..<10, using: &rng) == 0 ? Int64.random(in: 500...3_000, using: &rng) : Int64.random(in: 0...120, using: &rng)
        return Click(user: Int64.random(in: 0..<users, using: &rng), item: Int64.random(in: 0..<15, using: &rng),
                     ts: base - Int64.random(in: 0...disorder, using: &rng), seq: i)
    }
}

/// The brute-force reference: sessions recomputed from all of a key's events so far.
private func sessions(_ events: [Click]) -> [[Click]] {
    var result: [[Click]] = []
    for e in events.sorted(by: { ($0.ts, $0.seq) < ($1.ts, $1.seq) }) {
        if let last = result.last?.last, e.ts - last.ts < gap { result[result.count - 1].append(e) } else { result.append([e]) }
    }
    return result
}

private func describe(_ f: SessionFeatures<Int64>) -> String {
    "\(f.key) \(f.kind) [\(f.sessionStart),\(f.lastEventTime)] len=\(f.lengthMs) n=\(f.eventCount) d=\(f.distinctItems)\(f.distinctItemsExact ? "" : "+") since=\(f.sinceLastEventMs.map(String.init) ?? "-")"
}

private func reference(_ clicks: [Click]) -> (updates: [String], closed: [String]) {
    var seen: [Int64: [Click]] = [:]
    var updates: [String] = []
    for c in clicks {
        seen[c.user, default: []].append(c)
        let s = sessions(seen[c.user]!).first { $0.contains(c) }!
        let others = s.filter { $0 != c }
        updates.append(describe(SessionFeatures(key: c.user, kind: .update, sessionStart: s.first!.ts, lastEventTime: s.last!.ts,
                                                eventCount: Int64(s.count), distinctItems: Int64(Set(s.map(\.item)).count),
                                                distinctItemsExact: true, sinceLastEventMs: others.map(\.ts).max().map { c.ts - $0 })))
    }
    var closed: [String] = []
    for (user, events) in seen {
        for s in sessions(events) {
            closed.append(describe(SessionFeatures(key: user, kind: .closed, sessionStart: s.first!.ts, lastEventTime: s.last!.ts,
                                                   eventCount: Int64(s.count), distinctItems: Int64(Set(s.map(\.item)).count),
                                                   distinctItemsExact: true, sinceLastEventMs: nil)))
        }
    }
    return (updates, closed.sorted())
}

private func feed(_ clicks: [Click], delay: Int64, into h: SFHarness, from start: Int = 0, to end: Int? = nil) throws {
    var maxTs = Int64.min
    for (i, c) in clicks.enumerated() {
        maxTs = Swift.max(maxTs, c.ts)
        if i < start || i >= (end ?? clicks.count) { continue }
        if h.owns(c.user) { try h.processElement(c, timestamp: c.ts) }
        try h.processWatermark(maxTs - delay)
    }
}

private func split(_ out: [EmittedRecord<SessionFeatures<Int64>>]) -> (updates: [String], closed: [String]) {
    (out.filter { $0.value.kind == .update }.map { describe($0.value) },
     out.filter { $0.value.kind == .closed }.map { describe($0.value) }.sorted())
}

@Suite struct SessionFeaturesTests {
    @Test func growsClosesAndStartsANewSession() throws {
        let h = try SFHarness(makeOp())
        for (i, (ts, item)) in [(1_000, 1), (1_500, 2), (2_400, 1)].enumerated() {
            try h.processElement(Click(user: 7, item: Int64(item), ts: Int64(ts), seq: i), timestamp: Int64(ts))
        }
        try h.processWatermark(3_399)
        try h.processElement(Click(user: 7, item: 3, ts: 3_399, seq: 3), timestamp: 3_399)   // 999 ms after: same session
        try h.processWatermark(4_399)
        try h.processElement(Click(user: 7, item: 3, ts: 4_399, seq: 4), timestamp: 4_399)   // exactly one gap after: new
        try h.endInput()
        #expect(h.outputValues.map(describe) == [
            "7 update [1000,1000] len=0 n=1 d=1 since=-",
            "7 update [1000,1500] len=500 n=2 d=2 since=500",
            "7 update [1000,2400] len=1400 n=3 d=2 since=900",
            "7 update [1000,3399] len=2399 n=4 d=3 since=999",
            "7 closed [1000,3399] len=2399 n=4 d=3 since=-",
            "7 update [4399,4399] len=0 n=1 d=1 since=-",
            "7 closed [4399,4399] len=0 n=1 d=1 since=-",
        ])
        #expect(h.output.map(\.timestamp) == [1_000, 1_500, 2_400, 3_399, 4_399, 4_399, 5_399])
    }

    @Test func outOfOrderEventsExtendOrMergeSessionsInsteadOfStartingNewOnes() throws {
        let h = try SFHarness(makeOp())
        func click(_ ts: Int64, _ item: Int64, _ seq: Int) throws { try h.processElement(Click(user: 1, item: item, ts: ts, seq: seq), timestamp: ts) }
        try click(5_000, 1, 0)
        try click(7_000, 2, 1)          // two open sessions
        try h.processWatermark(5_500)
        try click(5_200, 3, 2)          // behind the watermark but inside the first session: extends it
        try click(6_100, 4, 3)          // bridges both sessions
        try click(4_000, 5, 4)          // behind the watermark, fits no open session: late, dropped
        try h.endInput()
        #expect(h.outputValues.map(describe) == [
            "1 update [5000,5000] len=0 n=1 d=1 since=-",
            "1 update [7000,7000] len=0 n=1 d=1 since=-",
            "1 update [5000,5200] len=200 n=2 d=2 since=200",
            "1 update [5000,7000] len=2000 n=4 d=4 since=-900",
            "1 closed [5000,7000] len=2000 n=4 d=4 since=-",
        ])
    }

    @Test func distinctItemsAreExactUpToTheCap() throws {
        let h = try SFHarness(makeOp(cap: 3))
        for (i, item) in [1, 2, 1, 3, 4, 2, 5].enumerated() {
            try h.processElement(Click(user: 1, item: Int64(item), ts: Int64(i), seq: i), timestamp: Int64(i))
        }
        #expect(h.outputValues.map(\.distinctItems) == [1, 2, 2, 3, 3, 3, 3])
        #expect(h.outputValues.map(\.distinctItemsExact) == [true, true, true, true, false, false, false])
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func matchesTheBruteForceReferenceOnRandomStreams(seed: UInt64) throws {
        let clicks = randomClicks(seed: seed, count: 3_000, users: 6, disorder: 300)
        let h = try SFHarness(makeOp())
        try feed(clicks, delay: 300, into: h)
        // Sessions behind the watermark are closed: state holds only open ones.
        let state = h.operator.stateStore.valueState("session-features.sessions", of: [OpenSession<Int64>].self)
        for u in Int64(0)..<6 {
            h.operator.stateStore.keyContext.currentKey = u
            #expect((state.value ?? []).allSatisfy { $0.last + gap > h.currentWatermark })
        }
        try h.endInput()
        #expect(state.keyCount == 0, "every session closed at the end")
        let got = split(h.output), want = reference(clicks)
        #expect(got.updates == want.updates)
        #expect(got.closed == want.closed)
    }

    @Test func snapshotRestoreContinuesIdentically() throws {
        let clicks = randomClicks(seed: 5, count: 1_200, users: 9, disorder: 200)
        let want = reference(clicks)
        let first = try SFHarness(makeOp())
        try feed(clicks, delay: 200, into: first, to: 700)
        let bytes = try first.snapshot()
        for parallelism in [1, 2] {
            var out = first.output
            for s in 0..<parallelism {
                let h = try SFHarness.restore(from: [bytes], subtask: s, parallelism: parallelism) { makeOp() }
                try feed(clicks, delay: 200, into: h, from: 700)
                try h.endInput()
                out += h.output
            }
            let got = split(out)
            #expect(got.updates.sorted() == want.updates.sorted(), "parallelism \(parallelism)")
            #expect(got.closed == want.closed, "parallelism \(parallelism)")
        }
    }

    @Test(arguments: [1, 2])
    func sessionFeaturesThroughAJob(parallelism: Int) async throws {
        let clicks = randomClicks(seed: 42, count: 5_000, users: 30, disorder: 250)
        let out = CollectedOutput<SessionFeatures<Int64>>()
        try await Job("sessions") { env in
            env.fromCollection(clicks)
                .assignTimestamps({ $0.ts }, watermark: .boundedOutOfOrderness(.milliseconds(300)))
                .keyBy { $0.user }
                .process(SF(gap: .milliseconds(gap), item: { $0.item }))
                .collect(into: out)
        }.run(parallelism: parallelism)
        let want = reference(clicks)
        #expect(out.values.filter { $0.kind == .update }.map(describe).sorted() == want.updates.sorted())
        #expect(out.values.filter { $0.kind == .closed }.map(describe).sorted() == want.closed)
    }
}
