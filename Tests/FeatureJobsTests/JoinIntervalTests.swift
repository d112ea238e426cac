import Testing
import FeatureJobs
import StreamKitTesting
import StreamKit

private struct Rec: Sendable, Hashable, StateCodable {
    var key: Int64
    var id: Int64
    var ts: Int64
    init(_ key: Int64, _ id: Int64, _ ts: Int64) { self.key = key; self.id = id; self.ts = ts }
    func encode(to w: inout ByteWriter) { w.writeVarInt(key); w.writeVarInt(id); w.writeVarInt(ts) }
    init(from r: inout ByteReader) throws { key = try r.readVarInt(); id = try r.readVarInt(); ts = try r.readVarInt() }
}

private typealias IJ = IntervalJoinFunction<Int64, Rec, Rec>
private typealias IJHarness = OperatorTestHarness<KeyedProcessOperator<IJ>>

private func makeOp(_ lower: Int64, _ upper: Int64) -> KeyedProcessOperator<IJ> {
    KeyedProcessOperator(IJ(between: .milliseconds(lower), and: .milliseconds(upper)), key: { e in
        switch e { case let .left(r): return r.key; case let .right(r): return r.key }
    })
}

/// Random left and right streams, out of order by at most `disorder` ms.
private func randomStreams(seed: UInt64, count: Int, keys: Int64, disorder: Int64) -> (left: [Rec], right: [Rec]) {
    var rng = JoinTestRandom(seed: seed)
    func stream(_ base: Int64) -> [Rec] {
        (0..<count).map { i in
            Rec(Int64.random(in: 0..<keys, using: &rng), base + Int64(i),
                Int64(i) * 5 + 1_000 - Int64.random(in: 0...disorder, using: &rng))
        }
    }
    return (stream(0), stream(1_000_000))
}

/// The brute-force nested loop: every pair of the same key within the bounds.
private func bruteForce(_ left: [Rec], _ right: [Rec], _ lower: Int64, _ upper: Int64) -> [String] {
    var out: [String] = []
    for a in left { for b in right where a.key == b.key && b.ts >= a.ts + lower && b.ts <= a.ts + upper { out.append("\(a.id)-\(b.id)") } }
    return out.sorted()
}

/// Interleaves both streams by position and feeds them with a bounded-out-of-orderness watermark.
private func feed(_ left: [Rec], _ right: [Rec], delay: Int64, into h: IJHarness, from start: Int = 0, to end: Int? = nil) throws {
    let inputs: [Either<Rec, Rec>] = zip(left, right).flatMap { [Either<Rec, Rec>.left($0), .right($1)] }
    var maxTs = Int64.min
    for (i, e) in inputs.enumerated() {
        let r = e.left ?? e.right!
        maxTs = Swift.max(maxTs, r.ts)
        if i < start || i >= (end ?? inputs.count) { continue }
        if h.owns(r.key) { try h.processElement(e, timestamp: r.ts) }
        try h.processWatermark(maxTs - delay)
    }
}

private func pairs(_ out: [EmittedRecord<JoinedPair<Rec, Rec>>]) -> [String] {
    out.map { "\($0.value.left.id)-\($0.value.right.id)" }.sorted()
}

@Suite struct JoinIntervalTests {
    @Test(arguments: [(Int64(-50), Int64(50)), (0, 100), (-200, -20), (30, 30), (-10, 400)])
    func matchesTheNestedLoopWithOutOfOrderInput(lower: Int64, upper: Int64) throws {
        let (l, r) = randomStreams(seed: UInt64(upper - lower + 1_000), count: 1_500, keys: 8, disorder: 90)
        let h = try IJHarness(makeOp(lower, upper))
        try feed(l, r, delay: 100, into: h)
        try h.endInput()
        let got = pairs(h.output)
        #expect(got == bruteForce(l, r, lower, upper))
        #expect(!got.isEmpty)
        #expect(h.output.allSatisfy { $0.timestamp == Swift.max($0.value.leftTimestamp, $0.value.rightTimestamp) })
    }

