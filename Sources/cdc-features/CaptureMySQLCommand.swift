import ArgumentParser
import Foundation
import StreamKitCapture
import StreamKitMySQL

/// `--dsn`: the MariaDB/MySQL database of a command (`@OptionGroup var mysql: MySQLOptions`).
struct MySQLOptions: ParsableArguments {
    @Option(help: "MariaDB/MySQL URL mysql://user:password@host:port/database (default: $MYSQL_DSN, else mysql://cdc:cdc@127.0.0.1:13306/app).")
    var dsn: String?

    var address: String { dsn ?? ProcessInfo.processInfo.environment["MYSQL_DSN"] ?? "mysql://cdc:cdc@127.0.0.1:13306/app" }

    func parsed() throws -> MySQLDSN {
        do { return try MySQLDSN(parsing: address) } catch { throw ValidationError("--dsn: \(error.captureMessage)") }
    }
}

struct CaptureMySQL: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mysql",
        abstract: "Log-based MariaDB/MySQL capture (the binlog, read as a replica) → one Kafka topic per table. Runs until SIGTERM/SIGINT.")
    @OptionGroup var mysql: MySQLOptions
    @Option(name: .customLong("topic-prefix"), help: "Topics are <prefix>.<db>.<table>.") var topicPrefix: String = "cdc"
    @Option(help: "Tables to capture, comma separated (db.table or table in the DSN's database); default: all tables outside the system databases.") var tables: String?
    @Option(help: "initial: read existing rows first (op r) when there is no saved position; never: only new changes.") var snapshot: String = "initial"
    @Option(name: .customLong("server-id"), help: "Replica server id for reading the binlog (unique per reader of the server).") var serverID: UInt32 = 5401
    @Option(name: .customLong("decimal-handling"), help: "DECIMAL values: precise (JSON number with every digit), double, string.") var decimalHandling: String = "precise"
    @OptionGroup var kafkaOptions: KafkaOptions
    @Option(name: .customLong("state-file"), help: "The capture's own position (default capture-mysql-<server id>.state.json).") var stateFile: String?
    @OptionGroup var events: CaptureEventOptions
    @Option(name: .customLong("signal-table"), help: "Signal table for incremental snapshots (db.table or table in the DSN's database; created when missing; the capture user needs INSERT, DELETE on it); 'none' disables signals.") var signalTable: String = "streamkit_signal"
    @Option(name: .customLong("chunk-size"), help: "Rows per incremental-snapshot chunk.") var chunkSize: Int = 1024
    @OptionGroup var observability: ObservabilityOptions

    func run() async throws {
        let obs = try observability.start(command: "capture.mysql")
        defer { obs.stop() }
        guard let mode = MySQLSnapshotMode(rawValue: snapshot) else { throw ValidationError("--snapshot must be initial or never") }
        guard let decimals = MySQLDecimalHandling(rawValue: decimalHandling) else {
            throw ValidationError("--decimal-handling must be precise, double or string")
        }
        var kafka = try kafkaOptions.configuration()
        kafka.logger = obs.logger
        let dsn = try mysql.parsed()
        var c = MySQLCaptureConfiguration(dsn: dsn, topicPrefix: topicPrefix, stateFile: stateFile ?? "capture-mysql-\(serverID).state.json")
        c.tables = tables.map { CaptureEventOptions.list($0) }
        c.snapshot = mode
        c.serverID = serverID
        c.decimalHandling = decimals
        c.tombstonesOnDelete = !events.noTombstones
        c.excludedColumns = events.excluded
        c.maskedColumns = events.masked
        c.messageKeyColumns = try events.keyColumns(defaultSchema: dsn.database)
        c.skippedOperations = try events.skippedOperations()
        c.transactionMetadata = events.transactionMetadata
        c.heartbeatInterval = events.heartbeatInterval
        c.heartbeatActionQuery = events.heartbeatQuery
        c.reconnectAttempts = max(0, events.reconnectAttempts)
        c.producerLinger = try events.linger()
        c.signalTable = signalTable == "none" ? nil : signalTable
        guard chunkSize > 0 else { throw ValidationError("--chunk-size must be positive") }
        c.incrementalChunkSize = chunkSize
        let capture = MySQLCapture(configuration: c, kafka: kafka, logger: obs.logger)
        try await runCaptureService(capture, status: CaptureDefaults.statusFile(c.stateFile), logger: obs.logger)
    }
}
