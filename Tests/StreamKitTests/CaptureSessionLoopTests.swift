import Logging
import Synchronization
import Testing
import StreamKitCapture

/// The capture core's session loop (reconnects) and the streaming schedule, without a database.
@Suite struct CaptureSessionLoopTests {
    static func loop(attempts: Int, lifecycle: CaptureLifecycle = CaptureLifecycle(), reconnects: Counter) -> CaptureSessionLoop {
        var loop = CaptureSessionLoop(lifecycle: lifecycle, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), database: "TestDB", reconnectAttempts: attempts,
                                      backoff: ReconnectBackoff(initial: .milliseconds(1), maximum: .milliseconds(4))) { reconnects.add() }
        loop.stopCheck = .milliseconds(1)
        return loop
    }

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
        func add() { value.add(1, ordering: .relaxed) }
        var current: Int { value.load(ordering: .relaxed) }
    }

    static let lost = CaptureError(.connectionLost, "server closed the connection", retriable: true)

    @Test func lostSessionsAreQuiescedAndStartedAgainUntilOneEnds() throws {
        let reconnects = Counter(), quiesced = Counter()
        var sessions = 0
        var loop = Self.loop(attempts: 3, reconnects: reconnects)
        try loop.run(until: { false }, session: { _ in
            sessions += 1
            if sessions <= 2 { throw Self.lost }
        }, quiesce: { quiesced.add() })
        #expect(sessions == 3)
        #expect(reconnects.current == 2 && quiesced.current == 2)
    }

    @Test func aNonRetriableFailureIsThrownAtOnce() {
        let reconnects = Counter()
        var sessions = 0
        var loop = Self.loop(attempts: 3, reconnects: reconnects)
        #expect(throws: CaptureError.self) {
            try loop.run(until: { false }, session: { _ in sessions += 1; throw CaptureError(.configuration, "no such table") }, quiesce: {})
        }
        #expect(sessions == 1 && reconnects.current == 0)
    }

    @Test func consecutiveFailuresPastTheLimitFailButAStreamingSessionStartsTheCountAgain() throws {
        let reconnects = Counter()
        var sessions = 0
        var loop = Self.loop(attempts: 2, reconnects: reconnects)
        #expect(throws: CaptureError.self) {
            try loop.run(until: { false }, session: { _ in sessions += 1; throw Self.lost }, quiesce: {})
        }
        #expect(sessions == 3, "the first session and two reconnects")

        // Sessions that streamed before they lost the connection never exhaust the attempts.
        var healthy = 0
        var again = Self.loop(attempts: 2, reconnects: Counter())
        try again.run(until: { false }, session: { streamed in
            healthy += 1
            if healthy <= 5 { streamed = true; throw Self.lost }
        }, quiesce: {})
        #expect(healthy == 6)
    }

    @Test func aStopAskedWhileWaitingEndsTheLoopAfterQuiescing() throws {
        let lifecycle = CaptureLifecycle()
        let quiesced = Counter()
        #expect(lifecycle.start() == .run)
        var loop = Self.loop(attempts: 10, lifecycle: lifecycle, reconnects: Counter())
        var sessions = 0
        try loop.run(until: { lifecycle.isStopRequested }, session: { _ in
            sessions += 1
            lifecycle.requestStop()
            throw Self.lost
        }, quiesce: { quiesced.add() })
        #expect(sessions == 1 && quiesced.current == 1)
    }

    @Test func scheduleConfirmsHeartbeatsAndMeasuresAtTheirIntervals() {
        let ms: UInt64 = 1_000_000
        var s = CaptureSchedule(confirm: .milliseconds(100), heartbeat: .seconds(1), measureLag: .milliseconds(500), now: 0)
        #expect(s.due(now: 0) == [.measureLag], "the log is measured at once")
        #expect(s.due(now: 99 * ms) == [])
        #expect(s.due(now: 100 * ms) == [.confirm])
        #expect(s.due(now: 150 * ms) == [])
        #expect(s.due(now: 500 * ms) == [.confirm, .measureLag])
        #expect(s.due(now: 1_000 * ms) == [.confirm, .heartbeat, .measureLag])
        var none = CaptureSchedule(confirm: .seconds(1), heartbeat: nil, measureLag: .seconds(10), now: 5 * ms)
        _ = none.due(now: 5 * ms)
        #expect(none.due(now: 100_000 * ms) == [.confirm, .measureLag], "no heartbeat when none is configured")
    }
}
