import Foundation
import Testing
import StreamKit
import StreamKitTesting
import StreamKitKafka
import StreamKitCapture
import StreamKitMySQL

/// The MySQL capture against a private MariaDB (its own directory and port, started with
/// `scripts/services`) that the tests restart and purge: reconnects with backoff after a server
/// restart without loss or duplicates, and a purged binlog position is a clear error.
@Suite(.serialized, .enabled(if: MySQLTestSupport.runnable, "no MariaDB or Kafka reachable (scripts/services up)"))
struct MySQLCaptureRecoveryTests {
    typealias S = MySQLTestSupport

    /// A private MariaDB instance.
    struct Instance {
        let instance = "mariadb-test-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        /// Below Linux's ephemeral range (32768–60999), so no outgoing connection holds it.
        private(set) var port = Int.random(in: 20_000...29_999)
        var adminDSN: String { "mysql://streamkit:streamkit@127.0.0.1:\(port)/app" }
        var captureDSN: String { "mysql://cdc:cdc@127.0.0.1:\(port)/app" }

        init() throws {
            // Another test's server may take the port first: try a few.
            var attempt = 0
            while true {
                do { try services("up", "mariadb"); return } catch let e as StreamKitError where e.message.contains("Address already in use") && attempt < 4 {
                    attempt += 1
                    port = Int.random(in: 20_000...29_999)
                }
            }
        }

        static var root: URL {
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        }

        func services(_ arguments: String...) throws {
            // The script leaves a daemon running: DaemonScript waits for the script alone.
            var env = ProcessInfo.processInfo.environment
            env["STREAMKIT_MY_INSTANCE"] = instance
            env["MYSQL_PORT"] = String(port)
            try DaemonScript.run(Self.root.appendingPathComponent("scripts/services").path, arguments, environment: env)
        }

        func admin() throws -> MySQLConnection { try MySQLConnection(dsn: MySQLDSN(parsing: adminDSN)) }

        func remove() {
            try? services("down", "mariadb")
            try? FileManager.default.removeItem(at: Self.root.appendingPathComponent(".services/\(instance)"))
        }
    }

    static func configuration(_ n: S.Names, _ db: Instance) throws -> MySQLCaptureConfiguration {
        var c = MySQLCaptureConfiguration(dsn: try MySQLDSN(parsing: db.captureDSN), topicPrefix: n.prefix, stateFile: n.stateFile)
        c.tables = [n.table]
        c.snapshot = .never
        c.serverID = n.serverID
        c.confirmInterval = .milliseconds(50)
        return c
    }

    static func ids(_ n: S.Names) throws -> [Int] {
        try captureEvents(n.topic).compactMap { ($0.after?["id"] as? NSNumber)?.intValue }
    }

    @Test(.timeLimit(.minutes(15)))
    func mariadbRestartIsRetriedWithoutLossOrDuplicates() async throws {
        let db = try Instance()
        defer { db.remove() }
        let n = S.Names()
        defer { S.cleanUp(n) }
        try db.admin().execute("CREATE TABLE \(n.table)(id INT PRIMARY KEY, v INT)")
        let running = CaptureRun<MySQLCapture>(try Self.configuration(n, db))
        try await waitUntil(timeout: .seconds(120), failed: { running.failed }) { running.capture.lifecycle.state == .streaming }
        let sql = try db.admin()
        for i in 1...500 { try sql.execute("INSERT INTO \(n.table) VALUES (\(i), 1)") }
        try await waitFor(.seconds(300), running) { try Self.ids(n).count == 500 }
        try db.services("restart", "mariadb")
        let again = try db.admin()
        for i in 501...1000 { try again.execute("INSERT INTO \(n.table) VALUES (\(i), 2)") }
        try await waitFor(.seconds(300), running) { Set(try Self.ids(n)).count == 1000 }
        try await Task.sleep(for: .milliseconds(300))
        try running.stop()
        let ids = try Self.ids(n)
        #expect(Set(ids) == Set(1...1000), "nothing lost across the restart")
        #expect(ids.count == 1000, "nothing published twice (\(ids.count - 1000) duplicates)")
        #expect(running.capture.metrics.reconnects.load(ordering: .relaxed) >= 1, "the capture reconnected")
    }

