import Testing
import FeatureJobs
import StreamKitTesting
import StreamKit
import StreamKitDebezium

/// A deterministic random generator (SplitMix64) for the randomized join and session tests.
struct JoinTestRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e3779b97f4a7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58476d1ce4e5b9
        z = (z ^ (z >> 27)) &* 0x94d049bb133111eb
        return z ^ (z >> 31)
    }
}

private struct User: Sendable, Hashable, Decodable, StateCodable {
    var id: Int64
    var name: String
    init(_ id: Int64, _ name: String) { self.id = id; self.name = name }
    func encode(to w: inout ByteWriter) { w.writeVarInt(id); w.writeString(name) }
    init(from r: inout ByteReader) throws { id = try r.readVarInt(); name = try r.readString() }
}

private struct Interaction: Sendable, Hashable, StateCodable {
    var user: Int64
    var item: Int64
    var ts: Int64
    init(_ user: Int64, _ item: Int64, _ ts: Int64) { self.user = user; self.item = item; self.ts = ts }
    func encode(to w: inout ByteWriter) { w.writeVarInt(user); w.writeVarInt(item); w.writeVarInt(ts) }
    init(from r: inout ByteReader) throws { user = try r.readVarInt(); item = try r.readVarInt(); ts = try r.readVarInt() }
}

private func cdc(_ op: DebeziumOperation, before: User? = nil, after: User? = nil, ts: Int64) -> DebeziumRecord<User> {
    .change(DebeziumEnvelope(before: before, after: after,
                             source: DebeziumSource(version: "2.5.0.Final", connector: "postgresql", name: "app", tsMs: ts,
                                                    db: "app", schema: "public", table: "users"),
                             op: op, tsMs: ts))
}

private typealias JoinFn = TableJoinFunction<Int64, Interaction, User>
private typealias JoinHarness = OperatorTestHarness<KeyedProcessOperator<JoinFn>>
private let keyGroups = KeyGroups(maxParallelism: 128)

private func makeJoin(_ mode: JoinMode, _ time: TableJoinTime) -> KeyedProcessOperator<JoinFn> {
    JoinFn.makeOperator(JoinFn(mode: mode, time: time, keyGroups: keyGroups), probeKey: { $0.user })
}

/// Pushes the join inputs of a Debezium record (a truncate fans out to every key group), only
/// those the harness's subtask owns.
private func push(_ record: DebeziumRecord<User>, ts: Int64, into h: JoinHarness) throws {
    for change in TableChange.changes(of: record, key: { $0.id }) {
        for input in TableJoinInput<Int64, Interaction, User>.inputs(for: change, keyGroups: keyGroups)
        where h.owns(TableJoinInput<Int64, Interaction, User>.routingKey(probeKey: { $0.user })(input)) {
            try h.processElement(input, timestamp: ts)
        }
    }
}

private func probe(_ i: Interaction, into h: JoinHarness) throws {
    if h.owns(JoinKey<Int64>.key(i.user)) { try h.processElement(.probe(i), timestamp: i.ts) }
}

/// What the enriched output says: item → user name (nil: no row).
private func names(_ out: [EmittedRecord<Enriched<Interaction, User>>]) -> [String] {
    out.map { "\($0.value.left.item):\($0.value.right?.name ?? "-")" }
}

@Suite struct JoinTableTests {
    @Test(arguments: [JoinMode.leftOuter, .inner])
    func processingOrderFollowsTheChangelog(mode: JoinMode) throws {
        let h = try JoinHarness(makeJoin(mode, .processingOrder))
        var ts: Int64 = 0
        func change(_ r: DebeziumRecord<User>) throws { ts += 1; try push(r, ts: ts, into: h) }
        func look(_ user: Int64, _ item: Int64) throws { ts += 1; try probe(Interaction(user, item, ts), into: h) }
        try look(1, 1)                                                    // before any row
        try change(cdc(.create, after: User(1, "ann"), ts: 0)); try look(1, 2)
        try change(cdc(.update, before: User(1, "ann"), after: User(1, "ann2"), ts: 0)); try look(1, 3)
        try change(cdc(.delete, before: User(1, "ann2"), ts: 0)); try change(.tombstone); try look(1, 4)
        try change(cdc(.create, after: User(1, "ann3"), ts: 0)); try look(1, 5)
        try change(cdc(.read, after: User(2, "bob"), ts: 0)); try look(2, 6)
        try change(cdc(.truncate, ts: 0)); try look(1, 7); try look(2, 8)
        try change(cdc(.create, after: User(1, "ann4"), ts: 0)); try look(1, 9); try look(2, 10)
        let all = ["1:-", "2:ann", "3:ann2", "4:-", "5:ann3", "6:bob", "7:-", "8:-", "9:ann4", "10:-"]
        #expect(names(h.output) == (mode == .leftOuter ? all : all.filter { !$0.hasSuffix(":-") }))
        #expect(h.output.allSatisfy { $0.timestamp == $0.value.left.ts }, "a probe keeps its timestamp")
    }

