import Testing
import StreamKitTesting
import StreamKit

/// A command-driven keyed function so each test states exactly what the function does.
struct Command: Sendable, Hashable {
    enum Action: Sendable, Hashable {
        case add(Int64)                 // value += n, list.append(n), map[n % 3] += 1
        case eventTimer(EventTime)
        case deleteEventTimer(EventTime)
        case processingTimer(Int64)
        case deleteProcessingTimer(Int64)
        case read                       // emits the current state
        case clear
    }
    var key: Int
    var action: Action
    init(_ key: Int, _ action: Action) { self.key = key; self.action = action }
}

/// What the function emits: a label and the key's state at that moment.
struct Snapshot: Sendable, Hashable, CustomStringConvertible {
    var label: String
    var key: Int
    var value: Int64?
    var list: [Int64]
    var map: [Int64: Int64]
    var description: String { "\(label) k\(key) v=\(value.map(String.init) ?? "nil") list=\(list) map=\(map)" }
}

struct CommandFunction: KeyedProcessFunction {
    typealias Key = Int
    var ttl: StateTTL? = nil
    var value: ValueState<Int, Int64>!
    var list: ListState<Int, Int64>!
    var map: MapState<Int, Int64, Int64>!

    init(ttl: StateTTL? = nil) { self.ttl = ttl }

    mutating func open(state: KeyedStateStore<Int>) throws {
        value = state.valueState("value", of: Int64.self, ttl: ttl)
        list = state.listState("list", of: Int64.self, ttl: ttl)
        map = state.mapState("map", of: (Int64, Int64).self, ttl: ttl)
    }

    func current(_ label: String, _ key: Int) -> Snapshot {
        Snapshot(label: label, key: key, value: value.value, list: list.elements,
                 map: Dictionary(uniqueKeysWithValues: map.entriesOfCurrentKey))
    }

    func processElement(_ c: Command, context: KeyedProcessContext<Int, Snapshot>) throws {
        switch c.action {
        case let .add(n):
            value.update((value.value ?? 0) + n)
            list.append(n)
            map[n % 3] = (map[n % 3] ?? 0) + 1
        case let .eventTimer(t): context.registerEventTimeTimer(t)
        case let .deleteEventTimer(t): context.deleteEventTimeTimer(t)
        case let .processingTimer(t): context.registerProcessingTimeTimer(t)
        case let .deleteProcessingTimer(t): context.deleteProcessingTimeTimer(t)
        case .read: context.emit(current("read", context.key))
        case .clear: value.clear(); list.clear(); map.clear()
        }
    }

    func onTimer(_ time: Int64, domain: TimeDomain, context: KeyedProcessContext<Int, Snapshot>) throws {
        context.emit(current(domain == .eventTime ? "event@\(time)" : "processing@\(time)", context.key))
    }
}

@Suite struct KeyedProcessTests {
    typealias Harness = OperatorTestHarness<KeyedProcessOperator<CommandFunction>>
    static func make(ttl: StateTTL? = nil) -> KeyedProcessOperator<CommandFunction> {
        KeyedProcessOperator(CommandFunction(ttl: ttl), key: { $0.key })
    }
    static func harness(ttl: StateTTL? = nil, now: Int64 = 0, subtask: Int = 0, parallelism: Int = 1) throws -> Harness {
        try OperatorTestHarness(make(ttl: ttl), subtask: subtask, parallelism: parallelism, processingTime: now)
    }

