public import StreamKit
public import Glibc

/// A stream record together with the table row it was joined with (nil: no row, left-outer).
public struct Enriched<Left: Sendable, Right: Sendable>: Sendable {
    /// The stream record.
    public var left: Left
    /// The table row current for it, or nil when the table had no row for its key.
    public var right: Right?
    /// Creates an enriched record.
    @inlinable public init(left: Left, right: Right?) { self.left = left; self.right = right }
}

extension Enriched: Equatable where Left: Equatable, Right: Equatable {}
extension Enriched: Hashable where Left: Hashable, Right: Hashable {}

/// Whether stream records without a table row are emitted.
public enum JoinMode: Sendable, Hashable {
    /// Only stream records that found a row.
    case inner
    /// Every stream record; `right` is nil when no row was found.
    case leftOuter
}

/// Which table row a stream record is joined with.
public enum TableJoinTime: Sendable, Hashable {
    /// The row current when the record arrives at the join subtask: no buffering, lowest latency;
    /// results depend on how the two inputs interleave. The table keeps, per key, the change with
    /// the latest change time (event time of the change; without timestamps, the last to arrive),
    /// so changes of one key reordered on the way (a parallel union) still end in the right row.
    /// A record keeps its own timestamp.
    case processingOrder
    /// The row version valid at the record's event time (Flink's event-time temporal join,
    /// `FOR SYSTEM_TIME AS OF`): a record at `t` waits until the watermark passes `t` (the table
    /// side cannot deliver another change at or before `t`), then joins the last change with
    /// event time `≤ t` (changes of the same millisecond apply in arrival order).
    case eventTime
}

/// The input of a ``TableJoinFunction``: stream records (probes) and table changes routed by
/// ``JoinKey`` (a truncate is fanned out to every key group, see ``inputs(for:keyGroups:)``).
@frozen
public enum TableJoinInput<Key: StreamKey, Probe: Sendable, Row: Sendable>: Sendable {
    /// A stream record to enrich.
    case probe(Probe)
    /// Insert or replace the row of a key.
    case upsert(Key, Row)
    /// Delete the row of a key.
    case delete(Key)
    /// A table truncate, delivered to one key group (one such record per key group).
    case truncate(keyGroup: Int)

    /// The join inputs of one table change: a truncate becomes one record per key group so that
    /// every subtask, and every key group after a rescale, sees it.
    @inlinable
    public static func inputs(for change: TableChange<Key, Row>, keyGroups: KeyGroups) -> [TableJoinInput] {
        switch change {
        case let .upsert(k, row): return [.upsert(k, row)]
        case let .delete(k): return [.delete(k)]
        case .truncate: return (0..<keyGroups.maxParallelism).map { .truncate(keyGroup: $0) }
        }
    }

    /// The partitioning key of a join input (probes by `probeKey`).
    @inlinable
    public static func routingKey(probeKey: @escaping @Sendable (Probe) -> Key) -> @Sendable (TableJoinInput) -> JoinKey<Key> {
        { input in
            switch input {
            case let .probe(p): return .key(probeKey(p))
            case let .upsert(k, _), let .delete(k): return .key(k)
            case let .truncate(g): return .keyGroup(g)
            }
        }
    }
}

/// One version of a table row in the join state: written at `timestamp`, after `epoch` truncates
/// of its key group; `row` nil is a delete.
public struct RowVersion<Row: Sendable & StateCodable>: Sendable, StateCodable {
    public var timestamp: EventTime
    public var epoch: Int64
    public var row: Row?
    @inlinable public init(timestamp: EventTime, epoch: Int64, row: Row?) {
        self.timestamp = timestamp; self.epoch = epoch; self.row = row
    }
    @inlinable public func encode(to w: inout ByteWriter) { w.writeVarInt(timestamp); w.writeVarInt(epoch); row.encode(to: &w) }
    @inlinable public init(from r: inout ByteReader) throws {
        timestamp = try r.readVarInt(); epoch = try r.readVarInt(); row = try Row?(from: &r)
    }
}

