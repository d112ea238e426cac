import Foundation
import StreamKit
import StreamKitCapture

/// The PostgreSQL log reader: the replication stream (pgoutput) turned into Debezium events.
extension PostgresCapture {
    /// Reads the replication stream until `stop`, answering keepalives, confirming acknowledged
    /// positions, opening incremental-snapshot windows, sending heartbeats and measuring slot lag.
    func stream(_ repl: PostgresConnection, until stop: @escaping @Sendable () -> Bool, streamed: inout Bool) throws {
        let c = configuration
        var lastConfirm = MonotonicClock.nanos(), lastLag: UInt64 = 0, lastHeartbeat = MonotonicClock.nanos()
        let confirmNanos = UInt64(c.confirmInterval.milliseconds) * 1_000_000
        let lagNanos = UInt64(c.slotLagInterval.milliseconds) * 1_000_000
        let heartbeatNanos = c.heartbeatInterval.map { UInt64(max(1, $0.milliseconds)) * 1_000_000 }
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
                    if !inTransaction && tracker.isIdle { confirmed = max(confirmed, walEnd) }
                    if replyRequested { try sendStatus(repl); sentConfirmed = confirmed }
                }
            }
            let now = MonotonicClock.nanos()
            if now &- lastConfirm >= confirmNanos {
                lastConfirm = now
                collectAcks()
                if confirmed != sentConfirmed {
                    try sendStatus(repl)
                    sentConfirmed = confirmed
                }
                savePosition(force: false)
                metrics.receivedLSN.store(received, ordering: .relaxed)
                metrics.report(to: reporter)
            }
            if window == nil && !markersToDelete.isEmpty, let signal = signalTableName {
                try sql.execute("DELETE FROM \(signal) WHERE id = ANY($1::text[])", ["{" + markersToDelete.joined(separator: ",") + "}"])
                markersToDelete.removeAll()
            }
            if window == nil && !inTransaction && !incremental.isIdle && signalsEnabled {
                try openWindow()
            }
            if let heartbeatNanos, now &- lastHeartbeat >= heartbeatNanos {
                lastHeartbeat = now
                try heartbeat()
            }
            if now &- lastLag >= lagNanos {
                lastLag = now
                measureSlotLag(sql)
            }
        }
        metrics.report(to: reporter)
    }

    func handle(_ message: PgOutput.Message, lsn: UInt64) throws {
        switch message {
        case let .begin(finalLSN, commitMicros, xid):
            inTransaction = true
            tx = OpenTransaction(xid: xid, finalLSN: finalLSN, commitMicros: commitMicros, firstTag: tracker.nextTag)
            tx.id = "\(xid):\(finalLSN)"
            // Already published before a restart (the slot may re-deliver confirmed transactions).
            tx.skipAll = finalLSN < state.lsn
            if !tx.skipAll && state.partialLSN == finalLSN && state.partialEvents > 0 {
                tx.prefix = state.partialEvents
                tx.skipRemaining = state.partialEvents
            }
        case let .commit(_, commitLSN, endLSN, commitMicros):
            if tx.skipAll {
                metrics.skippedTransactions.add(1, ordering: .relaxed)
            } else {
                if configuration.transactionMetadata && tx.dataEvents > 0 {
                    try send(topic: transactionTopic, key: encoder.transactionKey(id: tx.id),
                             value: encoder.transactionBoundary(begin: false, id: tx.id, tsMillis: commitMillis, collections: tx.perTable))
                }
                metrics.transactions.add(1, ordering: .relaxed)
                let unixCommitMicros = commitMicros + PgOutput.postgresEpochOffsetMicros
                let receive = WallClock.micros() - unixCommitMicros
                metrics.receiveLatency.record(micros: UInt64(max(0, receive)))
                reporter.duration("receive_latency", micros: receive)   // per transaction
                tracker.finished(.init(firstTag: tx.firstTag, lastTag: tracker.nextTag - 1,
                                       begin: PostgresPosition(lsn: tx.finalLSN), end: PostgresPosition(lsn: endLSN),
                                       commitMicros: unixCommitMicros, prefix: tx.prefix,
                                       incremental: incrementalChanged ? incremental : nil))
                if incrementalChanged {
                    metrics.incrementalTablesPending.store(incremental.pending, ordering: .relaxed)
                    incrementalChanged = false
                }
            }
            inTransaction = false
            lastCommitLSN = commitLSN
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
            let keys = keyNames.compactMap { k in columns.firstIndex { $0.name == k } }
            let keyIndexes = keys.isEmpty ? columns.indices.filter { columns[$0].isKey } : keys
            let neutral = columns.map(\.captureColumn)
            relations[id] = filtered(CapturedTable(schema: namespace, name: name, columns: neutral, keyColumns: keyIndexes,
                                                   version: try registerSchema(schema: namespace, name: name, columns: neutral,
                                                                               keys: keyIndexes, lsn: lsn)))
            topics[id] = "\(configuration.topicPrefix).\(namespace).\(name)"
        case .type, .origin, .message:
            break
        case let .insert(rel, new):
            guard !tx.skipAll else { return }
            if rel == signalRelation { try signal(new, lsn: lsn); return }
            try publish(op: UInt8(ascii: "c"), relation: rel, before: nil, after: new, keyFrom: new, lsn: lsn)
        // A key-only old tuple (default replica identity) carries NULL for the other columns, which
        // Debezium shows as null too: `before` is the old tuple as sent.
        case let .update(rel, old, _, new):
            guard !tx.skipAll && rel != signalRelation else { return }
            let table = try relation(rel)
            // A changed key: Debezium emits a delete (+ tombstone) of the old key and a create of the new one.
            if let old, let oldKey = encoder.key(table: table, values: old), oldKey != encoder.key(table: table, values: new) {
                try publish(op: UInt8(ascii: "d"), relation: rel, before: old, after: nil, keyFrom: old, lsn: lsn)
                try publish(op: UInt8(ascii: "c"), relation: rel, before: nil, after: new, keyFrom: new, lsn: lsn)
            } else {
                try publish(op: UInt8(ascii: "u"), relation: rel, before: old, after: new, keyFrom: new, lsn: lsn)
            }
        case let .delete(rel, old, _):
            guard !tx.skipAll && rel != signalRelation else { return }
            try publish(op: UInt8(ascii: "d"), relation: rel, before: old, after: nil, keyFrom: old, lsn: lsn)
        case let .truncate(rels, _, _):
            guard !tx.skipAll else { return }
            for rel in rels where rel != signalRelation {
                if let w = window, let t = relations[rel], t.schema == w.table.schema && t.name == w.table.name {
                    window!.rows.removeAll()
                }
                try publish(op: UInt8(ascii: "t"), relation: rel, before: nil, after: nil, keyFrom: nil, lsn: lsn)
            }
        }
    }

    var transactionTopic: String { configuration.topicPrefix + ".transaction" }
    var commitMillis: Int64 { (tx.commitMicros + PgOutput.postgresEpochOffsetMicros) / 1000 }

    func relation(_ id: UInt32) throws -> CapturedTable {
        guard let t = relations[id] else { throw CaptureError(.malformedLog, "change for relation \(id) before its Relation message") }
        return t
    }

    func publish(op: UInt8, relation rel: UInt32, before: [ColumnValue]?, after: [ColumnValue]?,
                 keyFrom: [ColumnValue]?, lsn: UInt64) throws {
        let table = try relation(rel)
        let topic = topics[rel]!
        let key = keyFrom.flatMap { encoder.key(table: table, values: $0) }
        // Checked in place: binding `window` would copy the chunk's dictionary references per event.
        if let key, window?.isOpen == true, window!.table.name == table.name && window!.table.schema == table.schema {
            window!.rows.removeValue(forKey: key)   // the streamed change is newer than the chunk's read
        }
        if !configuration.skippedOperations.isEmpty && configuration.skippedOperations.contains(String(UnicodeScalar(op))) { return }
        let source = PostgresSourceFields(lsn: lsn, lastCommitLSN: lastCommitLSN, txID: tx.xid, tsMillis: commitMillis, snapshot: "false")
        var order: DebeziumChangeEncoder.TransactionOrder? = nil
        if configuration.transactionMetadata {
            if tx.dataEvents == 0 {
                try send(topic: transactionTopic, key: encoder.transactionKey(id: tx.id),
                         value: encoder.transactionBoundary(begin: true, id: tx.id, tsMillis: commitMillis, collections: []))
            }
            tx.dataEvents += 1
            let name = table.schema + "." + table.name
            let i: Int
            if let j = tx.perTable.firstIndex(where: { $0.name == name }) { i = j } else { tx.perTable.append((name, 0)); i = tx.perTable.count - 1 }
            tx.perTable[i].count += 1
            order = .init(id: tx.id, totalOrder: tx.dataEvents, dataCollectionOrder: tx.perTable[i].count)
        }
        let value = encoder.value(op: op, table: table, before: before, after: after, source: source, nowMillis: WallClock.millis(), transaction: order)
        try send(topic: topic, key: key, value: value)
        if op == UInt8(ascii: "d") && configuration.tombstonesOnDelete && key != nil {
            try send(topic: topic, key: key, value: nil)
        }
        metrics.changes.add(1, ordering: .relaxed)
        if tracker.nextTag & 1023 == 0 { collectAcks() }
    }

    /// Sends one event of the open transaction, tagged for acknowledgement tracking — unless it is
    /// one of the events of a re-delivered transaction that Kafka acknowledged before a restart.
    func send(topic: String, key: [UInt8]?, value: [UInt8]?) throws {
        if tx.skipRemaining > 0 {
            tx.skipRemaining -= 1
            metrics.skippedEvents.add(1, ordering: .relaxed)
            return
        }
        try producer.send(topic: topic, key: key, value: value, tag: tracker.nextTag)
        _ = tracker.nextEventTag()
    }
}