    @Test func buffersAreCleanedWhenTheWatermarkPassesTheBounds() throws {
        let (l, r) = randomStreams(seed: 3, count: 2_000, keys: 5, disorder: 50)
        let h = try IJHarness(makeOp(-100, 200))
        try feed(l, r, delay: 60, into: h)
        // Only records within the join interval of the watermark are still buffered.
        let store = h.operator.stateStore
        let left = store.mapState("interval-join.left", of: (EventTime, [Rec]).self)
        let right = store.mapState("interval-join.right", of: (EventTime, [Rec]).self)
        let wm = h.currentWatermark
        var buffered = 0
        for k in Int64(0)..<5 {
            store.keyContext.currentKey = k
            for (ts, rs) in left.entriesOfCurrentKey { #expect(ts + 200 >= wm); buffered += rs.count }
            for (ts, rs) in right.entriesOfCurrentKey { #expect(ts + 100 >= wm); buffered += rs.count }
        }
        #expect(buffered > 0 && buffered < 200, "bounded by the interval, not the 4000 records seen")
        try h.processWatermark(1_000_000)
        for k in Int64(0)..<5 {
            store.keyContext.currentKey = k
            #expect(left.entriesOfCurrentKey.isEmpty && right.entriesOfCurrentKey.isEmpty)
        }
        let empty = try IJHarness(makeOp(-100, 200))
        try empty.processWatermark(1_000_000)
        #expect(try h.snapshot() == empty.snapshot(), "nothing but the watermark is left in a checkpoint")
    }

    @Test func lateRecordsAreDropped() throws {
        let h = try IJHarness(makeOp(0, 100))
        try h.processElement(.left(Rec(1, 1, 1_000)), timestamp: 1_000)
        try h.processWatermark(1_050)
        try h.processElement(.right(Rec(1, 2, 1_040)), timestamp: 1_040)   // behind the watermark
        try h.processElement(.right(Rec(1, 3, 1_050)), timestamp: 1_050)   // at the watermark: on time
        try h.processWatermark(1_101)
        try h.processElement(.right(Rec(1, 4, 1_101)), timestamp: 1_101)   // left record already cleaned up: out of bounds anyway
        #expect(pairs(h.output) == ["1-3"])
    }

    @Test func snapshotRestoreContinuesIdentically() throws {
        let (l, r) = randomStreams(seed: 11, count: 800, keys: 6, disorder: 40)
        let expected = bruteForce(l, r, -30, 70)
        let first = try IJHarness(makeOp(-30, 70))
        try feed(l, r, delay: 50, into: first, to: 700)
        let bytes = try first.snapshot()
        let before = pairs(first.output)
        for parallelism in [1, 2] {
            var got = before
            for s in 0..<parallelism {
                let h = try IJHarness.restore(from: [bytes], subtask: s, parallelism: parallelism) { makeOp(-30, 70) }
                try feed(l, r, delay: 50, into: h, from: 700)
                try h.endInput()
                got += pairs(h.output)
            }
            #expect(got.sorted() == expected, "parallelism \(parallelism)")
        }
    }

    @Test(arguments: [1, 2])
    func connectAndIntervalJoinThroughAJob(parallelism: Int) async throws {
        let (l, r) = randomStreams(seed: 99, count: 3_000, keys: 20, disorder: 150)
        let out = CollectedOutput<JoinedPair<Rec, Rec>>()
        try await Job("interval-join") { env in
            let left = env.fromCollection(l, name: "left").assignTimestamps({ $0.ts }, watermark: .boundedOutOfOrderness(.milliseconds(200)))
            let right = env.fromCollection(r, name: "right").assignTimestamps({ $0.ts }, watermark: .boundedOutOfOrderness(.milliseconds(200)))
            left.connect(right, leftKey: { $0.key }, rightKey: { $0.key })
                .intervalJoin(between: .milliseconds(-20), and: .milliseconds(60))
                .collect(into: out)
        }.run(parallelism: parallelism)
        #expect(out.values.map { "\($0.left.id)-\($0.right.id)" }.sorted() == bruteForce(l, r, -20, 60))
    }
}
