import Foundation
import StreamKit
import StreamKitCapture

/// The PostgreSQL log reader: the replication stream (pgoutput) turned into Debezium events.
extension PostgresCapture {
    /// Reads the replication stream until `stop`, answering keepalives, confirming acknowledged
    /// positions, opening incremental-snapshot windows, sending heartbeats and measuring slot lag.
    func stream(_ repl: PostgresConnection, until stop: @escaping @Sendable () -> Bool, streamed: inout Bool) throws {
        let c = configuration
        var schedule = CaptureSchedule(confirm: c.confirmInterval, heartbeat: c.heartbeatInterval, measureLag: c.slotLagInterval,
                                       now: MonotonicClock.nanos())
        var sentConfirmed: UInt64 = 0
        while !stop() {
            if let bytes = try repl.readCopyData(timeout: .milliseconds(50)) {
                streamed = true
                switch try PgOutput.decodeFrame(bytes) {
                case let .xLogData(walStart, walEnd, _, message):
                    received = max(received, walEnd)
                    try handle(message, lsn: walStart)
                case let .keepalive(walEnd, _, replyRequested):
                    received = max(received, walEnd)
                    collectAcks()
                    if !stream.inTransaction && stream.tracker.isIdle { confirmed = max(confirmed, walEnd) }
                    if replyRequested { try sendStatus(repl); sentConfirmed = state.lsn }
                }
            }
            let duties = schedule.due(now: MonotonicClock.nanos())
            if duties.contains(.confirm) {
                collectAcks()
                // Save first, then confirm what is saved (the slot never runs ahead of the state).
                savePosition(force: false)
                if state.lsn != sentConfirmed {
                    try sendStatus(repl)
                    sentConfirmed = state.lsn
                }
                metrics.receivedLSN.store(received, ordering: .relaxed)
                metrics.report(to: reporter)
            }
            if stream.window == nil && !stream.markersToDelete.isEmpty, let signal = signalTableName {
                try sql.execute("DELETE FROM \(signal) WHERE id = ANY($1::text[])", ["{" + stream.markersToDelete.joined(separator: ",") + "}"])
                stream.markersToDelete.removeAll()
            }
            if stream.window == nil && !stream.inTransaction && !stream.incremental.isIdle && signalsEnabled {
                try openWindow()
            }
            if duties.contains(.heartbeat) { try heartbeat() }
            if duties.contains(.measureLag) { measureSlotLag(sql) }
        }
        metrics.report(to: reporter)
    }

    /// One pgoutput message, handed to the core's ``ChangeStream`` as a neutral change.
    func handle(_ message: PgOutput.Message, lsn: UInt64) throws {
        func source() -> PostgresSourceFields {
            PostgresSourceFields(lsn: lsn, lastCommitLSN: lastCommitLSN, txID: xid, tsMillis: commitMillis, snapshot: "false")
        }
        switch message {
        case let .begin(finalLSN, commitMicros, xid):
            self.xid = xid
            commitMillis = (commitMicros + PgOutput.postgresEpochOffsetMicros) / 1000
            // Already published before a restart (the slot may re-deliver confirmed transactions),
            // or in part (the state file counts its acknowledged events).
            let published = finalLSN < state.lsn
            stream.begin(id: "\(xid):\(finalLSN)", at: PostgresPosition(lsn: finalLSN), commitMillis: commitMillis, alreadyPublished: published,
                         acknowledgedEvents: !published && state.partialLSN == finalLSN ? state.partialEvents : 0)
        case let .commit(_, commitLSN, endLSN, commitMicros):
            try stream.commit(end: PostgresPosition(lsn: endLSN), commitMicros: commitMicros + PgOutput.postgresEpochOffsetMicros, producer: producer)
            lastCommitLSN = commitLSN
            commitOfEnd[endLSN] = commitLSN
            collectAcks()
        case let .relation(id, namespace, name, _, columns):
            if let s = configuration.signalTable, PostgresCatalog.qualified(s) == (namespace, name) {
                signalRelation = id
                let find = { (n: String, d: Int) in columns.firstIndex { $0.name == n } ?? d }
                signalColumns = (find("id", 0), find("type", 1), find("data", 2))
                return
            }
            let sql = try metadataConnection()
            let keyNames = try PostgresCatalog.keyColumnNames(sql, oid: String(id))
            // The primary key, else the replica-identity index; never the columns pgoutput flags
            // for REPLICA IDENTITY FULL (all of them): a table without a key has a null key.
            let keys = keyNames.compactMap { k in columns.firstIndex { $0.name == k } }
            let neutral = columns.map(\.captureColumn)
            let keyIndexes = try configuration.messageKeyColumns.keyColumns(schema: namespace, name: name, columns: neutral, defaultKey: keys)
            relations[id] = filtered(CapturedTable(schema: namespace, name: name, columns: neutral, keyColumns: keyIndexes,
                                                   version: try registerSchema(schema: namespace, name: name, columns: neutral,
                                                                               keys: keyIndexes, lsn: lsn)))
            topics[id] = "\(configuration.topicPrefix).\(namespace).\(name)"
        case .type, .origin, .message:
            break
        case let .insert(rel, new):
            if rel == signalRelation {
                func text(_ i: Int) -> String? { if i < new.count, case let .text(t) = new[i] { return t }; return nil }
                let reads = PostgresSourceFields(lsn: lsn, lastCommitLSN: lastCommitLSN, txID: nil, tsMillis: WallClock.millis(), snapshot: "incremental")
                try stream.signal(id: text(signalColumns.id), type: text(signalColumns.type), data: text(signalColumns.data),
                                  readSource: reads, producer: producer)
                return
            }
            try stream.insert(try relation(rel), topic: topics[rel]!, after: new, source: source(), producer: producer)
        // A key-only old tuple (default replica identity) carries NULL for the other columns, which
        // Debezium shows as null too: `before` is the old tuple as sent.
        case let .update(rel, old, oldIsKeyOnly, new):
            guard rel != signalRelation else { return }
            try stream.update(try relation(rel), topic: topics[rel]!, before: old, after: new, oldRowIsFull: old != nil && !oldIsKeyOnly,
                              source: source(), producer: producer)
        case let .delete(rel, old, _):
            guard rel != signalRelation else { return }
            try stream.delete(try relation(rel), topic: topics[rel]!, before: old, source: source(), producer: producer)
        case let .truncate(rels, _, _):
            for rel in rels where rel != signalRelation {
                try stream.truncate(try relation(rel), topic: topics[rel]!, source: source(), producer: producer)
            }
        }
        if stream.wantsAcknowledgement { collectAcks() }
    }

    func relation(_ id: UInt32) throws -> CapturedTable {
        guard let t = relations[id] else { throw CaptureError(.malformedLog, "change for relation \(id) before its Relation message") }
        return t
    }
}
