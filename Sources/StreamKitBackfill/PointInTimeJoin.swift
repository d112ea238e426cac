public import StreamKit
public import StreamKitRedis
public import FeatureJobs

/// The point-in-time join of a feature job's output with labels, keyed by entity: for a label
/// `(entity, t)` it emits the vector the online job would have served at `t`.
///
/// **Served at `t`** — among the rows the job produced for the entity, the *visible* ones are
/// those with `servedAt ≤ t` (see ``ServedFeatures``: a row on time is visible from its event
/// time on; a late update only from the watermark at which its late event arrived). The served
/// row is the visible row with the newest event time (equal event times: the one produced last,
/// as the Redis upsert keeps it). If its event time is more than the view's TTL before `t`
/// (`t − eventTime > ttl`, the online reader's freshness rule) the features are missing, and so
/// they are when no row is visible.
///
/// A label is answered when the watermark passes `t` (a timer at `t + 1`): by then every row
/// with `servedAt ≤ t` has arrived, because rows travel ahead of the watermark that produced
/// them. Nothing produced later can reach the answer.
///
/// State per entity: the newest row visible to every future label (`servedAt ≤ watermark`) plus
/// the rows not yet visible to all of them, and the labels waiting for their time: bounded by
/// the entities, not by the input.
public struct PointInTimeJoin: KeyedProcessFunction {
    public typealias Key = String
    public typealias Input = Either<ServedFeatures, LabelEvent>
    public typealias Output = TrainingRow

    @usableFromInline let ttlMillis: Int64
    @usableFromInline var rows: ValueState<String, [ServedFeatures]>!
    @usableFromInline var labels: ValueState<String, [LabelEvent]>!

    public init(view: FeatureView) { ttlMillis = view.ttl.milliseconds }

    public mutating func open(state: KeyedStateStore<String>) throws {
        rows = state.valueState("rows")
        labels = state.valueState("labels")
    }

    public func processElement(_ value: Input, context: KeyedProcessContext<String, TrainingRow>) throws {
        switch value {
        case let .left(row):
            var list = rows.value ?? []
            list.append(row)
            Self.prune(&list, watermark: context.currentWatermark)
            rows.update(list)
        case let .right(label):
            var pending = labels.value ?? []
            pending.append(label)
            labels.update(pending)
            context.registerEventTimeTimer(label.time &+ 1)
        }
    }

    public func onTimer(_ time: Int64, domain: TimeDomain, context: KeyedProcessContext<String, TrainingRow>) throws {
        guard domain == .eventTime, let pending = labels.value else { return }
        let t = time &- 1
        let list = rows.value ?? []
        var waiting: [LabelEvent] = []
        for label in pending {
            guard label.time == t else { waiting.append(label); continue }
            context.emit(Self.answer(label, rows: list, ttlMillis: ttlMillis), timestamp: t)
        }
        if waiting.isEmpty { labels.clear() } else { labels.update(waiting) }
        if !list.isEmpty {
            var pruned = list
            Self.prune(&pruned, watermark: time)
            if pruned.count != list.count { rows.update(pruned) }
        }
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
        for (i, r) in list.enumerated() where r.servedAt <= watermark {
            if best < 0 || r.eventTime >= list[best].eventTime { best = i }
        }
        guard best >= 0 else { return }
        var kept: [ServedFeatures] = []
        kept.reserveCapacity(list.count)
        for (i, r) in list.enumerated() where i == best || r.servedAt > watermark { kept.append(r) }
        if kept.count != list.count { list = kept }
    }
}
