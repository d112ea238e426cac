import ArgumentParser
import Dispatch
import Foundation
import StreamKit
import Synchronization
import Logging
import StreamKitKafka
import StreamKitPostgres

/// Capture command durations: `1s`, `0.5s`, `500ms`, `2m` or a number of seconds.
func parseCaptureDuration(_ text: String) throws -> Duration {
    let t = text.trimmingCharacters(in: .whitespaces)
    if t.hasSuffix("ms"), let v = Int64(t.dropLast(2)) { return .milliseconds(v) }
    if t.hasSuffix("s"), let v = Double(t.dropLast()) { return .milliseconds(Int64(v * 1000)) }
    if t.hasSuffix("m"), let v = Double(t.dropLast()) { return .milliseconds(Int64(v * 60_000)) }
    if let v = Double(t) { return .milliseconds(Int64(v * 1000)) }
    throw ValidationError("cannot read the duration \(text) (use e.g. 500ms, 1s, 2m)")
}

struct CaptureTrigger: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trigger",
        abstract: "Trigger-based PostgreSQL capture (no logical replication needed): triggers write a change log, published → one Kafka topic per table, then deleted. Runs until SIGTERM/SIGINT.")
    @Option(help: "PostgreSQL URL or conninfo (default $PG_DSN or postgresql://postgres@127.0.0.1:15432/app).") var dsn: String?
    @Option(help: "Tables to capture, comma separated (schema.table or table).") var tables: String
    @Option(name: .customLong("topic-prefix"), help: "Topics are <prefix>.<schema>.<table>.") var topicPrefix: String = "cdc"
    @Option(name: .customLong("change-log"), help: "The change-log table the triggers write to.") var changeLog: String = "public.streamkit_change_log"
    @Option(help: "Bootstrap servers (default $KAFKA_BROKERS or 127.0.0.1:19092).") var brokers: String?
    @Option(name: .customLong("state-file"), help: "Where the capture's metrics are written (<state-file>.status.json); the position itself is the change log. Default: capture-trigger.state.json.") var stateFile: String?
    @Option(name: .customLong("batch-size"), help: "Change-log rows per batch.") var batchSize: Int = 1_000
    @Flag(name: .customLong("no-tombstones"), help: "Do not send a tombstone after each delete.") var noTombstones = false

    func run() async throws {
        let list = tables.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !list.isEmpty else { throw ValidationError("--tables must name at least one table") }
        let kafka = try kafkaConfiguration(brokers ?? ServiceDefaults.brokers)
        var c = TriggerCaptureConfiguration(dsn: dsn ?? CaptureDefaults.dsn, tables: list, topicPrefix: topicPrefix)
        c.changeLog = changeLog
        c.batchSize = batchSize
        c.tombstonesOnDelete = !noTombstones
        let logger = Logger(label: "streamkit.capture.trigger")
        let capture = TriggerCapture(configuration: c, kafka: kafka, logger: logger)
        let status = CaptureDefaults.statusFile(stateFile ?? "capture-trigger.state.json")
        try await runCaptureService(capture, status: status, logger: logger)
    }
}

struct CapturePolling: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "polling",
        abstract: "Polling capture of one table on an updated_at (or version) column → a Kafka topic. Sees no deletes, only the latest state per poll. Runs until SIGTERM/SIGINT.")
    @Option(help: "PostgreSQL URL or conninfo (default $PG_DSN or postgresql://postgres@127.0.0.1:15432/app).") var dsn: String?
    @Option(help: "The table (schema.table or table); it needs a primary key.") var table: String
    @Option(help: "The column that moves forward on every change (timestamp, timestamptz, date or integer).") var column: String = "updated_at"
    @Option(name: .customLong("topic-prefix"), help: "The topic is <prefix>.<schema>.<table>.") var topicPrefix: String = "cdc"
    @Option(help: "Bootstrap servers (default $KAFKA_BROKERS or 127.0.0.1:19092).") var brokers: String?
    @Option(name: .customLong("state-file"), help: "The capture's position (default capture-poll-<table>.state.json).") var stateFile: String?
    @Option(help: "Pause between polls (e.g. 500ms, 1s).") var interval: String = "1s"
    @Option(name: .customLong("safety-margin"), help: "Overlap re-read on every poll for late commits (timestamp columns, e.g. 5s).") var safetyMargin: String = "5s"
    @Option(name: .customLong("version-margin"), help: "Overlap re-read on every poll, in version units (integer columns).") var versionMargin: Int64 = 1_000
    @Option(name: .customLong("batch-size"), help: "Rows per query.") var batchSize: Int = 1_000

    func run() async throws {
        let kafka = try kafkaConfiguration(brokers ?? ServiceDefaults.brokers)
        var c = PollingCaptureConfiguration(dsn: dsn ?? CaptureDefaults.dsn, table: table, column: column, topicPrefix: topicPrefix,
                                            stateFile: stateFile ?? "capture-poll-\(table).state.json")
        c.interval = try parseCaptureDuration(interval)
        c.safetyMargin = try parseCaptureDuration(safetyMargin)
        c.versionSafetyMargin = versionMargin
        c.batchSize = batchSize
        let logger = Logger(label: "streamkit.capture.polling")
        let capture = PollingCapture(configuration: c, kafka: kafka, logger: logger)
        try await runCaptureService(capture, status: CaptureDefaults.statusFile(c.stateFile), logger: logger)
    }
}