    @Test func processingOrderIgnoresAnOlderChangeArrivingLate() throws {
        let h = try JoinHarness(makeJoin(.leftOuter, .processingOrder))
        try push(cdc(.update, before: User(1, "a"), after: User(1, "new"), ts: 20), ts: 20, into: h)
        try push(cdc(.create, after: User(1, "old"), ts: 10), ts: 10, into: h)     // overtaken on the way
        try probe(Interaction(1, 1, 30), into: h)
        try push(cdc(.delete, before: User(1, "new"), ts: 40), ts: 40, into: h)
        try push(cdc(.update, before: User(1, "a"), after: User(1, "stale"), ts: 35), ts: 35, into: h)
        try probe(Interaction(1, 2, 50), into: h)
        #expect(names(h.output) == ["1:new", "2:-"], "the delete's tombstone keeps the older update out")
    }

    /// The changelog of user 1 and 2 with event times, and the expected version at each probe time.
    fileprivate static let history: [(DebeziumRecord<User>, Int64)] = [
        (cdc(.create, after: User(1, "ann"), ts: 10), 10), (cdc(.create, after: User(2, "bob"), ts: 10), 10),
        (cdc(.update, before: User(1, "ann"), after: User(1, "ann2"), ts: 20), 20),
        (cdc(.delete, before: User(1, "ann2"), ts: 30), 30), (cdc(.create, after: User(1, "ann3"), ts: 40), 40),
        (cdc(.truncate, ts: 50), 50), (cdc(.create, after: User(1, "ann4"), ts: 60), 60),
    ]
    fileprivate static let probes: [Interaction] = [5, 10, 15, 25, 35, 45, 55, 65].map { Interaction(1, $0, $0) }
        + [Interaction(2, 115, 15), Interaction(2, 155, 55)]
    static let expected = ["5:-", "10:ann", "115:bob", "15:ann", "25:ann2", "35:-", "45:ann3", "55:-", "155:-", "65:ann4"]

    @Test func eventTimeJoinsTheVersionValidAtTheRecordsTime() throws {
        let h = try JoinHarness(makeJoin(.leftOuter, .eventTime))
        // Probes arrive before the table changes they must see (and some after later ones).
        for p in Self.probes.prefix(4) { try probe(p, into: h) }
        for (r, ts) in Self.history { try push(r, ts: ts, into: h) }
        for p in Self.probes.dropFirst(4) { try probe(p, into: h) }
        #expect(h.output.isEmpty, "records wait for the watermark")
        try h.processWatermark(11)
        #expect(names(h.takeOutput()) == ["5:-", "10:ann"], "only records up to watermark - 1 are final")
        try h.processWatermark(100)
        #expect(names(h.output).sorted() == Array(Self.expected.dropFirst(2)).sorted())
        #expect(h.output.map(\.timestamp) == h.output.map(\.timestamp).sorted(), "emitted in event-time order")
        #expect(h.output.allSatisfy { $0.timestamp == $0.value.left.ts })
    }

    @Test func eventTimeInnerJoinDropsRecordsWithoutARow() throws {
        let h = try JoinHarness(makeJoin(.inner, .eventTime))
        for (r, ts) in Self.history { try push(r, ts: ts, into: h) }
        for p in Self.probes { try probe(p, into: h) }
        try h.endInput()
        #expect(names(h.output).sorted() == Self.expected.filter { !$0.hasSuffix(":-") }.sorted())
    }

    @Test func stateIsBoundedOnceTheWatermarkPasses() throws {
        let h = try JoinHarness(makeJoin(.leftOuter, .eventTime))
        for ts in Int64(0)..<200 {
            for u in Int64(0)..<20 {
                try push(cdc(.update, before: User(u, "x"), after: User(u, "u\(u)@\(ts)"), ts: ts), ts: ts, into: h)
                try probe(Interaction(u, ts, ts), into: h)
            }
            if ts % 50 == 0 { try push(cdc(.truncate, ts: ts), ts: ts, into: h) }
            try h.processWatermark(ts - 5)
        }
        try h.processWatermark(1_000)
        #expect(h.output.count == 4_000)
        let store = h.operator.stateStore
        let versions = store.valueState("table-join.versions", of: [RowVersion<User>].self)
        let pending = store.mapState("table-join.pending", of: (EventTime, [Interaction]).self)
        let truncates = store.valueState("table-join.truncates", of: TruncateLog.self)
        #expect(versions.keyCount == 20)
        for u in Int64(0)..<20 {
            store.keyContext.currentKey = .key(u)
            #expect(versions.value?.map(\.row?.name) == ["u\(u)@199"], "only the version valid at the watermark remains")
            #expect(pending.entriesOfCurrentKey.isEmpty)
        }
        for g in 0..<keyGroups.maxParallelism {
            store.keyContext.currentKey = .keyGroup(g)
            #expect(truncates.value?.times == [150], "only the last truncate behind the watermark remains")
        }
    }

