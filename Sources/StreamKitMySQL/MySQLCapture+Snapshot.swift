import Foundation
import StreamKit
import StreamKitCapture

/// The initial snapshot: every captured table read in one consistent InnoDB snapshot, without a
/// global lock, and the binlog position (and GTID state) frozen for it — streaming starts there,
/// so nothing is lost or published twice.
extension MySQLCapture {
    func snapshot(_ sql: MySQLConnection) throws {
        try sql.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        try sql.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        defer { _ = try? sql.execute("COMMIT") }
        var snapshotFile = "", snapshotPosition: UInt64 = 0
        for row in try sql.query("SHOW STATUS LIKE 'binlog_snapshot_%'") {
            if row[0] == "Binlog_snapshot_file" { snapshotFile = row[1] ?? "" }
            if row[0] == "Binlog_snapshot_position" { snapshotPosition = UInt64(row[1] ?? "") ?? 0 }
        }
        let gtids = try sql.query("SELECT BINLOG_GTID_POS(\(sql.quoteLiteral(snapshotFile)), \(snapshotPosition))").first?.first.flatMap { $0 } ?? ""
        let tableRows = try sql.query("""
            SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE'
            AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') ORDER BY TABLE_SCHEMA, TABLE_NAME
            """)
        let nowMillis = WallClock.millis()
        logger.info("snapshot starting", metadata: [LogMetadataKey.position: "\(snapshotFile):\(snapshotPosition) (\(gtids))"])
        var held: (topic: String, key: [UInt8]?, table: CapturedTable, row: [ColumnValue])? = nil
        func emit(last: Bool) throws {
            guard let h = held else { return }
            let source = MySQLSourceFields(tsMillis: nowMillis, snapshot: last ? "last" : "true", serverID: 0, gtid: nil,
                                           file: snapshotFile, position: snapshotPosition, row: 0)
            let value = try encoder.value(op: UInt8(ascii: "r"), table: h.table, before: nil, after: h.row, source: source, nowMillis: WallClock.millis())
            try producer.send(topic: h.topic, key: h.key, value: value)
            metrics.snapshotRows.add(1, ordering: .relaxed)
            held = nil
        }
        for t in tableRows {
            guard let database = t[0], let name = t[1], isCaptured(database: database, table: name) else { continue }
            guard let map = try MySQLSnapshotReader.tableMap(sql, database: database, table: name) else { continue }
            let columns = map.columns
            let decoder = MySQLRowDecoder(map: map, decimalHandling: configuration.decimalHandling)
            let table = try prepared(CapturedTable(schema: database, name: name, columns: decoder.columns(), keyColumns: map.primaryKey))
            let topic = "\(configuration.topicPrefix).\(database).\(name)"
            let list = MySQLSnapshotReader.selectList(map)
            var n = 0
            try sql.stream("SELECT \(list) FROM \(MySQLConnection.quoteIdentifier(database)).\(MySQLConnection.quoteIdentifier(name))") { row in
                try emit(last: false)
                var values: [ColumnValue] = []
                values.reserveCapacity(columns.count)
                for (i, c) in columns.enumerated() { values.append(MySQLTextValue.value(row[i], c, decimalHandling: configuration.decimalHandling)) }
                held = (topic, try encoder.key(table: table, values: values), table, values)
                n += 1
                if n % configuration.snapshotFetchSize == 0 { producer.poll() }
            }
        }
        try emit(last: true)
        try producer.flush(timeout: .seconds(120))
        if producer.failed > 0 {
            throw CaptureError(.delivery, "snapshot: \(producer.failed) events were not delivered to Kafka — check the brokers; a restart snapshots again")
        }
        _ = producer.takeTaggedDeliveries()
        state = MySQLCaptureState()
        state.gtids = gtids; state.file = snapshotFile; state.position = snapshotPosition
        logger.info("snapshot done", metadata: [LogMetadataKey.count: "\(metrics.snapshotRows.load(ordering: .relaxed))"])
    }
}