    @Test(.timeLimit(.minutes(15)))
    func purgedBinlogPositionIsAClearError() async throws {
        let db = try Instance()
        defer { db.remove() }
        let n = S.Names()
        defer { S.cleanUp(n) }
        let sql = try db.admin()
        try sql.execute("CREATE TABLE \(n.table)(id INT PRIMARY KEY, v INT)")
        let first = CaptureRun<MySQLCapture>(try Self.configuration(n, db))
        try await waitUntil(timeout: .seconds(120), failed: { first.failed }) { first.capture.lifecycle.state == .streaming }
        try sql.execute("INSERT INTO \(n.table) VALUES (1, 1)")
        try await waitFor(.seconds(300), first) { try Self.ids(n).count == 1 }
        try first.stop()
        // Changes while the capture is down, then their binlog is purged.
        try sql.execute("INSERT INTO \(n.table) VALUES (2, 1)")
        try sql.execute("FLUSH BINARY LOGS")
        let current = try sql.query("SHOW BINARY LOGS").last?.first.flatMap { $0 } ?? ""
        // A binlog can be purged once InnoDB checkpointed its transactions: retry until it is gone.
        try await waitUntil(timeout: .seconds(120), every: .milliseconds(200)) {
            try sql.execute("PURGE BINARY LOGS TO '\(current)'")
            return try sql.query("SHOW BINARY LOGS").count == 1
        }
        var c = try Self.configuration(n, db)
        c.reconnectAttempts = 0
        let second = CaptureRun<MySQLCapture>(c)
        let error = try #require(await {
            try await waitUntil(timeout: .seconds(120)) { second.failed != nil }
            return second.failed
        }())
        let message = "\(error)"
        #expect(message.contains("purged") && message.contains("--snapshot initial"), "the error names the recovery: \(message)")
        #expect(try Self.ids(n) == [1], "nothing published past the purged gap")
    }
}

/// The MySQL capture never logs or throws its password: a refused login and a streaming run,
/// logged at trace level.
@Suite(.serialized, .enabled(if: MySQLTestSupport.runnable, "no MariaDB or Kafka reachable (scripts/services up)"))
struct MySQLCaptureSecretsTests {
    @Test(.timeLimit(.minutes(15)))
    func passwordNeverLoggedOrThrown() async throws {
        let secret = "my-S3cr3t-\(UInt32.random(in: 0...UInt32.max))"
        let n = MySQLTestSupport.Names()
        defer { MySQLTestSupport.cleanUp(n) }
        let store = CapturingLogHandlerStore()
        let admin = try MySQLTestSupport.admin()
        let user = "cdc_\(n.suffix)"
        try admin.execute("CREATE USER '\(user)'@'127.0.0.1' IDENTIFIED BY '\(secret)'")
        defer { try? admin.execute("DROP USER '\(user)'@'127.0.0.1'") }
        try admin.execute("GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO '\(user)'@'127.0.0.1'")
        try admin.execute("CREATE TABLE \(n.table)(id INT PRIMARY KEY)")
        let address = Services.address(inURL: MySQLTestSupport.adminDSN, defaultPort: 3306)
        // A refused login (wrong password) fails with the DSN redacted.
        var wrong = try MySQLCaptureConfiguration(dsn: MySQLDSN(parsing: "mysql://\(user):\(secret)x@\(address)/app"), topicPrefix: n.prefix,
                                                  stateFile: n.stateFile)
        wrong.reconnectAttempts = 0
        var logger = store.logger("test.mysql")
        logger.logLevel = .trace
        let refused = MySQLCapture(configuration: wrong, kafka: KafkaTestSupport.kafka, logger: logger)
        #expect(throws: (any Error).self) { try refused.run(until: { false }) }
        do { try refused.run(until: { false }) } catch { #expect(!"\(error)".contains(secret)) }
        // A working run.
        var right = try MySQLCaptureConfiguration(dsn: MySQLDSN(parsing: "mysql://\(user):\(secret)@\(address)/app"), topicPrefix: n.prefix,
                                                  stateFile: n.stateFile)
        right.tables = [n.table]; right.serverID = n.serverID
        let running = CaptureRun(MySQLCapture(configuration: right, kafka: KafkaTestSupport.kafka, logger: logger))
        try await waitUntil(timeout: .seconds(120), failed: { running.failed }) { running.capture.lifecycle.state == .streaming }
        try admin.execute("INSERT INTO \(n.table) VALUES (1)")
        try await waitFor(.seconds(300), running) { (try? captureEvents(n.topic).count) == 1 }
        try running.stop()
        let text = store.all
        #expect(text.contains("***") && text.contains(user), "the DSN is logged redacted")
        #expect(!text.contains(secret), "the password never reaches a log line")
    }
}
