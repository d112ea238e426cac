import Foundation
import StreamKit
import StreamKitCapture

/// The MySQL log reader: binlog events handed to the core's ``ChangeStream`` as neutral changes.
extension MySQLCapture {
    func stream(_ reader: BinlogReader, until stop: @escaping @Sendable () -> Bool, streamed: inout Bool) throws {
        let c = configuration
        var schedule = CaptureSchedule(confirm: c.confirmInterval, heartbeat: c.heartbeatInterval, measureLag: .seconds(5),
                                       now: MonotonicClock.nanos())
        while !stop() {
            try reader.next { header, event in try handle(header, event) }
            streamed = true
            let duties = schedule.due(now: MonotonicClock.nanos())
            if duties.contains(.confirm) {
                collectAcks()
                savePosition(force: false)
                metrics.report(to: reporter)
            }
            try deleteMarkers()
            if stream.window == nil && !stream.inTransaction && !stream.incremental.isIdle && signalsEnabled {
                try openWindow()
            }
            if duties.contains(.heartbeat) { try heartbeat() }
            if duties.contains(.measureLag) { measureBinlogLag() }
        }
        metrics.report(to: reporter)
    }

    /// One binlog event.
    func handle(_ header: BinlogEventHeader, _ event: BinlogEvent) throws {
        metrics.events.add(1, ordering: .relaxed)
        switch event {
        case let .rotate(name, _):
            file = name
        case let .gtid(g, _):
            let durable = Self.parseState(state.gtids)[g.domain]?.sequence ?? 0
            let published = durable >= g.sequence && !state.gtids.isEmpty
            currentGTID = g
            commitSeconds = header.timestamp
            let start = MySQLPosition(file: file, position: UInt64(header.nextPosition), gtid: g.description)
            transactionStart = start
            stream.begin(id: g.description, at: start, commitMillis: Int64(header.timestamp) * 1000, alreadyPublished: published,
                         acknowledgedEvents: !published && state.partialGTID == g.description ? state.partialEvents : 0)
            gtidState[g.domain] = g
        case .xid:
            try commit(header)
        case let .query(database, statement, _):
            if statement == "BEGIN" { return }
            if statement == "COMMIT" { try commit(header); return }
            if let (db, name) = Self.truncatedTable(statement, database: database), let m = byName[db + "." + name],
               isCaptured(database: db, table: name), stream.inTransaction {
                let source = MySQLSourceFields(tsMillis: Int64(commitSeconds) * 1000, snapshot: "false", serverID: header.serverID,
                                               gtid: currentGTID?.description, file: file, position: header.position, row: 0)
                try stream.truncate(m.table, topic: m.topic, source: source, producer: producer)
            }
            // DDL (a standalone event group): the tables it changes get new TABLE_MAPs (and so
            // new schema versions) with their next change; cached maps are dropped.
            tables.removeAll()
            signalMap = nil
            logger.info("DDL in the binlog", metadata: [LogMetadataKey.table: "\(database)", "statement": "\(statement.prefix(200))"])
            try commit(header)
        case let .tableMap(map):
            if isSignalTable(database: map.database, table: map.table) {
                guard map.hasNames else { return }
                let find = { (n: String, d: Int) in map.columns.firstIndex { $0.name == n } ?? d }
                signalMap = (map.tableID, MySQLRowDecoder(map: map, decimalHandling: configuration.decimalHandling), (find("id", 0), find("type", 1), find("data", 2)))
                return
            }
            if let known = tables[map.tableID], known?.map == map || (known == nil && !isCaptured(database: map.database, table: map.table)) { return }
            guard isCaptured(database: map.database, table: map.table) else { tables[map.tableID] = .some(nil); return }
            guard map.hasNames else {
                throw CaptureError(.configuration, "the binlog's TABLE_MAP of \(map.qualifiedName) has no column names — set binlog_row_metadata=FULL on the server")
            }
            let decoder = MySQLRowDecoder(map: map, decimalHandling: configuration.decimalHandling)
            let table = try prepared(CapturedTable(schema: map.database, name: map.table, columns: decoder.columns(), keyColumns: map.primaryKey))
            let mapped = MappedTable(map: map, table: table, decoder: decoder, topic: "\(configuration.topicPrefix).\(map.database).\(map.table)")
            tables[map.tableID] = mapped
            byName[map.qualifiedName] = mapped
        case let .rows(rows):
            if let s = signalMap, s.tableID == rows.tableID {
                try signalRows(rows, s.decoder, columns: s.columns, header)
                return
            }
            guard let entry = tables[rows.tableID] else {
                throw CaptureError(.malformedLog, "rows of table id \(rows.tableID) before its TABLE_MAP")
            }
            guard let m = entry, stream.inTransaction else { return }
            try publish(rows, m, header)
            if stream.wantsAcknowledgement { collectAcks() }
        case .heartbeat, .other:
            break
        }
    }

