import ArgumentParser
import Dispatch
import Foundation
import StreamKit
import Synchronization

struct Capture: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Change data capture into Kafka (Debezium-compatible events).",
        subcommands: [CapturePostgres.self, CaptureStatus.self])
}

enum CaptureDefaults {
    static var dsn: String { ProcessInfo.processInfo.environment["PG_DSN"] ?? "postgresql://postgres@127.0.0.1:15432/app" }
    static func stateFile(slot: String) -> String { "capture-\(slot).state.json" }
    static func statusFile(_ stateFile: String) -> String { stateFile + ".status.json" }
}

struct CapturePostgres: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postgres",
        abstract: "Log-based PostgreSQL capture (logical replication, pgoutput) → one Kafka topic per table. Runs until SIGTERM/SIGINT.")
    @Option(help: "PostgreSQL URL or conninfo (default $PG_DSN or postgresql://postgres@127.0.0.1:15432/app).") var dsn: String?
    @Option(help: "Replication slot (created when missing).") var slot: String = "streamkit"
    @Option(help: "Publication (created when missing).") var publication: String = "streamkit"
    @Option(name: .customLong("topic-prefix"), help: "Topics are <prefix>.<schema>.<table>.") var topicPrefix: String = "cdc"
    @Option(help: "Tables to capture, comma separated (schema.table or table); default: all tables.") var tables: String?
    @Option(help: "initial: read existing rows first (op r); never: only new changes.") var snapshot: String = "initial"
    @Option(help: "Bootstrap servers (default $KAFKA_BROKERS or 127.0.0.1:19092).") var brokers: String?
    @Option(name: .customLong("state-file"), help: "The capture's own position (default capture-<slot>.state.json).") var stateFile: String?
    @Flag(name: .customLong("no-tombstones"), help: "Do not send a tombstone after each delete.") var noTombstones = false

    func run() throws {
        guard let mode = PostgresSnapshotMode(rawValue: snapshot) else {
            throw ValidationError("--snapshot must be initial or never")
        }
        let kafka = try kafkaConfiguration(brokers ?? ServiceDefaults.brokers)
        var c = PostgresCaptureConfiguration(dsn: dsn ?? CaptureDefaults.dsn, slot: slot, publication: publication,
                                             topicPrefix: topicPrefix, stateFile: stateFile ?? CaptureDefaults.stateFile(slot: slot))
        c.tables = tables.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        c.snapshot = mode
        c.tombstonesOnDelete = !noTombstones
        let capture = PostgresCapture(configuration: c, kafka: kafka)
        let stop = Atomic<Bool>(false)
        let finished = DispatchSemaphore(value: 0)
        let failure = Mutex<Error?>(nil)
        let statusPath = CaptureDefaults.statusFile(c.stateFile)
        FileHandle.standardError.write(Data("capture: \(PostgresConnection.redact(c.dsn)) slot \(slot) publication \(publication) → \(topicPrefix).*\n".utf8))
        let thread = Thread {
            do { try capture.run(until: { stop.load(ordering: .relaxed) }) } catch { failure.withLock { $0 = error } }
            finished.signal()
        }
        thread.start()
        signal(SIGTERM, SIG_IGN); signal(SIGINT, SIG_IGN)
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            src.setEventHandler { stop.store(true, ordering: .relaxed) }
            src.resume(); sources.append(src)
        }
        while finished.wait(timeout: .now() + .seconds(1)) == .timedOut {
            try? capture.metrics.json().write(toFile: statusPath, atomically: true, encoding: .utf8)
        }
        try? capture.metrics.json().write(toFile: statusPath, atomically: true, encoding: .utf8)
        if let e = failure.withLock({ $0 }) { throw e }
        print(capture.metrics.json())
    }
}

struct CaptureStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Positions, slot lag and throughput of a capture (JSON).")
    @Option(help: "PostgreSQL URL or conninfo (default $PG_DSN).") var dsn: String?
    @Option(help: "Replication slot.") var slot: String = "streamkit"
    @Option(name: .customLong("state-file"), help: "The capture's state file (default capture-<slot>.state.json).") var stateFile: String?

    func run() throws {
        let path = stateFile ?? CaptureDefaults.stateFile(slot: slot)
        let sql = try PostgresConnection(dsn: dsn ?? CaptureDefaults.dsn)
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
