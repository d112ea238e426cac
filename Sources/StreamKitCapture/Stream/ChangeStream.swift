import Foundation
public import Logging
public import StreamKit
public import StreamKitKafka

/// The database-neutral half of a log-based capture: what happens to the transactions a plug-in's
/// log reader hands over. One thread (the capture's) owns it.
///
/// Per transaction: events Kafka acknowledged before a restart are passed over (a whole
/// transaction, or the acknowledged prefix of a partly published one); every event sent is
/// tagged for the ack-gated ``PositionTracker``; Debezium's transaction metadata (BEGIN/END on
/// `<prefix>.transaction`, a `transaction` block per change); a tombstone after each delete; a
/// changed key becomes a delete and a create. Rows of the signal table are signals:
/// `execute-snapshot` queues incremental snapshots, the window markers open and close a DBLog
/// ``SnapshotWindow``, whose rows a streamed change replaces.
public struct ChangeStream<Position: SourcePosition> {
    /// What the stream publishes and how.
    public struct Settings: Sendable {
        /// Topics are `<prefix>.<schema>.<table>`; transaction metadata goes to `<prefix>.transaction`.
        public var topicPrefix: String
        public var tombstonesOnDelete = true
        /// Operations not published: any of `c`, `u`, `d`, `t`.
        public var skippedOperations: Set<String> = []
        public var transactionMetadata = false
        /// The schema of a table named without one (PostgreSQL: `public`).
        public var defaultSchema: String
        /// Tables `execute-snapshot` signals may name (nil: any).
        public var tables: [String]?

        public init(topicPrefix: String, defaultSchema: String) {
            self.topicPrefix = topicPrefix; self.defaultSchema = defaultSchema
        }

        /// `schema.table`, or `table` in the default schema.
        public func qualified(_ table: String) -> (schema: String, name: String) {
            let parts = table.split(separator: ".", maxSplits: 1).map(String.init)
            return parts.count == 2 ? (parts[0], parts[1]) : (defaultSchema, parts[0])
        }
    }

    /// The open transaction.
    struct Transaction {
        var id = ""
        var begin: Position?
        var commitMillis: Int64 = 0
        /// Tag of the transaction's first event published in this run.
        var firstTag: UInt64 = 1
        /// Events acknowledged before a restart (not published again).
        var prefix = 0
        /// Of `prefix`, how many are still to be passed over.
        var skipRemaining = 0
        /// Already published entirely before a restart.
        var skipAll = false
        var dataEvents = 0
        var perTable: [(name: String, count: Int)] = []
    }

    public let settings: Settings
    public var encoder: DebeziumChangeEncoder
    public let metrics: CaptureMetrics
    let reporter: CaptureMetricsReporter
    let logger: Logger
    /// Acknowledgements: a transaction's end becomes durable once Kafka acknowledged it.
    public private(set) var tracker = PositionTracker<Position>()
    public private(set) var inTransaction = false
    var tx = Transaction()
    /// The open incremental-snapshot chunk.
    public var window: SnapshotWindow?
    /// Incremental snapshots: `incremental` is the live progress, `durableIncremental` the part
    /// Kafka acknowledged (what the state file keeps): a change made while a transaction streams
    /// becomes durable with that transaction.
    public var incremental = IncrementalSnapshotProgress()
    public var durableIncremental = IncrementalSnapshotProgress()
    public var incrementalChanged = false
    /// Window markers to delete from the signal table once no window is open.
    public var markersToDelete: [String] = []
    /// The envelope's `ts_ms` (processing time) for the events handed over next, when the plug-in
    /// reads the clock once for a batch of them (MySQL: once per rows event); nil: the clock is
    /// read per event.
    public var processingMillis: Int64? = nil
    private var sentSinceAcknowledge = 0

    public init(settings: Settings, encoder: DebeziumChangeEncoder, metrics: CaptureMetrics, reporter: CaptureMetricsReporter, logger: Logger) {
        self.settings = settings; self.encoder = encoder; self.metrics = metrics; self.reporter = reporter; self.logger = logger
    }

