public import StreamKit
public import StreamKitRedis
public import HeapModule

/// The point-in-time join of a feature job's output with labels: for a label `(entity, t)` it
/// emits the vector the online job would have served at `t`.
///
/// **Served at `t`** — among the rows the job produced for the entity, the *visible* ones are
/// those with `servedAt ≤ t` (see ``ServedFeatures``: a row on time is visible from its event
/// time on; a late update only from the watermark at which its late event arrived). The served
/// row is the visible row with the newest event time (equal event times: the one produced last,
/// as the Redis upsert keeps it). If its event time is more than the view's TTL before `t`
/// (`t − eventTime > ttl`, the online reader's freshness rule) the features are missing, and so
/// they are when no row is visible.
///
/// A label is answered when the watermark passes `t` (reaches `t + 1`): by then every row with
/// `servedAt ≤ t` has arrived, because a row travels ahead of the watermark that made it fire
/// and a late update carries the watermark it arrived at. Nothing produced later can reach it.
///
/// The operator runs chained right after the job's feature rows (no exchange): the rows of one
/// entity must come from one subtask in production order, as a keyed window or process function
/// on the entity emits them. Labels come from a shared ``LabelIndex``; state per entity seen:
/// the newest row visible to every future label, the rows not yet visible to all of them, and the
/// next unanswered label — bounded by the entities, not by the history. Labels of entities that
/// never produce a row are not emitted here (the ``Backfill`` adds them as missing). It takes no
/// part in checkpoints (a backfill is rerun, not restored).
public struct PointInTimeJoin: StreamOperator {
    public typealias Input = ServedFeatures
    public typealias Output = TrainingRow

    @usableFromInline struct EntityState {
        @usableFromInline var labels: [LabelEvent]
        @usableFromInline var next = 0
        @usableFromInline var rows: [ServedFeatures] = []
        @usableFromInline init(labels: [LabelEvent]) { self.labels = labels }
    }

    @usableFromInline struct Due: Comparable {
        @usableFromInline var time: EventTime
        @usableFromInline var entity: String
        @usableFromInline init(time: EventTime, entity: String) { self.time = time; self.entity = entity }
        @usableFromInline static func < (a: Due, b: Due) -> Bool { a.time < b.time }
    }

    @usableFromInline let labels: LabelIndex
    @usableFromInline let ttlMillis: Int64
    @usableFromInline var watermark: EventTime = Watermark.none
    @usableFromInline var entities: [String: EntityState] = [:]
    @usableFromInline var due = Heap<Due>()

    public init(labels: LabelIndex, view: FeatureView) { self.labels = labels; ttlMillis = view.ttl.milliseconds }

    @inlinable
    public mutating func processBatch(_ input: inout Batch<ServedFeatures>, into output: inout Batch<TrainingRow>,
                                      side: inout Batch<Never>, context: OperatorContext) throws {
        for i in 0..<input.count {
            let wm = input.watermarks[i]
            if wm > watermark { advance(to: wm, output: &output) }
            add(input.values[i], output: &output)
        }
    }

    @inlinable
    public mutating func processWatermark(_ watermark: EventTime, into output: inout Batch<TrainingRow>,
                                          side: inout Batch<Never>, context: OperatorContext) throws {
        if watermark > self.watermark { advance(to: watermark, output: &output) }
    }

    public mutating func finish(into output: inout Batch<TrainingRow>, side: inout Batch<Never>, context: OperatorContext) throws {
        advance(to: .max, output: &output)
    }

    @inlinable
    mutating func add(_ row: ServedFeatures, output: inout Batch<TrainingRow>) {
        let wm = watermark
        if let i = entities.index(forKey: row.entity) {
            // Every label answered, or the row becomes servable after the entity's last label.
            if entities.values[i].next >= entities.values[i].labels.count || row.servedAt > entities.values[i].labels.last!.time { return }
            entities.values[i].rows.append(row)
            Self.prune(&entities.values[i].rows, watermark: wm)
            return
        }
        guard let list = labels.byEntity[row.entity] else { return }     // never asked for
        var state = EntityState(labels: list)
        // Labels whose time the watermark passed before the entity's first row saw nothing.
        while state.next < list.count && list[state.next].time < wm {
            output.append(TrainingRow(label: list[state.next], features: nil, featureEventTime: nil),
                          timestamp: list[state.next].time, watermark: wm)
            state.next += 1
        }
        if state.next < list.count {
            due.insert(Due(time: list[state.next].time, entity: row.entity))
            if row.servedAt <= list[list.count - 1].time { state.rows.append(row) }
        }
        entities[row.entity] = state
    }

    /// Answers every label with time < `wm` (its time + 1 ≤ `wm`).
    @inlinable
    mutating func advance(to wm: EventTime, output: inout Batch<TrainingRow>) {
        let before = watermark
        while let d = due.min, d.time < wm {
            _ = due.popMin()
            guard let i = entities.index(forKey: d.entity) else { continue }
            let list = entities.values[i].labels
            var next = entities.values[i].next
            while next < list.count && list[next].time < wm {
                output.append(Self.answer(list[next], rows: entities.values[i].rows, ttlMillis: ttlMillis),
                              timestamp: list[next].time, watermark: before)
                next += 1
            }
            entities.values[i].next = next
            if next < list.count { due.insert(Due(time: list[next].time, entity: d.entity)) } else { entities.values[i].rows = [] }
        }
        watermark = wm
    }

    /// The vector served at `label.time` from `rows` (in production order).
    @inlinable
    public static func answer(_ label: LabelEvent, rows: [ServedFeatures], ttlMillis: Int64) -> TrainingRow {
        var best: ServedFeatures? = nil
        for r in rows where r.servedAt <= label.time {
            if best == nil || r.eventTime >= best!.eventTime { best = r }
        }
        guard let best, label.time &- best.eventTime <= ttlMillis else {
            return TrainingRow(label: label, features: nil, featureEventTime: nil)
        }
        return TrainingRow(label: label, features: best.values, featureEventTime: best.eventTime)
    }

    /// Keeps the newest row visible at `watermark` and every row not yet visible: a future label
    /// (time ≥ watermark) can be served nothing else.
    @inlinable
    static func prune(_ list: inout [ServedFeatures], watermark: EventTime) {
        guard list.count > 1 else { return }
        var best = -1
        for i in list.indices where list[i].servedAt <= watermark {
            if best < 0 || list[i].eventTime >= list[best].eventTime { best = i }
        }
        guard best >= 0 else { return }
        var kept = 0
        for i in list.indices where i == best || list[i].servedAt > watermark {
            if kept != i { list[kept] = list[i] }
            kept += 1
        }
        list.removeLast(list.count - kept)
    }
}
