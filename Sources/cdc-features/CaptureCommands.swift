import ArgumentParser
import Dispatch
import Foundation
import Logging
import ServiceLifecycle
import StreamKit
import Synchronization
import StreamKitJSON
import StreamKitDebezium
import StreamKitKafka
import StreamKitCapture
import StreamKitPostgres
import StreamKitMySQL

struct Capture: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Change data capture into Kafka (Debezium-compatible events).",
        subcommands: [CapturePostgres.self, CaptureMySQL.self, CaptureStatus.self, CaptureSchemas.self, CaptureSnapshot.self, CaptureTrigger.self, CapturePolling.self])
}

enum CaptureDefaults {
    static func stateFile(slot: String) -> String { "capture-\(slot).state.json" }
    static func statusFile(_ stateFile: String) -> String { stateFile + ".status.json" }
}

struct CapturePostgres: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postgres",
        abstract: "Log-based PostgreSQL capture (logical replication, pgoutput) → one Kafka topic per table. Runs until SIGTERM/SIGINT.")
    @OptionGroup var postgres: PostgresOptions
    @Option(help: "Replication slot (created when missing).") var slot: String = "streamkit"
    @Option(help: "Publication (created when missing).") var publication: String = "streamkit"
    @Option(name: .customLong("topic-prefix"), help: "Topics are <prefix>.<schema>.<table>.") var topicPrefix: String = "cdc"
    @Option(help: "Tables to capture, comma separated (schema.table or table); default: all tables.") var tables: String?
    @Option(help: "initial: read existing rows first (op r); never: only new changes.") var snapshot: String = "initial"
    @OptionGroup var kafkaOptions: KafkaOptions
    @Option(name: .customLong("state-file"), help: "The capture's own position (default capture-<slot>.state.json).") var stateFile: String?
    @OptionGroup var events: CaptureEventOptions
    @Option(name: .customLong("signal-table"), help: "Signal table for incremental snapshots (created when missing, added to the publication); 'none' disables signals.") var signalTable: String = "public.streamkit_signal"
    @Option(name: .customLong("chunk-size"), help: "Rows per incremental-snapshot chunk.") var chunkSize: Int = 1024

    @OptionGroup var observability: ObservabilityOptions

    func run() async throws {
        let obs = try observability.start(command: "capture.postgres")
        defer { obs.stop() }
        guard let mode = PostgresSnapshotMode(rawValue: snapshot) else {
            throw ValidationError("--snapshot must be initial or never")
        }
        var kafka = try kafkaOptions.configuration()
        kafka.logger = obs.logger
        var c = PostgresCaptureConfiguration(dsn: postgres.address, slot: slot, publication: publication,
                                             topicPrefix: topicPrefix, stateFile: stateFile ?? CaptureDefaults.stateFile(slot: slot))
        c.tables = tables.map { CaptureEventOptions.list($0) }
        c.snapshot = mode
        c.tombstonesOnDelete = !events.noTombstones
        c.excludedColumns = events.excluded
        c.maskedColumns = events.masked
        c.messageKeyColumns = try events.keyColumns(defaultSchema: "public")
        c.skippedOperations = try events.skippedOperations()
        c.transactionMetadata = events.transactionMetadata
        c.heartbeatInterval = events.heartbeatInterval
        c.heartbeatActionQuery = events.heartbeatQuery
        c.reconnectAttempts = max(0, events.reconnectAttempts)
        c.signalTable = signalTable == "none" ? nil : signalTable
        guard chunkSize > 0 else { throw ValidationError("--chunk-size must be positive") }
        c.incrementalChunkSize = chunkSize
        c.producerLinger = try events.linger()
        let logger = obs.logger
        let capture = PostgresCapture(configuration: c, kafka: kafka, logger: logger)
        try await runCaptureService(capture, status: CaptureDefaults.statusFile(c.stateFile), logger: logger)
    }
}