/// The truncates one key group has seen: their count (the key group's table version) and, in
/// event-time mode, the event time of each one still relevant, with its epoch.
public struct TruncateLog: Sendable, Hashable, StateCodable {
    /// Truncates seen so far (the epoch new row versions are stamped with).
    public var count: Int64 = 0
    /// (event time, epoch after the truncate), sorted by time.
    public var times: [EventTime] = []
    public var epochs: [Int64] = []
    public init() {}
    public func encode(to w: inout ByteWriter) { w.writeVarInt(count); times.encode(to: &w); epochs.encode(to: &w) }
    public init(from r: inout ByteReader) throws {
        count = try r.readVarInt(); times = try [EventTime](from: &r); epochs = try [Int64](from: &r)
    }
}

/// Stream × table enrichment join: each stream record (probe) is joined with the current row of
/// its key in a table maintained from a changelog (Debezium CDC), like Flink's temporal join.
///
/// **State** (keyed by ``JoinKey``, checkpointed and redistributed by key group):
/// - `versions` — per table key, the row versions still needed (``RowVersion``); processing-order
///   mode keeps only the latest (a delete stays as a tombstone version until the watermark passes it). Optional `tableTTL` (processing time) expires rows not written for
///   that long.
/// - `pending` — event-time mode: probes waiting for the watermark, by event time.
/// - `truncates` — per key group (key `.keyGroup(g)`), its ``TruncateLog``.
///
/// **Upsert / delete**: `c`, `r`, `u` write the after-image as a new version; `d` writes a delete
/// version (a tombstone: the key reads as absent from its time on; a later insert re-creates it).
///
/// **Truncate** cannot clear keyed state directly (a keyed function only reaches the current
/// key), so it is handled with a per-key-group table version: the truncate is delivered to every
/// key group; each key group counts its truncates (its *epoch*) and every row version is stamped
/// with the epoch it was written in. A row is visible only if no truncate happened between its
/// version and the lookup (processing order: its epoch equals the current one; event time: no
/// truncate with time in `(version time, lookup time]`, ties by arrival). Stale rows are dropped
/// lazily: when their key is next written, probed or cleaned up, or by `tableTTL`. State after a
/// truncate is therefore bounded by the number of keys, as before it.
///
/// **Event-time mode**: a probe at `t` is buffered until the watermark exceeds `t` (then no change
/// at or before `t` can still arrive, since records behind the watermark are late), and joined with
/// the version valid at `t`; its output carries time `t`. Versions older than the one valid at the
/// watermark are dropped by event-time timers, so state does not grow with the number of changes.
/// Late probes (time below the watermark) are joined at once against the retained versions (the
/// oldest retained one is the version valid at the watermark, which may be newer than the one valid
/// at `t`). A table side that goes quiet holds the watermark back: give its source an `idleness`.
///
/// ```swift
/// let enriched = interactions
///     .joinTable(users, key: { $0.userId }, mode: .leftOuter, time: .eventTime)
/// ```
public struct TableJoinFunction<Key: StreamKey, Probe: Sendable & StateCodable, Row: Sendable & StateCodable>: KeyedProcessFunction {
    public typealias Input = TableJoinInput<Key, Probe, Row>
    public typealias Output = Enriched<Probe, Row>

    public let mode: JoinMode
    public let time: TableJoinTime
    public let tableTTL: StateTTL?
    @usableFromInline var versions: ValueState<JoinKey<Key>, [RowVersion<Row>]>!
    @usableFromInline var pending: MapState<JoinKey<Key>, EventTime, [Probe]>!
    @usableFromInline var truncates: ValueState<JoinKey<Key>, TruncateLog>!
    @usableFromInline var keyContext: KeyContext<JoinKey<Key>>!
    @usableFromInline let keyGroups: KeyGroups

    /// - Parameters:
    ///   - keyGroups: the job's key groups (``StreamEnvironment/keyGroups``); truncates are
    ///     delivered per key group of this configuration.
    public init(mode: JoinMode = .leftOuter, time: TableJoinTime = .eventTime, tableTTL: StateTTL? = nil,
                keyGroups: KeyGroups = KeyGroups()) {
        self.mode = mode; self.time = time; self.tableTTL = tableTTL; self.keyGroups = keyGroups
    }

