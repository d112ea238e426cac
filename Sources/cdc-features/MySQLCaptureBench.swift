import ArgumentParser
import Foundation
import Synchronization
import StreamKit
import StreamKitKafka
import StreamKitCapture
import StreamKitMySQL

/// `bench capture --source mysql`: N rows inserted into MariaDB (transactions of 10,000), then
/// in the same run: `mariadb-binlog --read-from-remote-server` over the same binlog range (for
/// reference), the capture from the position before the inserts until Kafka acknowledged every
/// row, and a raw produce of as many same-size records to the same broker (the limit here);
/// then commit → acknowledged latency under a steady load (``CaptureBenchHarness``, shared with
/// the PostgreSQL bench).
struct MySQLCaptureBench {
    let rows: Int, rate: Int, seconds: Int
    let dsn: String
    let kafka: KafkaConfiguration
    let json: Bool

    func run() throws {
        let parsed = try MySQLDSN(parsing: dsn)
        let sql = try MySQLConnection(dsn: parsed)
        let id = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let table = "bench_cap_\(id)", prefix = "benchmy\(id)", rawTopic = "benchmyraw\(id)"
        let topic = "\(prefix).\(parsed.database).\(table)"
        let stateFile = NSTemporaryDirectory() + "bench-mysql-capture-\(id).json"
        defer {
            _ = try? sql.execute("DROP TABLE IF EXISTS \(table)")
            _ = try? KafkaAdmin(configuration: kafka).deleteTopics([topic, rawTopic, SchemaHistory.topic(prefix: prefix)])
            try? FileManager.default.removeItem(atPath: stateFile)
        }
        try sql.execute("CREATE TABLE \(table)(id BIGINT PRIMARY KEY, user_id INT, amount DECIMAL(10,2), note VARCHAR(64)) ENGINE=InnoDB")
        func binlogStatus() throws -> (file: String, position: UInt64, gtids: String) {
            let s = try sql.query("SHOW BINLOG STATUS").first ?? []
            let g = try sql.query("SELECT @@global.gtid_binlog_pos").first?.first ?? nil
            return (s.first.flatMap { $0 } ?? "", UInt64(s.count > 1 ? s[1] ?? "" : "") ?? 0, g ?? "")
        }
        let start = try binlogStatus()
        var inserted = 0
        while inserted < rows {
            let n = min(10_000, rows - inserted)
            try sql.execute("INSERT INTO \(table) SELECT seq, seq % 1000, (seq % 10000) / 100.0, CONCAT('row ', seq) FROM seq_\(inserted + 1)_to_\(inserted + n)")
            inserted += n
        }
        let transactions = (rows + 9_999) / 10_000
        let end = try binlogStatus()

        // mariadb-binlog on the same binlog range, text to /dev/null.
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/usr/bin/mariadb-binlog")
        var arguments = ["--read-from-remote-server", "--host=\(parsed.host)", "--port=\(parsed.port)", "--user=\(parsed.user)",
                         "--start-position=\(start.position)"]
        if start.file == end.file { arguments.append("--stop-position=\(end.position)") } else { arguments.append("--to-last-log") }
        arguments.append(start.file)
        reader.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["MYSQL_PWD"] = parsed.password ?? ""   // not on the command line
        reader.environment = env
        reader.standardOutput = FileHandle.nullDevice
        reader.standardError = FileHandle.nullDevice
        let readerStart = MonotonicClock.nanos()
        try reader.run()
        reader.waitUntilExit()
        let readerSeconds = Double(MonotonicClock.nanos() &- readerStart) / 1e9
        guard reader.terminationStatus == 0 else { throw ValidationError("mariadb-binlog failed (status \(reader.terminationStatus))") }

        // The capture from the position before the inserts.
        var c = MySQLCaptureConfiguration(dsn: parsed, topicPrefix: prefix, stateFile: stateFile)
        c.tables = ["\(parsed.database).\(table)"]
        c.snapshot = .never
        c.serverID = UInt32.random(in: 100_000...4_000_000)
        c.confirmInterval = .milliseconds(20)
        let state = "{\"gtids\":\"\(start.gtids)\",\"file\":\"\(start.file)\",\"position\":\(start.position),\"snapshotDone\":true}"
        try state.write(toFile: stateFile, atomically: true, encoding: .utf8)
        let capture = MySQLCapture(configuration: c, kafka: kafka)
        // The steady writer's commit times by GTID (MariaDB's event times have one-second resolution).
        let commits = Mutex<[String: Int64]>([:])
        capture.commitTime = { gtid in commits.withLock { $0[gtid] } }
        let harness = CaptureBenchHarness(capture, metrics: capture.metrics)
        // Throughput counts from the moment the binlog is open (connections, the Kafka producer and the
        // schema registry's topic are set up before; the raw produce below excludes its set-up too).
        try harness.wait(timeout: 60, "streaming") { capture.lifecycle.state == .streaming }
        let startupSeconds = harness.elapsed
        try harness.wait("every row acknowledged") {
            capture.metrics.changes.load(ordering: .relaxed) >= rows && capture.metrics.latency.count >= UInt64(transactions)
        }
        let totalSeconds = harness.elapsed
        let captureSeconds = totalSeconds - startupSeconds

        // Raw produce: as many records of the capture's size to the same broker, acknowledged.
        let sample = try KafkaTopicReader.readAll(topic: topic, configuration: kafka).prefix(1000)
        let valueSize = sample.isEmpty ? 600 : sample.reduce(0) { $0 + ($1.value?.count ?? 0) } / sample.count
        let producer = try KafkaProducer(configuration: kafka, idempotent: true, extraProperties: ["linger.ms": String(c.producerLinger.milliseconds)])
        let value = [UInt8](repeating: UInt8(ascii: "x"), count: valueSize)
        let rawStart = MonotonicClock.nanos()
        for i in 0..<rows {
            try producer.send(topic: rawTopic, key: Array("{\"id\":\(i + 1)}".utf8), value: value)
            if i % 1024 == 0 { producer.poll() }
        }
        try producer.flush(timeout: .seconds(300))
        let rawSeconds = Double(MonotonicClock.nanos() &- rawStart) / 1e9

        var steady = (rate: 0.0, p50: 0.0, p95: 0.0, p99: 0.0)
        if rate > 0 {
            var sequence = BinlogGTID(end.gtids.split(separator: ",").first { $0.hasPrefix("0-") } ?? "")?.sequence ?? 0
            let server = BinlogGTID(end.gtids.split(separator: ",").first { $0.hasPrefix("0-") } ?? "")?.server ?? 1
            steady = try harness.steadyLoad(rate: rate, seconds: seconds, firstRow: rows, changesBefore: rows) { first, count in
                // This bench is the server's only writer: the next transaction gets the next sequence number.
                sequence += 1
                let gtid = "0-\(server)-\(sequence)"
                commits.withLock { $0[gtid] = WallClock.micros() }   // before the commit: latency is not flattered
                try sql.execute("INSERT INTO \(table) SELECT seq, seq % 1000, 1.5, 'steady' FROM seq_\(first)_to_\(first + count - 1)")
            }
        }
        try harness.finish()
        printFields([
            ("rows", "\(rows)"),
            ("seconds", String(format: "%.3f", captureSeconds)),
            ("changes_per_s", String(format: "%.0f", Double(rows) / captureSeconds)),
            ("startup_seconds", String(format: "%.3f", startupSeconds)),
            ("changes_per_s_with_startup", String(format: "%.0f", Double(rows) / totalSeconds)),
            ("raw_produce_per_s", String(format: "%.0f", Double(rows) / rawSeconds)),
            ("raw_produce_record_bytes", "\(valueSize)"),
            ("mariadb_binlog_per_s", String(format: "%.0f", Double(rows) / readerSeconds)),
            ("capture_p50_ms", String(format: "%.2f", steady.p50)),
            ("capture_p95_ms", String(format: "%.2f", steady.p95)),
            ("capture_p99_ms", String(format: "%.2f", steady.p99)),
            ("steady_changes_per_s", String(format: "%.0f", steady.rate)),
        ], json: json)
    }
}