    @Test func snapshotRestoreContinuesIdentically() throws {
        let inputs: [Either<(DebeziumRecord<User>, Int64), Interaction>] =
            Self.history.map { .left($0) } + Self.probes.map { .right($0) }
        var rng = JoinTestRandom(seed: 7)
        let order = inputs.shuffled(using: &rng)
        func feed(_ xs: ArraySlice<Either<(DebeziumRecord<User>, Int64), Interaction>>, _ h: JoinHarness) throws {
            for x in xs {
                switch x {
                case let .left((r, ts)): try push(r, ts: ts, into: h)
                case let .right(p): try probe(p, into: h)
                }
            }
        }
        let reference = try JoinHarness(makeJoin(.leftOuter, .eventTime))
        try feed(order[...], reference)
        try reference.endInput()
        #expect(names(reference.output).sorted() == Self.expected.sorted())

        let first = try JoinHarness(makeJoin(.leftOuter, .eventTime))
        try feed(order.prefix(9), first)
        try first.processWatermark(12)
        let bytes = try first.snapshot()
        var results = names(first.output)
        for parallelism in [1, 2] {
            var continued = results
            for s in 0..<parallelism {
                let r = try JoinHarness.restore(from: [bytes], subtask: s, parallelism: parallelism) { makeJoin(.leftOuter, .eventTime) }
                try feed(order.dropFirst(9), r)
                try r.endInput()
                continued += names(r.output)
            }
            #expect(continued.sorted() == names(reference.output).sorted(), "parallelism \(parallelism)")
        }
        results.removeAll()
    }

    /// The event-time reference: the table as of each probe's time, replaying the changelog.
    private static func reference(changes: [(Int64, TableChange<Int64, User>)], probes: [Interaction], mode: JoinMode) -> [String] {
        probes.compactMap { p in
            var table: [Int64: User] = [:]
            for (ts, c) in changes where ts <= p.ts {
                switch c {
                case let .upsert(k, u): table[k] = u
                case let .delete(k): table[k] = nil
                case .truncate: table.removeAll()
                }
            }
            let row = table[p.user]
            if row == nil && mode == .inner { return nil }
            return "\(p.item):\(row?.name ?? "-")"
        }.sorted()
    }

    @Test(arguments: [(1, JoinMode.leftOuter), (2, .leftOuter), (2, .inner)])
    func jobWithRandomChangelogMatchesTheReference(parallelism: Int, mode: JoinMode) async throws {
        var rng = JoinTestRandom(seed: UInt64(parallelism * 10 + (mode == .inner ? 1 : 0)))
        var records: [DebeziumRecord<User>] = []
        var changes: [(Int64, TableChange<Int64, User>)] = []
        var live: [Int64: User] = [:]
        for ts in stride(from: Int64(0), to: 20_000, by: 10) {
            let u = Int64.random(in: 0..<40, using: &rng)
            let roll = Int.random(in: 0..<100, using: &rng)
            let record: DebeziumRecord<User>
            if roll == 0 {
                record = cdc(.truncate, ts: ts); live.removeAll()
            } else if let old = live[u], roll < 25 {
                record = cdc(.delete, before: old, ts: ts); live[u] = nil
            } else if let old = live[u] {
                let new = User(u, "u\(u)@\(ts)"); record = cdc(.update, before: old, after: new, ts: ts); live[u] = new
            } else {
                let new = User(u, "u\(u)@\(ts)"); record = cdc(.create, after: new, ts: ts); live[u] = new
            }
            records.append(record)
            changes += TableChange.changes(of: record, key: { $0.id }).map { (ts, $0) }
        }
        // Interactions out of order by up to 400 ms (the watermark delay is 500 ms).
        let probes = (0..<3_000).map { i -> Interaction in
            let ts = Int64(i) * 7 - Int64.random(in: 0...400, using: &rng)
            return Interaction(Int64.random(in: 0..<45, using: &rng), Int64(i), Swift.max(ts, 0) + 3)
        }
        let out = CollectedOutput<Enriched<Interaction, User>>()
        let recs = records
        try await Job("table-join") { env in
            let users = env.fromCollection(recs, name: "users")
                .assignTimestamps({ $0.envelope?.source.tsMs ?? 0 }, watermark: .monotonous)
                .tableChanges { (u: User) in u.id }
            env.fromCollection(probes, name: "interactions")
                .assignTimestamps({ $0.ts }, watermark: .boundedOutOfOrderness(.milliseconds(500)))
                .joinTable(users, key: { $0.user }, mode: mode, time: .eventTime)
                .collect(into: out)
        }.run(parallelism: parallelism)
        let got = out.values.map { "\($0.left.item):\($0.right?.name ?? "-")" }.sorted()
        #expect(got == Self.reference(changes: changes, probes: probes, mode: mode))
    }
}