    /// The open transaction's start, first tag and acknowledged prefix, unless it is passed over.
    public var openTransaction: (begin: Position, firstTag: UInt64, prefix: Int)? {
        guard inTransaction, !tx.skipAll, let begin = tx.begin else { return nil }
        return (begin, tx.firstTag, tx.prefix)
    }

    /// A transaction starts. `alreadyPublished`: Kafka acknowledged all of it before a restart;
    /// `acknowledgedEvents`: how many of its first events it acknowledged.
    public mutating func begin(id: String, at position: Position, commitMillis: Int64, alreadyPublished: Bool, acknowledgedEvents: Int) {
        inTransaction = true
        tx = Transaction(id: id, begin: position, commitMillis: commitMillis, firstTag: tracker.nextTag)
        tx.skipAll = alreadyPublished
        if !alreadyPublished && acknowledgedEvents > 0 {
            tx.prefix = acknowledgedEvents
            tx.skipRemaining = acknowledgedEvents
        }
    }

    /// The open transaction commits; streaming resumes at `end` after it. `commitMicros`: µs
    /// since the Unix epoch.
    public mutating func commit(end: Position, commitMicros: Int64, producer: KafkaProducer) throws {
        defer { inTransaction = false }
        guard let begin = tx.begin, !tx.skipAll else {
            metrics.skippedTransactions.add(1, ordering: .relaxed)
            return
        }
        if settings.transactionMetadata && tx.dataEvents > 0 {
            try send(topic: transactionTopic, key: encoder.transactionKey(id: tx.id),
                     value: encoder.transactionBoundary(begin: false, id: tx.id, tsMillis: tx.commitMillis, collections: tx.perTable),
                     producer: producer)
        }
        metrics.transactions.add(1, ordering: .relaxed)
        let receive = WallClock.micros() - commitMicros
        metrics.receiveLatency.record(micros: UInt64(max(0, receive)))
        reporter.duration("receive_latency", micros: receive)   // per transaction
        tracker.finished(.init(firstTag: tx.firstTag, lastTag: tracker.nextTag - 1, begin: begin, end: end,
                               commitMicros: commitMicros, prefix: tx.prefix, incremental: incrementalChanged ? incremental : nil))
        if incrementalChanged {
            metrics.incrementalTablesPending.store(incremental.pending, ordering: .relaxed)
            incrementalChanged = false
        }
    }

    public mutating func insert<S: SourceFields>(_ table: CapturedTable, topic: String, after: [ColumnValue], source: S, producer: KafkaProducer) throws {
        guard !tx.skipAll else { return }
        try publish(op: UInt8(ascii: "c"), table, topic: topic, before: nil, after: after, key: try encoder.key(table: table, values: after),
                    source: source, producer: producer)
    }

    /// `before`: the old row or key as the log has it (nil when it has none). A changed key is
    /// published as Debezium does: a delete (+ tombstone) of the old key and a create of the new
    /// one. A table without a key (no primary key, no configured key columns) has a null Kafka
    /// key: its updates are always `u`. A key column the new row does not carry (an unchanged
    /// TOASTed value) is taken from the old row. `oldRowIsFull`: `before` is the whole old row
    /// (PostgreSQL's REPLICA IDENTITY FULL, a trigger's OLD), not only its key: then the create of
    /// a changed key takes the values the new row does not carry from it, as nothing before that
    /// create could tell a consumer what they are.
    public mutating func update<S: SourceFields>(_ table: CapturedTable, topic: String, before: [ColumnValue]?, after: [ColumnValue],
                                                 oldRowIsFull: Bool = false, source: S, producer: KafkaProducer) throws {
        guard !tx.skipAll else { return }
        let newKey = try encoder.key(table: table, values: after, fallback: before)
        if let before, let oldKey = try encoder.key(table: table, values: before), oldKey != newKey {
            try publish(op: UInt8(ascii: "d"), table, topic: topic, before: before, after: nil, key: oldKey, source: source, producer: producer)
            var created = after
            if oldRowIsFull {
                for i in created.indices where created[i] == .unchangedToast && i < before.count && before[i] != .unchangedToast { created[i] = before[i] }
            }
            try publish(op: UInt8(ascii: "c"), table, topic: topic, before: nil, after: created, key: newKey, source: source, producer: producer)
        } else {
            try publish(op: UInt8(ascii: "u"), table, topic: topic, before: before, after: after, key: newKey, source: source, producer: producer)
        }
    }