    /// Binlog bytes the server wrote after the confirmed position (`SHOW BINLOG STATUS`; the
    /// files in between when the binlog rotated). -1 when it cannot be measured.
    func measureBinlogLag() {
        guard let sql, let confirmed, !confirmed.file.isEmpty,
              let status = try? sql.query("SHOW BINLOG STATUS").first, status.count > 1,
              let file = status[0], let position = status[1].flatMap({ UInt64($0) }) else { return }
        var lag: Int64 = -1
        if file == confirmed.file {
            lag = Int64(position) - Int64(confirmed.position)
        } else if let logs = try? sql.query("SHOW BINARY LOGS") {
            // Whole files after the confirmed one, plus the current file's part.
            var total: Int64 = 0, counting = false
            for row in logs {
                guard let name = row.first ?? nil, row.count > 1, let size = row[1].flatMap({ Int64($0) }) else { continue }
                if name == confirmed.file { counting = true; total += size - Int64(confirmed.position); continue }
                if name == file { total += Int64(position); break }
                if counting { total += size }
            }
            if counting { lag = total }
        }
        metrics.binlogLagBytes.store(max(-1, lag), ordering: .relaxed)
    }

    /// `TRUNCATE [TABLE] [db.]name` → (db, name); nil for other statements.
    static func truncatedTable(_ statement: String, database: String) -> (String, String)? {
        var words = statement.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init)
        guard words.first?.uppercased() == "TRUNCATE", words.count >= 2 else { return nil }
        words.removeFirst()
        if words.first?.uppercased() == "TABLE" { words.removeFirst() }
        guard let target = words.first?.replacingOccurrences(of: "`", with: "").replacingOccurrences(of: ";", with: "") else { return nil }
        let parts = target.split(separator: ".", maxSplits: 1).map(String.init)
        return parts.count == 2 ? (parts[0], parts[1]) : (database, parts[0])
    }

    func publish(_ rows: BinlogRows, _ m: MappedTable, _ header: BinlogEventHeader) throws {
        var r = BinlogBytes(rows.data)
        // One clock read per rows event (tens of rows), not per row: the envelopes' `ts_ms`.
        stream.processingMillis = WallClock.millis()
        defer { stream.processingMillis = nil }
        // `pos` + `row`: the rows event's place in the binlog and the row's index in it (Debezium's
        // fields), unique per row and the same after a restart: the deduplicator's position.
        var source = MySQLSourceFields(tsMillis: Int64(commitSeconds) * 1000, snapshot: "false", serverID: header.serverID,
                                       gtid: currentGTID?.description, file: file, position: header.position, row: 0)
        while r.remaining > 0 {
            switch rows.kind {
            case .write:
                let after = try m.decoder.row(&r, present: rows.present)
                try stream.insert(m.table, topic: m.topic, after: after, source: source, producer: producer)
            case .delete:
                let before = try m.decoder.row(&r, present: rows.present)
                try stream.delete(m.table, topic: m.topic, before: before, source: source, producer: producer)
            case .update:
                let before = try m.decoder.row(&r, present: rows.present)
                let after = try m.decoder.row(&r, present: rows.presentAfter)
                try stream.update(m.table, topic: m.topic, before: before, after: after, oldRowIsFull: true, source: source, producer: producer)
            }
            source.row += 1
        }
    }

    func commit(_ header: BinlogEventHeader) throws {
        guard stream.inTransaction else { return }
        let end = MySQLPosition(file: file, position: UInt64(header.nextPosition), gtid: Self.formatState(gtidState))
        // MariaDB's event times have one-second resolution: latency is measured from reading the commit.
        let micros = currentGTID.flatMap { g in commitTime?(g.description) } ?? WallClock.micros()
        try stream.commit(end: end, commitMicros: micros, producer: producer)
        currentGTID = nil
        received = end.description
        collectAcks()
    }
}
