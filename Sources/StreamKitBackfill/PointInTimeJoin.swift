public import StreamKit
public import StreamKitRedis

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
/// on the entity emits them. Every subtask streams the same ``SortedLabels`` in time order as its
/// watermark advances (one label in memory) and answers the labels of the entities it has rows
/// for; a label no subtask answers had nothing servable (no row yet anywhere) and the
/// ``Backfill``'s final merge writes it as missing. State per entity seen: the newest row visible
/// to every future label plus the rows not yet visible — bounded by the entities, not by the
/// history or the labels. It takes no part in checkpoints (a backfill is rerun, not restored).
public struct PointInTimeJoin: StreamOperator {
    public typealias Input = ServedFeatures
    public typealias Output = TrainingRow

    let labels: SortedLabels
    let ttlMillis: Int64
    var reader: SortedLabels.Reader?
    var watermark: EventTime = Watermark.none
    /// Per entity: the newest row visible at `watermark` (if any) and the rows not yet visible.
    var entities: [String: [ServedFeatures]] = [:]

    public init(labels: SortedLabels, view: FeatureView) { self.labels = labels; ttlMillis = view.ttl.milliseconds }

    public mutating func open(context: OperatorContext) throws { reader = try labels.makeReader() }

    public mutating func processBatch(_ input: inout Batch<ServedFeatures>, into output: inout Batch<TrainingRow>,
                                      side: inout Batch<Never>, context: OperatorContext) throws {
        for i in 0..<input.count {
            let wm = input.watermarks[i]
            if wm > watermark { try advance(to: wm, output: &output) }
            let row = input.values[i]
            if let e = entities.index(forKey: row.entity) {
                entities.values[e].append(row)
                Self.prune(&entities.values[e], watermark: watermark)
            } else {
                entities[row.entity] = [row]
            }
        }
    }

    public mutating func processWatermark(_ watermark: EventTime, into output: inout Batch<TrainingRow>,
                                          side: inout Batch<Never>, context: OperatorContext) throws {
        if watermark > self.watermark { try advance(to: watermark, output: &output) }
    }

    public mutating func finish(into output: inout Batch<TrainingRow>, side: inout Batch<Never>, context: OperatorContext) throws {
        try advance(to: .max, output: &output)
    }

    /// Answers every label with time < `wm` (its time + 1 ≤ `wm`) whose entity has rows here.
    mutating func advance(to wm: EventTime, output: inout Batch<TrainingRow>) throws {
        let before = watermark
        while let label = try reader!.peek(), label.time < wm {
            _ = try reader!.next()
            if let rows = entities[label.entity] {
                output.append(Self.answer(label, rows: rows, ttlMillis: ttlMillis), timestamp: label.time, watermark: before)
            }
        }
        watermark = wm
    }

    /// The vector served at `label.time` from `rows` (in production order).
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
