import ArgumentParser
import Dispatch
import Foundation
import StreamKit
import Synchronization
import Logging
import StreamKitKafka
import StreamKitCapture
import StreamKitPostgres

struct CaptureTrigger: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trigger",
        abstract: "Trigger-based PostgreSQL capture (no logical replication needed): triggers write a change log, published → one Kafka topic per table, then deleted. Runs until SIGTERM/SIGINT.")
    @OptionGroup var postgres: PostgresOptions
    @Option(help: "Tables to capture, comma separated (schema.table or table).") var tables: String
    @Option(name: .customLong("topic-prefix"), help: "Topics are <prefix>.<schema>.<table>.") var topicPrefix: String = "cdc"
    @Option(name: .customLong("change-log"), help: "The change-log table the triggers write to.") var changeLog: String = "public.streamkit_change_log"
    @OptionGroup var kafkaOptions: KafkaOptions
    @Option(name: .customLong("state-file"), help: "Where the capture's metrics are written (<state-file>.status.json); the position itself is the change log. Default: capture-trigger.state.json.") var stateFile: String?
    @Option(name: .customLong("batch-size"), help: "Change-log rows per batch.") var batchSize: Int = 1_000
    @Option(name: .customLong("message-key-columns"), help: "Kafka key columns per table instead of the primary key (Debezium's message.key.columns): schema.table:col1,col2;schema.other:col. A table without a primary key or an entry has a null key.") var messageKeyColumns: String?
    @Flag(name: .customLong("no-tombstones"), help: "Do not send a tombstone after each delete.") var noTombstones = false
    @Option(name: .customLong("reconnect-attempts"), help: "Consecutive failed reconnects to PostgreSQL before giving up (the wait doubles from 0.5 s to 10 s).") var reconnectAttempts: Int = 60

    @OptionGroup var observability: ObservabilityOptions

    func run() async throws {
        let obs = try observability.start(command: "capture.trigger")
        defer { obs.stop() }
        let list = tables.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !list.isEmpty else { throw ValidationError("--tables must name at least one table") }
        var kafka = try kafkaOptions.configuration()
        kafka.logger = obs.logger
        var c = TriggerCaptureConfiguration(dsn: postgres.address, tables: list, topicPrefix: topicPrefix)
        c.changeLog = changeLog
        c.batchSize = batchSize
        c.tombstonesOnDelete = !noTombstones
        c.reconnectAttempts = max(0, reconnectAttempts)
        do { c.messageKeyColumns = try MessageKeyColumns(parsing: messageKeyColumns ?? "", defaultSchema: "public") } catch {
            throw ValidationError("--message-key-columns: \(error.captureMessage)")
        }
        let logger = obs.logger
        let capture = TriggerCapture(configuration: c, kafka: kafka, logger: logger)
        let status = CaptureDefaults.statusFile(stateFile ?? "capture-trigger.state.json")
        try await runCaptureService(capture, status: status, logger: logger)
    }
}

struct CapturePolling: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "polling",
        abstract: "Polling capture of one table on an updated_at (or version) column → a Kafka topic. Sees no deletes, only the latest state per poll. Runs until SIGTERM/SIGINT.")
    @OptionGroup var postgres: PostgresOptions
    @Option(help: "The table (schema.table or table); without a primary key its events have a null key.") var table: String
    @Option(help: "The column that moves forward on every change (timestamp, timestamptz, date or integer).") var column: String = "updated_at"
    @Option(name: .customLong("topic-prefix"), help: "The topic is <prefix>.<schema>.<table>.") var topicPrefix: String = "cdc"
    @OptionGroup var kafkaOptions: KafkaOptions
    @Option(name: .customLong("state-file"), help: "The capture's position (default capture-poll-<table>.state.json).") var stateFile: String?
    @Option(help: "Pause between polls (e.g. 500ms, 1s).") var interval: Duration = .seconds(1)
    @Option(name: .customLong("safety-margin"), help: "Overlap re-read on every poll for late commits (timestamp columns, e.g. 5s).") var safetyMargin: Duration = .seconds(5)
    @Option(name: .customLong("version-margin"), help: "Overlap re-read on every poll, in version units (integer columns).") var versionMargin: Int64 = 1_000
    @Option(name: .customLong("batch-size"), help: "Rows per query.") var batchSize: Int = 1_000
    @Option(name: .customLong("reconnect-attempts"), help: "Consecutive failed reconnects to PostgreSQL before giving up (the wait doubles from 0.5 s to 10 s).") var reconnectAttempts: Int = 60
    @Option(name: .customLong("message-key-columns"), help: "Kafka key columns per table instead of the primary key (Debezium's message.key.columns): schema.table:col1,col2;schema.other:col. A table without a primary key or an entry has a null key.") var messageKeyColumns: String?

    @OptionGroup var observability: ObservabilityOptions

    func run() async throws {
        let obs = try observability.start(command: "capture.polling")
        defer { obs.stop() }
        var kafka = try kafkaOptions.configuration()
        kafka.logger = obs.logger
        var c = PollingCaptureConfiguration(dsn: postgres.address, table: table, column: column, topicPrefix: topicPrefix,
                                            stateFile: stateFile ?? "capture-poll-\(table).state.json")
        c.interval = interval
        c.safetyMargin = safetyMargin
        c.versionSafetyMargin = versionMargin
        c.batchSize = batchSize
        c.reconnectAttempts = max(0, reconnectAttempts)
        do { c.messageKeyColumns = try MessageKeyColumns(parsing: messageKeyColumns ?? "", defaultSchema: "public") } catch {
            throw ValidationError("--message-key-columns: \(error.captureMessage)")
        }
        let logger = obs.logger
        let capture = PollingCapture(configuration: c, kafka: kafka, logger: logger)
        try await runCaptureService(capture, status: CaptureDefaults.statusFile(c.stateFile), logger: logger)
    }
}
