import Foundation
import Metrics
import Synchronization
import Testing
import StreamKitJSON
import StreamKitCapture

/// The database-neutral capture core, without a database or a broker.
struct CaptureCoreTests {
    /// A position is durable only once Kafka acknowledged every event before it, whatever order
    /// the acknowledgements arrive in.
    @Test func positionTrackerConfirmsOnlyFullyAcknowledgedTransactions() {
        var t = PositionTracker<Int>()
        for _ in 0..<3 { _ = t.nextEventTag() }
        t.finished(.init(firstTag: 1, lastTag: 3, begin: 10, end: 11, commitMicros: 0, prefix: 0))
        for _ in 0..<2 { _ = t.nextEventTag() }
        t.finished(.init(firstTag: 4, lastTag: 5, begin: 20, end: 21, commitMicros: 0, prefix: 0))
        var confirmed: [Int] = []
        #expect(t.record([(2, true), (3, true), (5, true)]) == 0)
        t.takeAcknowledged { confirmed.append($0.end) }
        #expect(confirmed.isEmpty, "tag 1 is missing: nothing is durable")
        #expect(t.acknowledgedEvents(from: 1) == 0)
        #expect(t.record([(1, true)]) == 0)
        t.takeAcknowledged { confirmed.append($0.end) }
        #expect(confirmed == [11])
        #expect(t.acknowledgedEvents(from: 4) == 0 && !t.isIdle)
        #expect(t.record([(4, false)]) == 1, "a failed delivery is never acknowledged")
        t.takeAcknowledged { confirmed.append($0.end) }
        #expect(confirmed == [11] && t.oldestPending?.begin == 20)
        t.forgetUnacknowledged()
        #expect(t.nextTag == 4 && t.oldestPending == nil && t.isIdle, "the next session sends from the first unacknowledged event")
    }

    @Test func lifecycleStateMachine() {
        var m = CaptureLifecycle.StateMachine()
        #expect(m.start() == .run && m.state == .starting)
        m.streaming()
        #expect(m.state == .streaming)
        #expect(m.connectionLost(attempt: 1, maximum: 2) == .reconnect && m.state == .reconnecting(attempt: 1))
        #expect(m.connectionLost(attempt: 3, maximum: 2) == .fail)
        m.streaming()
        #expect(m.requestStop() && m.state == .stopping && m.stopRequested)
        let again = m.requestStop()
        #expect(!again, "a second request changes nothing")
        m.streaming()
        #expect(m.state == .stopping, "a stopping capture does not go back to streaming")
        #expect(m.connectionLost(attempt: 1, maximum: 5) == .stop, "no reconnect once stopping")
        m.finished(error: nil)
        #expect(m.state == .stopped)

        var early = CaptureLifecycle.StateMachine()
        let changed = early.requestStop()
        #expect(changed)
        #expect(early.start() == .stopAtOnce && early.state == .stopped)

        var failing = CaptureLifecycle.StateMachine()
        _ = failing.start()
        failing.finished(error: CaptureError(.configuration, "no tables"))
        #expect(failing.state == .failed(message: "capture.configuration: no tables"))

        let lifecycle = CaptureLifecycle()
        #expect(!lifecycle.isStopRequested)
        lifecycle.requestStop()
        #expect(lifecycle.isStopRequested && lifecycle.state == .initial)
        #expect(lifecycle.start() == .stopAtOnce, "asked to stop before it started")
        #expect(lifecycle.start() == .run && !lifecycle.isStopRequested, "a new run after a stopped one")
        lifecycle.requestStop()
        #expect(lifecycle.isStopRequested && lifecycle.state == .stopping)
        lifecycle.transition { $0.finished(error: nil) }
        #expect(lifecycle.start() == .run && !lifecycle.isStopRequested, "the last run's stop does not carry over")
    }

    @Test func reconnectBackoffDoublesUpToTheMaximumAndResets() {
        var b = ReconnectBackoff(initial: .milliseconds(500), maximum: .seconds(3))
        let waits = (0..<5).map { _ in b.next() }
        #expect(waits.map(\.attempt) == [1, 2, 3, 4, 5])
        #expect(waits.map(\.wait) == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(3), .seconds(3)])
        b.reset()
        let again = b.next()
        #expect(again.attempt == 1 && again.wait == .milliseconds(500))
    }

    /// A MySQL-like plug-in's source fields: the core writes the neutral part of `source`.
    struct BinlogSource: SourceFields {
        var tsMillis: Int64 = 1_700_000_000_000
        var snapshot = "false"
        func writeFields(to writer: inout JSONWriter) {
            writer.field("file", "binlog.000003")
            writer.field("pos", 4711)
        }
    }