    /// The keyed operator running this function (for a hand-built graph or a test harness).
    public static func makeOperator(_ function: TableJoinFunction, probeKey: @escaping @Sendable (Probe) -> Key)
    -> KeyedProcessOperator<TableJoinFunction> {
        KeyedProcessOperator(function, key: Input.routingKey(probeKey: probeKey))
    }

    public mutating func open(state: KeyedStateStore<JoinKey<Key>>) throws {
        versions = state.valueState("table-join.versions", ttl: tableTTL)
        pending = state.mapState("table-join.pending")
        truncates = state.valueState("table-join.truncates")
        keyContext = state.keyContext
    }

    /// The truncate log of the current key's key group (switches the state's key and back).
    @usableFromInline func truncateLog(of key: JoinKey<Key>) -> TruncateLog {
        guard case .key = key else { return truncates.value ?? TruncateLog() }
        let saved = keyContext.currentKey
        keyContext.currentKey = .keyGroup(keyGroups.keyGroup(of: key))
        defer { keyContext.currentKey = saved }
        return truncates.value ?? TruncateLog()
    }

    public func processElement(_ value: Input, context: KeyedProcessContext<JoinKey<Key>, Output>) throws {
        switch value {
        case let .probe(p):
            switch time {
            case .processingOrder:
                emit(p, row: lookupLatest(context.key), context: context, timestamp: context.timestamp)
            case .eventTime:
                let ts = context.timestamp
                if ts < context.currentWatermark {
                    emit(p, row: lookup(at: ts, log: truncateLog(of: context.key)), context: context, timestamp: ts)
                    return
                }
                var list = pending[ts] ?? []
                list.append(p)
                pending[ts] = list
                context.registerEventTimeTimer(ts &+ 1)
            }
        case let .upsert(_, row): write(row, context: context)
        case .delete: write(nil, context: context)
        case .truncate:
            var log = truncates.value ?? TruncateLog()
            log.count += 1
            let ts = context.timestamp
            let i = log.times.firstIndex { $0 > ts } ?? log.times.count
            log.times.insert(ts, at: i); log.epochs.insert(log.count, at: i)
            context.registerEventTimeTimer(ts &+ 1)
            truncates.update(log)
        }
    }

    @usableFromInline func write(_ row: Row?, context: KeyedProcessContext<JoinKey<Key>, Output>) {
        let epoch = truncateLog(of: context.key).count
        let v = RowVersion(timestamp: context.timestamp, epoch: epoch, row: row)
        var list = versions.value ?? []
        switch time {
        case .processingOrder:
            // Last writer wins by change time: a change that overtook an older one of the same key
            // (e.g. through a parallel union) is not undone by the older one arriving after it.
            if let current = list.last, current.timestamp > v.timestamp { return }
            list = [v]
        case .eventTime:
            let i = list.firstIndex { $0.timestamp > v.timestamp } ?? list.count
            list.insert(v, at: i)
        }
        versions.update(list)
        context.registerEventTimeTimer(v.timestamp &+ 1)
    }

    @usableFromInline func emit(_ p: Probe, row: Row?, context: KeyedProcessContext<JoinKey<Key>, Output>, timestamp: EventTime) {
        if row == nil && mode == .inner { return }
        context.emit(Enriched(left: p, right: row), timestamp: timestamp)
    }

    @usableFromInline func lookupLatest(_ key: JoinKey<Key>) -> Row? {
        guard let v = versions.value?.last, let row = v.row else { return nil }
        return Self.truncated(v, before: .max, log: truncateLog(of: key)) ? nil : row
    }

    @usableFromInline static func truncated(_ v: RowVersion<Row>, before t: EventTime, log: TruncateLog) -> Bool {
        for (i, tt) in log.times.enumerated() where tt <= t {
            if v.timestamp < tt || (v.timestamp == tt && v.epoch < log.epochs[i]) { return true }
        }
        return false
    }

    /// The row valid at event time `t` among the retained versions of the current key.
    @usableFromInline func lookup(at t: EventTime, log: TruncateLog) -> Row? {
        guard let v = versions.value?.last(where: { $0.timestamp <= t }), v.row != nil else { return nil }
        return Self.truncated(v, before: t, log: log) ? nil : v.row
    }