/// Runs a capture as a `Service` in a `ServiceGroup` until SIGTERM/SIGINT (then it stops
/// gracefully: stops streaming, flushes Kafka, confirms its position), writing its metrics to
/// `statusPath` every second; prints them at the end and rethrows its failure.
func runCaptureService(_ capture: some ChangeCapture, status statusPath: String, logger: Logger) async throws {
    let service = CaptureService(capture, statusPath: statusPath, logger: logger)
    // A capture that returns on its own (asked to stop) ends the group cleanly; one that throws fails it.
    let group = ServiceGroup(configuration: .init(
        services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
        gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    try await group.run()
    print(capture.metricsJSON())
}

struct CaptureSnapshot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Asks a running log-based capture to snapshot tables again while it keeps streaming (an execute-snapshot row in its signal table, as Debezium's signalling). Prints the signal id.")
    @OptionGroup var postgres: PostgresOptions
    @Option(help: "Tables to snapshot, comma separated (schema.table or table); they must be tables of the capture.") var tables: String
    @Option(name: .customLong("signal-table"), help: "The capture's signal table (default: public.streamkit_signal; --source mysql: streamkit_signal).") var signalTable: String?
    @Option(help: "postgres or mysql.") var source: String = "postgres"
    @Option(name: .customLong("mysql-dsn"), help: "--source mysql: an account allowed to insert into the signal table (default: $MYSQL_ADMIN_DSN, else mysql://streamkit:streamkit@127.0.0.1:13306/app).") var mysqlDSN: String?

    func run() throws {
        let list = tables.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !list.isEmpty else { throw ValidationError("--tables must name at least one table") }
        if source == "mysql" || source == "mariadb" {
            let dsn = mysqlDSN ?? ProcessInfo.processInfo.environment["MYSQL_ADMIN_DSN"] ?? "mysql://streamkit:streamkit@127.0.0.1:13306/app"
            let sql = try MySQLConnection(dsn: MySQLDSN(parsing: dsn))
            print(try MySQLCapture.requestSnapshot(of: list, on: sql, signalTable: signalTable ?? "streamkit_signal"))
            return
        }
        guard source == "postgres" || source == "postgresql" else { throw ValidationError("--source must be postgres or mysql") }
        let signalTable = self.signalTable ?? "public.streamkit_signal"
        let sql = try PostgresConnection(dsn: postgres.address)
        let id = try PostgresCapture.requestSnapshot(of: list, on: sql, signalTable: signalTable)
        print(id)
    }
}

struct CaptureStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Positions, slot (or binlog) lag and throughput of a capture (JSON).")
    @Option(help: "postgres or mysql.") var source: String = "postgres"
    @Option(name: .customLong("mysql-dsn"), help: "--source mysql: the capture's database (default: $MYSQL_DSN, else mysql://cdc:cdc@127.0.0.1:13306/app).") var mysqlDSN: String?
    @OptionGroup var postgres: PostgresOptions
    @Option(help: "Replication slot.") var slot: String = "streamkit"
    @Option(name: .customLong("state-file"), help: "The capture's state file (default capture-<slot>.state.json).") var stateFile: String?

    func run() throws {
        if source == "mysql" || source == "mariadb" { return try mysqlStatus() }
        guard source == "postgres" || source == "postgresql" else { throw ValidationError("--source must be postgres or mysql") }
        let path = stateFile ?? CaptureDefaults.stateFile(slot: slot)
        let sql = try PostgresConnection(dsn: postgres.address)
        let r = try sql.execute("""
            SELECT active, confirmed_flush_lsn::text, restart_lsn::text, (pg_current_wal_lsn() - restart_lsn)::bigint,
                   (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint, pg_current_wal_lsn()::text
            FROM pg_replication_slots WHERE slot_name = $1
            """, [slot])
        var w = JSONWriter()
        w.beginObject()
        w.field("slot", slot)
        if let row = r.rows.first {
            w.field("exists", true)
            w.field("active", row[0] == "t")
            w.field("confirmed_flush_lsn", row[1] ?? "")
            w.field("restart_lsn", row[2] ?? "")
            w.field("slot_lag_bytes", Int64(row[3] ?? "") ?? -1)
            w.field("confirmed_lag_bytes", Int64(row[4] ?? "") ?? -1)
            w.field("current_wal_lsn", row[5] ?? "")
        } else {
            w.field("exists", false)
        }
        if let data = FileManager.default.contents(atPath: path),
           let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {  // cold path: a status command
            w.key("state")
            w.beginObject()
            if let lsn = obj["lsn"] as? UInt64 { w.field("published_lsn", PgOutput.format(lsn)) }
            if let done = obj["snapshotDone"] as? Bool { w.field("snapshot_done", done) }
            w.endObject()
        }
        if let status = FileManager.default.contents(atPath: CaptureDefaults.statusFile(path)) {
            w.key("capture")
            status.withUnsafeBytes { w.rawValue($0) }
        }
        w.endObject()
        print(String(decoding: w.bytes, as: UTF8.self))
    }
}

extension CaptureStatus {
    /// `--source mysql`: the server's binlog position, the capture's saved position (GTID state,
    /// file/pos, snapshot done) and its metrics.
    func mysqlStatus() throws {
        guard let path = stateFile else { throw ValidationError("--source mysql needs --state-file (the capture's --state-file)") }
        let dsn = try MySQLDSN(parsing: mysqlDSN ?? ProcessInfo.processInfo.environment["MYSQL_DSN"] ?? "mysql://cdc:cdc@127.0.0.1:13306/app")
        let sql = try MySQLConnection(dsn: dsn)
        let binlog = try sql.query("SHOW BINLOG STATUS").first ?? []
        let gtids = try sql.query("SELECT @@global.gtid_binlog_pos").first?.first ?? nil
        var w = JSONWriter()
        w.beginObject()
        w.field("binlog_file", binlog.first.flatMap { $0 } ?? "")
        w.field("binlog_position", Int64(binlog.count > 1 ? binlog[1] ?? "" : "") ?? -1)
        w.field("gtid_binlog_pos", gtids ?? "")
        if let data = FileManager.default.contents(atPath: path),
           let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {   // cold path: a status command
            w.key("state")
            w.beginObject()
            w.field("gtids", obj["gtids"] as? String ?? "")
            w.field("file", obj["file"] as? String ?? "")
            w.field("position", (obj["position"] as? NSNumber)?.int64Value ?? 0)
            w.field("snapshot_done", obj["snapshotDone"] as? Bool ?? false)
            w.endObject()
        }
        if let status = FileManager.default.contents(atPath: CaptureDefaults.statusFile(path)) {
            w.key("capture")
            status.withUnsafeBytes { w.rawValue($0) }
        }
        w.endObject()
        print(String(decoding: w.bytes, as: UTF8.self))
    }
}

struct CaptureSchemas: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schemas",
        abstract: "The schema registry of a capture: every version of each table's columns (JSON lines).")
    @Option(name: .customLong("topic-prefix"), help: "The capture's topic prefix.") var topicPrefix: String = "cdc"
    @Option(help: "Only this table (schema.table).") var table: String?
    @OptionGroup var kafkaOptions: KafkaOptions

    func run() throws {
        let kafka = try kafkaOptions.configuration()
        for v in try PostgresSchemaHistory.read(prefix: topicPrefix, kafka: kafka) where table == nil || table == "\(v.schema).\(v.table)" {
            print(String(decoding: v.json(), as: UTF8.self))
        }
    }
}

