/// The labels of a backfill by entity, each entity's in time order: read-only and shared by every
/// subtask of the join (labels are read before the history and held in memory).
public final class LabelIndex: Sendable {
    /// Labels by entity, sorted by time (then input order).
    public let byEntity: [String: [LabelEvent]]
    /// All labels.
    public let count: Int

    /// `labels` sorted by time; ``LabelEvent/sequence`` must identify a label.
    public init(_ labels: [LabelEvent]) {
        var by: [String: [LabelEvent]] = [:]
        for l in labels { by[l.entity, default: []].append(l) }
        byEntity = by; count = labels.count
    }
}
