import Foundation
import Synchronization
import Testing
import StreamKit
import StreamKitKafka
import StreamKitCapture
import StreamKitPostgres

/// Runs a change capture on its own thread until ``stop()``.
final class CaptureRun<Capture: ChangeCapture>: @unchecked Sendable {
    // @unchecked: the flags are atomics/mutexes; `capture` is Sendable.
    let capture: Capture
    let stopFlag = Atomic<Bool>(false)
    let done = DispatchSemaphore(value: 0)
    let error = Mutex<(any Error)?>(nil)

    init(_ capture: Capture) {
        self.capture = capture
        let t = Thread { [self] in
            do { try capture.run(until: { self.stopFlag.load(ordering: .relaxed) }) } catch { self.error.withLock { $0 = error } }
            done.signal()
        }
        t.start()
    }

    /// Stops the capture (waiting up to 60 s) and rethrows its failure.
    func stop() throws {
        stopFlag.store(true, ordering: .relaxed)
        _ = done.wait(timeout: .now() + 60)
        if let e = error.withLock({ $0 }) { throw e }
    }

    var failed: (any Error)? { error.withLock { $0 } }
}

extension CaptureRun where Capture == PostgresCapture {
    convenience init(_ configuration: PostgresCaptureConfiguration) {
        self.init(PostgresCapture(configuration: configuration, kafka: KafkaTestSupport.kafka))
    }
}

/// One record of a capture's topic, decoded (tests only: JSONSerialization).
struct CaptureEvent {
    let op: String?
    let key: [String: Any]?
    let before: [String: Any]?
    let after: [String: Any]?
    let source: [String: Any]?
    /// The envelope's top-level field names, sorted.
    let fields: [String]
    let tombstone: Bool
    /// The whole envelope (nil for a tombstone).
    var object: [String: Any]? = nil
    var label: String { tombstone ? "tombstone" : (op ?? "?") }
}

/// Every record of `topic`, in partition then offset order.
func captureEvents(_ topic: String) throws -> [CaptureEvent] {
    try KafkaTopicReader.readAll(topic: topic, configuration: KafkaTestSupport.kafka).map { r in
        let key = r.key.flatMap { try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] }
        guard let v = r.value else { return CaptureEvent(op: nil, key: key, before: nil, after: nil, source: nil, fields: [], tombstone: true) }
        let obj = try JSONSerialization.jsonObject(with: Data(v)) as! [String: Any]
        return CaptureEvent(op: obj["op"] as? String, key: key, before: obj["before"] as? [String: Any], after: obj["after"] as? [String: Any],
                            source: obj["source"] as? [String: Any], fields: obj.keys.sorted(), tombstone: false, object: obj)
    }
}

/// Polls `condition` every `interval` for up to `timeout`; throws `failed()` as soon as it is non-nil.
func waitUntil(timeout: Duration = .seconds(300), every interval: Duration = .milliseconds(20),
               failed: () -> (any Error)? = { nil }, _ condition: () throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while try !condition() {
        if let e = failed() { throw e }
        if ContinuousClock.now > deadline { throw StreamKitError(.cancelled, "condition not met within \(timeout)") }
        try await Task.sleep(for: interval)
    }
}

/// ``waitUntil(timeout:every:failed:_:)`` for the capture tests: every 50 ms (each poll reads the topic).
func waitFor(_ timeout: Duration = .seconds(300), _ condition: () throws -> Bool) async throws {
    try await waitUntil(timeout: timeout, every: .milliseconds(50), condition)
}

/// ``waitFor(_:_:)`` that fails as soon as `running`'s capture failed.
func waitFor<C>(_ timeout: Duration = .seconds(300), _ running: CaptureRun<C>, _ condition: () throws -> Bool) async throws {
    try await waitUntil(timeout: timeout, every: .milliseconds(50), failed: { running.failed }, condition)
}

/// Starts a real `cdc-features capture postgres` process for the test's names (stream only, no
/// snapshot); its standard output goes to `stdout` (else nowhere).
func startCaptureProcess(_ n: PostgresCaptureTests.Names, stdout: FileHandle? = nil, extraArguments: [String] = []) throws -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: CLIBinary.path)
    p.arguments = ["capture", "postgres", "--dsn", Services.postgresDSN, "--slot", n.slot, "--publication", n.publication,
                   "--topic-prefix", n.prefix, "--tables", n.table, "--snapshot", "never", "--brokers", Services.kafkaBrokers,
                   "--state-file", n.stateFile] + extraArguments
    p.standardOutput = stdout ?? FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    return p
}