struct BenchCapture: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Capture throughput (N inserted rows → acknowledged by Kafka, next to pg_recvlogical / mariadb-binlog on the same log and a raw produce) and commit → Kafka latency under a steady load.")
    @Option(help: "postgres or mysql.") var source: String = "postgres"
    @Option(help: "Rows inserted (in transactions of 10 000) before the capture starts.") var rows: Int = 200_000
    @Option(help: "Steady load for the latency phase, changes per second (0: skip the phase).") var rate: Int = 20_000
    @Option(help: "Seconds of steady load.") var seconds: Int = 5
    @OptionGroup var postgres: PostgresOptions
    @Option(name: .customLong("mysql-dsn"), help: "--source mysql: an account that may create tables and read the binlog (default: $MYSQL_ADMIN_DSN, else mysql://streamkit:streamkit@127.0.0.1:13306/app).") var mysqlDSN: String?
    @OptionGroup var kafkaOptions: KafkaOptions
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        switch source {
        case "postgres", "postgresql": try runPostgres()
        case "mysql", "mariadb":
            let dsn = mysqlDSN ?? ProcessInfo.processInfo.environment["MYSQL_ADMIN_DSN"] ?? "mysql://streamkit:streamkit@127.0.0.1:13306/app"
            try MySQLCaptureBench(rows: rows, rate: rate, seconds: seconds, dsn: dsn, kafka: try kafkaOptions.configuration(), json: json).run()
        default: throw ValidationError("--source must be postgres or mysql")
        }
    }

    func runPostgres() throws {
        let dsn = postgres.address
        let kafka = try kafkaOptions.configuration()
        let id = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let table = "bench_cap_\(id)", slot = "bench_cap_\(id)", recvSlot = "bench_recv_\(id)", publication = "bench_cap_\(id)"
        let prefix = "benchcap\(id)"
        let sql = try PostgresConnection(dsn: dsn)
        let stateFile = NSTemporaryDirectory() + "bench-capture-\(id).json"
        defer {
            _ = try? sql.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ('\(slot)', '\(recvSlot)')")
            _ = try? sql.execute("DROP PUBLICATION IF EXISTS \(publication); DROP TABLE IF EXISTS \(table)")
            _ = try? KafkaAdmin(configuration: kafka).deleteTopics(["\(prefix).public.\(table)"])
            try? FileManager.default.removeItem(atPath: stateFile)
        }
        try sql.execute("CREATE TABLE \(table)(id bigint PRIMARY KEY, user_id int, amount numeric(10,2), note text); CREATE PUBLICATION \(publication) FOR TABLE \(table)")
        try sql.execute("SELECT pg_create_logical_replication_slot('\(slot)', 'pgoutput'), pg_create_logical_replication_slot('\(recvSlot)', 'pgoutput')")
        var inserted = 0
        while inserted < rows {
            let n = min(10_000, rows - inserted)
            try sql.execute("INSERT INTO \(table) SELECT g, g % 1000, (g % 10000) / 100.0, 'row ' || g FROM generate_series(\(inserted + 1), \(inserted + n)) g")
            inserted += n
        }
        let endLSN = PgOutput.parseLSN(try sql.execute("SELECT pg_current_wal_lsn()::text").rows[0][0] ?? "") ?? 0

        // pg_recvlogical on the same WAL (its own slot), to the same end position.
        let recvStart = MonotonicClock.nanos()
        let recv = Process()
        recv.executableURL = URL(fileURLWithPath: "/usr/lib/postgresql/15/bin/pg_recvlogical")
        recv.arguments = ["-d", dsn, "--slot", recvSlot, "--start", "--no-loop", "--endpos", PgOutput.format(endLSN),
                          "-o", "proto_version=1", "-o", "publication_names=\(publication)", "-f", "/dev/null"]
        recv.standardError = FileHandle.nullDevice
        try recv.run()
        recv.waitUntilExit()
        let recvSeconds = Double(MonotonicClock.nanos() &- recvStart) / 1e9

        // The capture: from its slot until Kafka acknowledged every row.
        var c = PostgresCaptureConfiguration(dsn: dsn, slot: slot, publication: publication, topicPrefix: prefix, stateFile: stateFile)
        c.snapshot = .never
        c.confirmInterval = .milliseconds(20)
        // The slot exists: the capture only streams. Mark the state so it does not snapshot.
        let capture = PostgresCapture(configuration: c, kafka: kafka)
        let harness = CaptureBenchHarness(capture, metrics: capture.metrics)
        try harness.wait("every row acknowledged") {
            capture.metrics.changes.load(ordering: .relaxed) >= rows && capture.metrics.confirmedLSN.load(ordering: .relaxed) >= endLSN - 1
        }
        let captureSeconds = harness.elapsed
        let backlogP50 = capture.metrics.latencyMillis(percentile: 50)

        // Steady load: commit → acknowledged latency, a fresh histogram.
        var steadyRate = 0.0
        var latency = (p50: 0.0, p95: 0.0, p99: 0.0)
        if rate > 0 {
            let r = try harness.steadyLoad(rate: rate, seconds: seconds, firstRow: inserted, changesBefore: rows) { first, count in
                try sql.execute("INSERT INTO \(table) SELECT g, g % 1000, 1.5, 'steady' FROM generate_series(\(first), \(first + count - 1)) g")
            }
            steadyRate = r.rate
            latency = (r.p50, r.p95, r.p99)
        }
        try harness.finish()
        printFields([
            ("rows", "\(rows)"),
            ("seconds", String(format: "%.3f", captureSeconds)),
            ("changes_per_s", String(format: "%.0f", Double(rows) / captureSeconds)),
            ("pg_recvlogical_per_s", String(format: "%.0f", Double(rows) / recvSeconds)),
            ("pg_recvlogical_seconds", String(format: "%.3f", recvSeconds)),
            ("capture_p50_ms", String(format: "%.2f", latency.p50)),
            ("capture_p95_ms", String(format: "%.2f", latency.p95)),
            ("capture_p99_ms", String(format: "%.2f", latency.p99)),
            ("steady_changes_per_s", String(format: "%.0f", steadyRate)),
            ("receive_p50_ms", String(format: "%.2f", capture.metrics.receiveLatency.percentileMillis(50))),
            ("receive_p95_ms", String(format: "%.2f", capture.metrics.receiveLatency.percentileMillis(95))),
            ("backlog_commit_to_ack_p50_ms", String(format: "%.1f", backlogP50)),
        ], json: json)
    }
}