    public mutating func delete<S: SourceFields>(_ table: CapturedTable, topic: String, before: [ColumnValue], source: S, producer: KafkaProducer) throws {
        guard !tx.skipAll else { return }
        try publish(op: UInt8(ascii: "d"), table, topic: topic, before: before, after: nil, key: try encoder.key(table: table, values: before),
                    source: source, producer: producer)
    }

    public mutating func truncate<S: SourceFields>(_ table: CapturedTable, topic: String, source: S, producer: KafkaProducer) throws {
        guard !tx.skipAll else { return }
        if let w = window, table.schema == w.table.schema && table.name == w.table.name { window!.rows.removeAll() }
        try publish(op: UInt8(ascii: "t"), table, topic: topic, before: nil, after: nil, key: nil, source: source, producer: producer)
    }

    /// A row inserted into the signal table (`id`, `type`, `data` as text). `readSource`: the
    /// source fields of the reads published when a window closes here.
    public mutating func signal<S: SourceFields>(id: String?, type: String?, data: String?, readSource: S, producer: KafkaProducer) throws {
        guard !tx.skipAll, let id, let type else { return }
        switch type {
        case "snapshot-window-open":
            if window?.openID == id { window!.isOpen = true }
        case "snapshot-window-close":
            if window?.closeID == id, window!.isOpen { try closeWindow(source: readSource, producer: producer) }
        case "execute-snapshot":
            guard let data,
                  let object = try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any],   // cold path: one per signal
                  let collections = object["data-collections"] as? [String] else {
                logger.warning("signal ignored: execute-snapshot needs data {\"data-collections\": [\"schema.table\", ...]}",
                               metadata: [LogMetadataKey.signal: "\(id)"])
                return
            }
            if let kind = object["type"] as? String, kind.lowercased() != "incremental" {
                logger.warning("signal ignored: only incremental snapshots can be started by a signal (type \(kind))",
                               metadata: [LogMetadataKey.signal: "\(id)"])
                return
            }
            for c in collections {
                let q = settings.qualified(c)
                let name = q.schema + "." + q.name
                if let tables = settings.tables, !tables.contains(where: { settings.qualified($0) == q }) {
                    logger.warning("signal names a table that is not captured", metadata: [LogMetadataKey.signal: "\(id)", LogMetadataKey.table: "\(name)"])
                    continue
                }
                if incremental.enqueue(name) {
                    incrementalChanged = true
                    logger.info("incremental snapshot requested", metadata: [LogMetadataKey.signal: "\(id)", LogMetadataKey.table: "\(name)"])
                }
            }
        default:
            break
        }
    }

    /// The close marker streamed by: what is left of the chunk is published as reads.
    mutating func closeWindow<S: SourceFields>(source: S, producer: KafkaProducer) throws {
        guard let w = window else { return }
        let now = WallClock.millis()
        var published = 0
        for (key, row) in w.remainingRows {
            let value = try encoder.value(op: UInt8(ascii: "r"), table: w.table, before: nil, after: row, source: source, nowMillis: now)
            try send(topic: w.topic, key: key, value: value, producer: producer)
            published += 1
        }
        metrics.incrementalRows.add(published, ordering: .relaxed)
        incremental.chunks += 1
        if w.complete {
            incremental.finishCurrent()
            logger.info("incremental snapshot done", metadata: [LogMetadataKey.table: "\(w.table.qualifiedName)"])
        } else {
            incremental.lastKey = w.lastKey
        }
        incrementalChanged = true
        markersToDelete += [w.openID, w.closeID]
        window = nil
    }

    var transactionTopic: String { settings.topicPrefix + ".transaction" }

    mutating func publish<S: SourceFields>(op: UInt8, _ table: CapturedTable, topic: String, before: [ColumnValue]?, after: [ColumnValue]?,
                                           key: [UInt8]?, source: S, producer: KafkaProducer) throws {
        // Checked in place: binding `window` would copy the chunk's dictionary references per event.
        if let key, window?.isOpen == true, window!.table.name == table.name && window!.table.schema == table.schema {
            window!.rows.removeValue(forKey: key)   // the streamed change is newer than the chunk's read
        }
        if !settings.skippedOperations.isEmpty && settings.skippedOperations.contains(String(UnicodeScalar(op))) { return }
        var order: DebeziumChangeEncoder.TransactionOrder? = nil
        if settings.transactionMetadata {
            if tx.dataEvents == 0 {
                try send(topic: transactionTopic, key: encoder.transactionKey(id: tx.id),
                         value: encoder.transactionBoundary(begin: true, id: tx.id, tsMillis: tx.commitMillis, collections: []),
                         producer: producer)
            }
            tx.dataEvents += 1
            let name = table.schema + "." + table.name
            let i: Int
            if let j = tx.perTable.firstIndex(where: { $0.name == name }) { i = j } else { tx.perTable.append((name, 0)); i = tx.perTable.count - 1 }
            tx.perTable[i].count += 1
            order = .init(id: tx.id, totalOrder: tx.dataEvents, dataCollectionOrder: tx.perTable[i].count)
        }
        let value = try encoder.value(op: op, table: table, before: before, after: after, source: source,
                                      nowMillis: processingMillis ?? WallClock.millis(), transaction: order)
        try send(topic: topic, key: key, value: value, producer: producer)
        if op == UInt8(ascii: "d") && settings.tombstonesOnDelete && key != nil {
            try send(topic: topic, key: key, value: nil, producer: producer)
        }
        metrics.changes.add(1, ordering: .relaxed)
    }

    /// Sends one event of the open transaction, tagged for acknowledgement tracking — unless it is
    /// one of the events of a re-delivered transaction that Kafka acknowledged before a restart.
    mutating func send(topic: String, key: [UInt8]?, value: [UInt8]?, producer: KafkaProducer) throws {
        if tx.skipRemaining > 0 {
            tx.skipRemaining -= 1
            metrics.skippedEvents.add(1, ordering: .relaxed)
            return
        }
        try producer.send(topic: topic, key: key, value: value, tag: tracker.nextTag)
        _ = tracker.nextEventTag()
        sentSinceAcknowledge += 1
    }

    /// Serves Kafka's delivery reports; returns the end of the last transaction now acknowledged
    /// in full (nil: none), which may be confirmed to the database and made durable.
    public mutating func acknowledge(producer: KafkaProducer) -> Position? {
        producer.poll()
        sentSinceAcknowledge = 0
        let failed = tracker.record(producer.takeTaggedDeliveries())
        if failed > 0 { metrics.deliveryErrors.add(failed, ordering: .relaxed) }
        let now = WallClock.micros()
        var confirmed: Position? = nil
        var durable = durableIncremental
        let metrics = self.metrics, reporter = self.reporter
        tracker.takeAcknowledged { p in
            confirmed = max(confirmed ?? p.end, p.end)
            if let inc = p.incremental { durable = inc }
            // Per transaction that published something: a transaction with no change for this
            // capture (another capture's watermark message, a filtered table) has no lag to show.
            guard p.lastTag >= p.firstTag else { return }
            let latency = now - p.commitMicros
            metrics.latency.record(micros: UInt64(max(0, latency)))
            reporter.duration("lag", micros: latency)
        }
        durableIncremental = durable
        return confirmed
    }

    /// Whether an acknowledgement pass is due (every 1024 events sent).
    public var wantsAcknowledgement: Bool { sentSinceAcknowledge >= 1024 }

    /// After a lost session: events sent but never acknowledged are forgotten (the next session
    /// publishes them again from the durable position), with the open transaction and window.
    public mutating func forgetSession() {
        tracker.forgetUnacknowledged()
        inTransaction = false
        tx = Transaction()
        window = nil
        incremental = durableIncremental; incrementalChanged = false
    }
}