    @Test func valueListAndMapStateArePerKey() throws {
        let h = try Self.harness()
        for c in [Command(1, .add(5)), Command(2, .add(7)), Command(1, .add(3)), Command(1, .add(6)), Command(1, .read), Command(2, .read), Command(3, .read)] {
            try h.processElement(c, timestamp: 0)
        }
        #expect(h.outputValues == [
            Snapshot(label: "read", key: 1, value: 14, list: [5, 3, 6], map: [2: 1, 0: 2]),
            Snapshot(label: "read", key: 2, value: 7, list: [7], map: [1: 1]),
            Snapshot(label: "read", key: 3, value: nil, list: [], map: [:]),
        ])
        h.takeOutput()
        try h.processElement(Command(1, .clear), timestamp: 0)
        try h.processElement(Command(1, .read), timestamp: 0)
        #expect(h.outputValues == [Snapshot(label: "read", key: 1, value: nil, list: [], map: [:])])
    }

    @Test func eventTimeTimersFireInOrderWhenTheWatermarkPasses() throws {
        let h = try Self.harness()
        try h.processElement(Command(1, .add(1)), timestamp: 5)
        try h.processElement(Command(1, .eventTimer(20)), timestamp: 5)
        try h.processElement(Command(2, .eventTimer(10)), timestamp: 5)
        try h.processWatermark(9)
        #expect(h.output.isEmpty)
        try h.processWatermark(20)
        #expect(h.outputValues.map(\.label) == ["event@10", "event@20"])
        #expect(h.output.map(\.timestamp) == [10, 20], "timer output carries the timer's time")
        #expect(h.outputValues[1].value == 1, "onTimer sees the state of the timer's key")
        h.takeOutput()
        // A record whose pre-watermark passes a timer fires it before the record is processed.
        try h.processElement(Command(3, .eventTimer(30)), timestamp: 25)
        try h.processWatermark(29)
        #expect(h.output.isEmpty)
        var b = Batch<Command>()
        b.append(Command(3, .add(9)), timestamp: 31, watermark: 30)
        b.append(Command(3, .read), timestamp: 31, watermark: 30)
        try h.processBatch(b)
        #expect(h.outputValues.map(\.label) == ["event@30", "read"])
        #expect(h.outputValues[0].value == nil && h.outputValues[1].value == 9)
    }

    @Test func timersAreDeduplicatedAndCanBeDeleted() throws {
        let h = try Self.harness()
        for c in [Command(1, .eventTimer(10)), Command(1, .eventTimer(10)), Command(2, .eventTimer(10)),
                  Command(1, .eventTimer(11)), Command(1, .deleteEventTimer(11)),
                  Command(1, .processingTimer(100)), Command(1, .processingTimer(100)),
                  Command(2, .processingTimer(150)), Command(2, .deleteProcessingTimer(150))] {
            try h.processElement(c, timestamp: 0)
        }
        try h.processWatermark(50)
        #expect(h.outputValues.map { "\($0.label)/\($0.key)" }.sorted() == ["event@10/1", "event@10/2"])
        h.takeOutput()
        try h.setProcessingTime(99)
        #expect(h.output.isEmpty)
        try h.setProcessingTime(1_000)
        #expect(h.outputValues.map { "\($0.label)/\($0.key)" } == ["processing@100/1"])
        try h.setProcessingTime(2_000)
        #expect(h.outputValues.count == 1, "fired timers do not fire again")
        h.takeOutput()
        // A deleted timer can be registered again (and then fires once).
        try h.processElement(Command(1, .eventTimer(60)), timestamp: 0)
        try h.processElement(Command(1, .deleteEventTimer(60)), timestamp: 0)
        try h.processElement(Command(1, .eventTimer(60)), timestamp: 0)
        try h.processWatermark(100)
        #expect(h.outputValues.map(\.label) == ["event@60"])
    }

    @Test func stateTTLExpiresWithProcessingTime() throws {
        let h = try Self.harness(ttl: StateTTL(.milliseconds(100)), now: 1_000)
        try h.processElement(Command(1, .add(4)), timestamp: 0)
        try h.processElement(Command(2, .add(5)), timestamp: 0)     // never read again
        try h.setProcessingTime(1_099)
        try h.processElement(Command(1, .read), timestamp: 0)
        #expect(h.takeOutput().map(\.value.value) == [4])
        // onCreateAndWrite: the read did not refresh the TTL.
        try h.setProcessingTime(1_100)
        try h.processElement(Command(1, .read), timestamp: 0)
        #expect(h.takeOutput().map(\.value) == [Snapshot(label: "read", key: 1, value: nil, list: [], map: [:])])
        // A write restarts it.
        try h.processElement(Command(1, .add(2)), timestamp: 0)
        try h.setProcessingTime(1_150)
        try h.processElement(Command(1, .add(3)), timestamp: 0)
        try h.setProcessingTime(1_249)
        try h.processElement(Command(1, .read), timestamp: 0)
        #expect(h.takeOutput().map(\.value.value) == [5])
        // Purging drops what expired: key 2's value, list and map entry written at 1000...
        #expect(h.operator.stateStore.purgeExpired(now: 1_249) == 3)
        // ...then key 1's, written at 1150 (its older map entries were dropped when read expired).
        #expect(h.operator.stateStore.purgeExpired(now: 1_250) == 3)
        #expect(h.operator.stateStore.purgeExpired(now: 5_000) == 0)
    }

    @Test func stateTTLOnReadAndWriteIsRefreshedByReads() throws {
        let h = try Self.harness(ttl: StateTTL(.milliseconds(100), update: .onReadAndWrite), now: 0)
        try h.processElement(Command(1, .add(4)), timestamp: 0)
        for t: Int64 in [60, 120, 180, 240] {
            try h.setProcessingTime(t)
            try h.processElement(Command(1, .read), timestamp: 0)
        }
        let reads = h.takeOutput().map(\.value)
        #expect(reads.map(\.value) == [4, 4, 4, 4], "each read restarts the TTL")
        #expect(reads.map(\.list) == [[4], [4], [4], [4]])
        #expect(reads.map(\.map) == [[1: 1], [1: 1], [1: 1], [1: 1]], "iterating map entries is a read too")
        try h.setProcessingTime(340)
        try h.processElement(Command(1, .read), timestamp: 0)
        #expect(h.takeOutput().map(\.value.value) == [nil])
    }

    @Test func snapshotRestoresStateAndTimers() throws {
        let h = try Self.harness(now: 10)
        for c in [Command(1, .add(2)), Command(1, .add(4)), Command(2, .add(8)),
                  Command(1, .eventTimer(50)), Command(2, .processingTimer(500))] {
            try h.processElement(c, timestamp: 0)
        }
        try h.processWatermark(20)
        let bytes = try h.snapshot(checkpointID: 7)
        let r = try Harness.restore(from: [bytes], checkpointID: 7, processingTime: 10) { Self.make() }
        // The operator's watermark (20) was restored: a timer behind it fires on the next advance.
        try r.processElement(Command(3, .eventTimer(15)), timestamp: 0)
        try r.processWatermark(21)
        #expect(r.takeOutput().map(\.value.label) == ["event@15"])
        try r.processElement(Command(1, .add(1)), timestamp: 0)
        try r.processWatermark(50)
        #expect(r.takeOutput().map(\.value) == [Snapshot(label: "event@50", key: 1, value: 7, list: [2, 4, 1], map: [2: 1, 1: 2])])
        try r.setProcessingTime(499)
        #expect(r.output.isEmpty)
        try r.setProcessingTime(500)
        #expect(r.takeOutput().map(\.value) == [Snapshot(label: "processing@500", key: 2, value: 8, list: [8], map: [2: 1])])
    }

    @Test func restoreIntoParallelismTwoRedistributesKeyGroups() throws {
        let h = try Self.harness()
        let keys = Array(0..<300)
        for k in keys {
            try h.processElement(Command(k, .add(Int64(k))), timestamp: 0)
            try h.processElement(Command(k, .eventTimer(EventTime(1_000 + k))), timestamp: 0)
        }
        let bytes = try h.snapshot()
        let keyGroups = KeyGroups(maxParallelism: 128)
        var restoredKeys: [Int] = []
        for s in 0..<2 {
            let r = try Harness.restore(from: [bytes], subtask: s, parallelism: 2) { Self.make() }
            let owned = keys.filter { keyGroups.subtask(ofKeyGroup: keyGroups.keyGroup(of: $0), parallelism: 2) == s }
            #expect(!owned.isEmpty)
            #expect(r.operator.stateStore.valueState("value", of: Int64.self).keyCount == owned.count)
            try r.endInput()
            let fired = r.outputValues
            #expect(fired.map(\.key).sorted() == owned, "subtask \(s) gets exactly its key groups")
            #expect(fired.allSatisfy { $0.value == Int64($0.key) && $0.label == "event@\(1_000 + $0.key)" })
            restoredKeys += fired.map(\.key)
        }
        #expect(restoredKeys.sorted() == keys)
    }
}
