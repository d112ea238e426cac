import Testing
import StreamKit

/// Operators through the job DSL, end to end on the runtime (threads, exchanges, end of input).
@Suite struct DSLOperatorTests {
    struct Click: Sendable, Hashable, StateCodable {
        var user: Int64; var item: Int64; var ts: Int64
        func encode(to w: inout ByteWriter) { w.writeVarInt(user); w.writeVarInt(item); w.writeVarInt(ts) }
        init(user: Int64, item: Int64, ts: Int64) { self.user = user; self.item = item; self.ts = ts }
        init(from r: inout ByteReader) throws { user = try r.readVarInt(); item = try r.readVarInt(); ts = try r.readVarInt() }
    }

    static func clicks() -> [Click] {
        // Three users; user 1 has two sessions (gap 10 s), user 2 one session bridged by a late-ish record.
        [Click(user: 1, item: 10, ts: 1_000), Click(user: 2, item: 20, ts: 2_000), Click(user: 1, item: 11, ts: 4_000),
         Click(user: 3, item: 30, ts: 5_000), Click(user: 2, item: 21, ts: 20_000), Click(user: 2, item: 22, ts: 11_000),
         Click(user: 1, item: 12, ts: 30_000), Click(user: 1, item: 12, ts: 31_000)]
    }

    @Test(arguments: [1, 2])
    func fullWindowProcessSeesEveryElementOfItsWindow(parallelism: Int) async throws {
        let out = CollectedOutput<String>()
        let clicks = Self.clicks()
        try await Job("process") { env in
            env.fromCollection(clicks)
                .assignTimestamps({ $0.ts }, watermark: .boundedOutOfOrderness(.seconds(10)))
                .keyBy { $0.user }
                .window(.tumbling(size: .seconds(10)))
                .process { key, window, elements in
                    "\(key)@\(window.start)-\(window.end):" + elements.map { String($0.item) }.sorted().joined(separator: ",")
                }
                .collect(into: out)
        }.run(parallelism: parallelism)
        #expect(out.values.sorted() == ["1@0-10000:10,11", "1@30000-40000:12,12", "2@0-10000:20", "2@10000-20000:22",
                                        "2@20000-30000:21", "3@0-10000:30"])
    }

    @Test(arguments: [1, 2])
    func sessionWindowsMergeThroughTheDSL(parallelism: Int) async throws {
        let out = CollectedOutput<WindowResult<Int64, (count: Int64, maxItem: Double)>>()
        let clicks = Self.clicks()
        try await Job("sessions") { env in
            env.fromCollection(clicks)
                .assignTimestamps({ $0.ts }, watermark: .boundedOutOfOrderness(.seconds(10)))
                .keyBy { $0.user }
                .window(.session(gap: .seconds(10)))
                .aggregate(.count(), .max { Double($0.item) }) { (count: $0, maxItem: $1) }
                .collect(into: out)
        }.run(parallelism: parallelism)
        let got = out.values.map { "\($0.key):\($0.windowStart)-\($0.windowEnd):\($0.count):\(Int($0.maxItem))" }.sorted()
        // user 2: 2000, 20000 and then 11000 bridges [2000,12000) and [20000,30000) into one session.
        #expect(got == ["1:1000-14000:2:11", "1:30000-41000:2:12", "2:2000-30000:3:22", "3:5000-15000:1:30"])
    }

    struct RunningCount: KeyedProcessFunction {
        var state: ValueState<Int64, Int64>!
        mutating func open(state store: KeyedStateStore<Int64>) throws { state = store.valueState("count", of: Int64.self) }
        func processElement(_ value: Click, context: KeyedProcessContext<Int64, String>) throws {
            let n = (state.value ?? 0) + 1
            state.update(n)
            context.registerEventTimeTimer(100_000)   // one timer per key (deduplicated)
        }
        func onTimer(_ time: Int64, domain: TimeDomain, context: KeyedProcessContext<Int64, String>) throws {
            context.emit("\(context.key)=\(state.value ?? 0)")
        }
    }

    @Test(arguments: [1, 2, 4])
    func keyedProcessFunctionWithStateAndTimersInParallel(parallelism: Int) async throws {
        let out = CollectedOutput<String>()
        let clicks = (0..<5_000).map { Click(user: Int64($0 % 97), item: Int64($0), ts: Int64($0)) }
        try await Job("keyed") { env in
            env.fromCollection(clicks)
                .assignTimestamps({ $0.ts }, watermark: .monotonous)
                .keyBy { $0.user }
                .process(RunningCount())
                .collect(into: out)
        }.run(parallelism: parallelism)
        let expected = (0..<97).map { u in "\(u)=\((0..<5_000).filter { $0 % 97 == u }.count)" }.sorted()
        #expect(out.values.sorted() == expected, "each key fires once with its full count, whichever subtask owns it")
    }

    @Test func unionAndTryMapDeadLetters() async throws {
        let out = CollectedOutput<Int>()
        let dead = CollectedOutput<DeadLetter<String>>()
        try await Job("union") { env in
            let a = env.fromCollection(["1", "2", "x"], name: "a")
            let b = env.fromCollection(["3", "y", "4"], name: "b")
            let parsed = a.union(b).tryMap { s -> Int in
                guard let v = Int(s) else { throw StreamKitError(.malformedInput, "not a number: \(s)") }
                return v
            }
            parsed.sideOutput(DeadLetter<String>.self).collect(into: dead)
            parsed.collect(into: out)
        }.run(parallelism: 2)
        #expect(out.values.sorted() == [1, 2, 3, 4])
        #expect(dead.values.map(\.record).sorted() == ["x", "y"])
        #expect(dead.values.allSatisfy { $0.reason.contains("not a number") })
    }
}