    @Test func encoderWritesTheNeutralSourceBlockAndTypesValuesByKind() throws {
        var e = DebeziumChangeEncoder(serverName: "shop", database: "app", connector: "mysql")
        let table = CapturedTable(schema: "app", name: "orders", columns: [
            CaptureColumn(name: "id", typeID: 3, kind: .integer, isKey: true),
            CaptureColumn(name: "paid", typeID: 1, kind: .boolean, isKey: false),
            CaptureColumn(name: "amount", typeID: 246, kind: .decimal, isKey: false),
            CaptureColumn(name: "at", typeID: 12, kind: .timestamp, isKey: false),
            CaptureColumn(name: "note", typeID: 252, kind: .text, isKey: false),
        ], keyColumns: [0], version: 2)
        let row: [ColumnValue] = [.text("7"), .text("1"), .text("12.50"), .text("2024-01-02 03:04:05.5"), .unchangedToast]
        let bytes = try e.value(op: UInt8(ascii: "c"), table: table, before: nil, after: row, source: BinlogSource(), nowMillis: 5)
        let o = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        let source = try #require(o["source"] as? [String: Any])
        #expect(source["connector"] as? String == "mysql" && source["name"] as? String == "shop" && source["db"] as? String == "app")
        #expect(source["file"] as? String == "binlog.000003" && source["pos"] as? Int == 4711)
        #expect(source["streamkit_schema_version"] as? Int == 2 && source["table"] as? String == "orders")
        let after = try #require(o["after"] as? [String: Any])
        #expect(after["id"] as? Int == 7 && after["paid"] as? Bool == true && (after["amount"] as? NSNumber)?.doubleValue == 12.5)
        #expect(after["at"] as? Int64 == 1_704_164_645_500_000)
        #expect(after["note"] as? String == DebeziumChangeEncoder.unavailableValue)
        #expect(String(decoding: try e.key(table: table, values: row) ?? [], as: UTF8.self) == #"{"id":7}"#)
    }

    @Test func captureErrorsHaveStableCodesAndSQLState() {
        let e = CaptureError(.connectionLost, "server closed the connection", sqlState: "57P01", retriable: true)
        #expect(e.code == .connectionLost && e.code.rawValue == "capture.connection_lost" && e.isRetriable)
        #expect(e.description == "capture.connection_lost (SQLSTATE 57P01): server closed the connection")
        #expect(CaptureError.Code("capture.query") == .query, "codes are values: a new one is not a breaking change")
    }

    @Test func incrementalSnapshotQueueAndWindow() {
        var p = IncrementalSnapshotProgress()
        #expect(p.enqueue("public.a") && p.enqueue("public.b") && !p.enqueue("public.a"))
        #expect(p.startNext() == "public.a" && p.pending == 2 && !p.enqueue("public.a"))
        p.lastKey = ["5"]
        #expect(p.startNext() == "public.a", "one table at a time")
        p.finishCurrent()
        #expect(p.startNext() == "public.b" && p.lastKey == nil)
        p.finishCurrent()
        #expect(p.isIdle)

        let table = CapturedTable(schema: "public", name: "a", columns: [CaptureColumn(name: "id", typeID: 23, kind: .integer, isKey: true)],
                                  keyColumns: [0])
        var w = SnapshotWindow(openID: "o", closeID: "c", table: table, topic: "t", lastKey: ["3"], complete: false)
        for i in 1...3 { w.add(key: Array("\(i)".utf8), row: [.text("\(i)")]) }
        w.rows.removeValue(forKey: Array("2".utf8))   // a streamed change inside the window is newer
        #expect(w.remainingRows.map(\.row) == [[.text("1")], [.text("3")]])
    }

    @Test func metricsReporterTurnsTotalsIntoIncrementsWithPrometheusNames() {
        let factory = RecordingMetrics()
        let r = CaptureMetricsReporter(source: "cdc", factory: factory)
        r.total("changes", 5)
        r.total("changes", 12)
        r.total("changes", 12)
        r.gauge("slot_lag_bytes", 4096)
        r.duration("lag", micros: 1500)
        #expect(factory.counters["streamkit_capture_changes_total"] == 12)
        #expect(factory.gauges["streamkit_capture_slot_lag_bytes"] == 4096)
        #expect(factory.timers["streamkit_capture_lag_seconds"] == [1_500_000])
        #expect(factory.dimensions.allSatisfy { $0 == [("source", "cdc")].map { "\($0.0)=\($0.1)" } })
    }
}

/// A swift-metrics factory that remembers what was reported (tests only).
final class RecordingMetrics: MetricsFactory, @unchecked Sendable {
    // @unchecked: every access holds `lock`.
    private let lock = NSLock()
    private var _counters: [String: Int64] = [:], _gauges: [String: Double] = [:], _timers: [String: [Int64]] = [:]
    private var _dimensions: [[String]] = []
    var counters: [String: Int64] { lock.withLock { _counters } }
    var gauges: [String: Double] { lock.withLock { _gauges } }
    var timers: [String: [Int64]] { lock.withLock { _timers } }
    var dimensions: [[String]] { lock.withLock { _dimensions } }

    final class Handler: CounterHandler, RecorderHandler, TimerHandler, FloatingPointCounterHandler, MeterHandler, @unchecked Sendable {
        let label: String
        unowned let owner: RecordingMetrics
        init(_ label: String, _ owner: RecordingMetrics) { self.label = label; self.owner = owner }
        func increment(by amount: Int64) { owner.lock.withLock { owner._counters[label, default: 0] += amount } }
        func increment(by amount: Double) {}
        func reset() {}
        func record(_ value: Int64) { record(Double(value)) }
        func record(_ value: Double) { owner.lock.withLock { owner._gauges[label] = value } }
        func recordNanoseconds(_ duration: Int64) { owner.lock.withLock { owner._timers[label, default: []].append(duration) } }
        func set(_ value: Int64) { record(value) }
        func set(_ value: Double) { record(value) }
        func decrement(by amount: Double) {}
    }

    private func make(_ label: String, _ dimensions: [(String, String)]) -> Handler {
        lock.withLock { _dimensions.append(dimensions.map { "\($0.0)=\($0.1)" }) }
        return Handler(label, self)
    }
    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { make(label, dimensions) }
    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler { make(label, dimensions) }
    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler { make(label, dimensions) }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler { make(label, dimensions) }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { make(label, dimensions) }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    func destroyMeter(_ handler: any MeterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}