    public func onTimer(_ time: Int64, domain: TimeDomain, context: KeyedProcessContext<JoinKey<Key>, Output>) throws {
        // A timer at `time` means the watermark passed `time - 1`: everything before `time` is
        // final. Work up to `time` only (not the whole watermark), so that the timers of one
        // watermark jump emit in event-time order and later probes still find their versions.
        guard case .key = context.key else {
            // Truncate log: keep the last truncate before `time` (rows not touched since may
            // still predate it) and every later one.
            guard var log = truncates.value else { return }
            if let last = log.times.lastIndex(where: { $0 < time }), last > 0 {
                log.times.removeFirst(last); log.epochs.removeFirst(last)
                truncates.update(log)
            }
            return
        }
        let log = truncateLog(of: context.key)
        if self.time == .eventTime {
            let due = pending.entriesOfCurrentKey.filter { $0.0 < time }.sorted { $0.0 < $1.0 }
            for (ts, probes) in due {
                let row = lookup(at: ts, log: log)
                for p in probes { emit(p, row: row, context: context, timestamp: ts) }
                pending[ts] = nil
            }
        }
        // Versions: every one from `time` on, plus the one valid just before `time` (unless it is
        // a delete or truncated away: then the key reads as absent anyway).
        guard let list = versions.value else { return }
        var keep = list.filter { $0.timestamp >= time }
        if let base = list.last(where: { $0.timestamp < time }), base.row != nil,
           !Self.truncated(base, before: time &- 1, log: log) {
            keep.insert(base, at: 0)
        }
        if keep.isEmpty { versions.clear() } else if keep.count != list.count { versions.update(keep) }
    }
}

extension DataStream where Element: StateCodable {
    /// Enriches each record with the row of its key in `table` (a changelog, e.g. from
    /// ``DataStream/tableChanges(name:key:)``): a stream × table join (Flink's temporal join).
    ///
    /// - Parameters:
    ///   - key: the table key of a stream record (e.g. `user_id`).
    ///   - mode: `.leftOuter` emits every record (`right` nil without a row); `.inner` only matches.
    ///   - time: `.eventTime` joins the row version valid at the record's event time (records wait
    ///     for the watermark); `.processingOrder` the row current on arrival. See ``TableJoinTime``.
    ///   - tableTTL: drop table rows not written for this long (processing time).
    ///   - keyGroups: must equal the environment's ``StreamEnvironment/keyGroups`` (default 128).
    ///
    /// ```swift
    /// let users = env.fromCollection(userEvents).assignTimestamps({ $0.envelope?.source.tsMs ?? 0 }, watermark: .monotonous)
    ///     .tableChanges { (u: User) in u.id }
    /// interactions.assignTimestamps(\.ts, watermark: .boundedOutOfOrderness(.seconds(2)))
    ///     .joinTable(users, key: \.userId)
    ///     .map { "\($0.left.item) by \($0.right?.name ?? "?")" }
    /// ```
    @inlinable
    public func joinTable<Key: StreamKey, Row: Sendable & StateCodable>(
        _ table: DataStream<TableChange<Key, Row>>, key: @escaping @Sendable (Element) -> Key,
        mode: JoinMode = .leftOuter, time: TableJoinTime = .eventTime, tableTTL: StateTTL? = nil,
        keyGroups: KeyGroups = KeyGroups(), name: String = "table-join"
    ) -> DataStream<Enriched<Element, Row>> {
        let probes = map("\(name)-probes") { TableJoinInput<Key, Element, Row>.probe($0) }
        let changes = table.flatMap("\(name)-changes") { (c: TableChange<Key, Row>, emit: (TableJoinInput<Key, Element, Row>) -> Void) in
            for input in TableJoinInput<Key, Element, Row>.inputs(for: c, keyGroups: keyGroups) { emit(input) }
        }
        return probes.union(changes)
            .keyBy(TableJoinInput<Key, Element, Row>.routingKey(probeKey: key))
            .process(TableJoinFunction<Key, Element, Row>(mode: mode, time: time, tableTTL: tableTTL, keyGroups: keyGroups), name: name)
    }
}
