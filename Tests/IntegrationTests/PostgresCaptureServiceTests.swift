import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import StreamKit
import StreamKitKafka
import StreamKitCapture
import StreamKitPostgres

/// Keeps every log line (level, message, metadata) in memory (tests only).
final class LogCollector: Sendable {
    let lines = Mutex<[String]>([])
    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    struct Handler: LogHandler {
        let collector: LogCollector
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            var line = "\(event.level) \(event.message) \(all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))"
            if let error = event.error { line += " error=\(error)" }
            collector.lines.withLock { $0.append(line) }
        }
    }

    var logger: Logger { Logger(label: "test.capture") { _ in Handler(collector: self) } }
}

/// A capture as a swift-service-lifecycle `Service`, and what it logs.
@Suite(.serialized, .enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up)"))
struct PostgresCaptureServiceTests {
    typealias Names = PostgresCaptureTests.Names
    static let secret = "Sup3rS3cretPw"

    /// The test DSN with a password in it (the test server trusts local connections: it is ignored).
    static var dsnWithPassword: String {
        let dsn = Services.postgresDSN
        guard let scheme = dsn.range(of: "://"), let at = dsn[scheme.upperBound...].firstIndex(of: "@") else { return dsn }
        let user = dsn[scheme.upperBound..<at].split(separator: ":").first.map(String.init) ?? "postgres"
        return String(dsn[..<scheme.upperBound]) + user + ":" + secret + String(dsn[at...])
    }

    /// A capture run by a `ServiceGroup`: graceful shutdown stops streaming, flushes Kafka and
    /// confirms the position; no log line carries the DSN's password.
    @Test(.timeLimit(.minutes(15)))
    func serviceStopsGracefullyAndNeverLogsThePassword() async throws {
        let n = Names()
        defer { PostgresCaptureTests.cleanUp(n) }
        _ = try PostgresCaptureTests.sql("CREATE TABLE \(n.table)(id int PRIMARY KEY, v int)")
        var c = PostgresCaptureTests.configuration(n, snapshot: .never)
        c.dsn = Self.dsnWithPassword
        #expect(c.dsn.contains(Self.secret))
        let logs = LogCollector()
        let capture = PostgresCapture(configuration: c, kafka: KafkaTestSupport.kafka, logger: logs.logger)
        let group = ServiceGroup(configuration: .init(services: [CaptureService(capture, logger: logs.logger)], logger: logs.logger))
        let running = Task { try await group.run() }
        try await waitFor(.seconds(300)) { capture.lifecycle.state == .streaming }
        try await waitFor(.seconds(300)) { try PostgresCaptureTests.slotIsConsistent(n) }
        _ = try PostgresCaptureTests.sql("INSERT INTO \(n.table) VALUES (1, 1), (2, 2)")
        try await waitFor(.seconds(300)) { (try? captureEvents(n.topic).count) == 2 }
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(capture.lifecycle.state == .stopped)
        let confirmed = try PostgresCaptureTests.sql("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '\(n.slot)'")
            .rows.first?.first ?? nil
        #expect(PgOutput.parseLSN(confirmed ?? "") ?? 0 >= capture.metrics.confirmedLSN.load(ordering: .relaxed), "the stop confirmed the position")
        #expect(capture.metrics.confirmedLSN.load(ordering: .relaxed) > 0)
        let text = logs.text
        #expect(text.contains("streaming") && text.contains("capture.dsn="), "the capture logged its start with the DSN:\n\(text)")
        #expect(text.contains(":***@"), "the password is masked:\n\(text)")
        #expect(!text.contains(Self.secret), "the password never appears in the log:\n\(text)")
    }

    /// A capture that cannot reach PostgreSQL fails with a stable, retriable code after its
    /// reconnects; neither its log nor its error shows the password (keyword DSN form).
    @Test(.timeLimit(.minutes(15)))
    func unreachableDatabaseFailsWithACodeAndNoPassword() async throws {
        let n = Names()
        defer { PostgresCaptureTests.cleanUp(n) }
        var c = PostgresCaptureTests.configuration(n, snapshot: .never)
        c.dsn = "host=127.0.0.1 port=1 user=postgres password=\(Self.secret) dbname=app connect_timeout=1"
        c.reconnectAttempts = 1
        let logs = LogCollector()
        let capture = PostgresCapture(configuration: c, kafka: KafkaTestSupport.kafka, logger: logs.logger)
        let group = ServiceGroup(configuration: .init(services: [CaptureService(capture, logger: logs.logger)], logger: logs.logger))
        let error = await #expect(throws: CaptureError.self) { try await group.run() }
        #expect(error?.code == .connectionFailed && error?.isRetriable == true)
        #expect(!"\(String(describing: error))".contains(Self.secret))
        if case .failed = capture.lifecycle.state {} else { Issue.record("state \(capture.lifecycle.state)") }
        let text = logs.text
        #expect(text.contains("reconnecting") && text.contains("capture failed"), "\(text)")
        #expect(text.contains("password=***"), "\(text)")
        #expect(!text.contains(Self.secret), "the password never appears in the log:\n\(text)")
    }
}
