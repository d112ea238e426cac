public import StreamKit
public import StreamKitRedis

/// One row of a training set: a label and the feature vector the online job would have served
/// for its entity at its time (see ``PointInTimeJoin`` for the exact rule).
public struct TrainingRow: Sendable, Equatable {
    public var label: LabelEvent
    /// The served features in the view's order; nil when nothing was servable (no row yet, or
    /// the newest servable row is older than the view's TTL).
    public var features: [FeatureValue?]?
    /// Event time of the served row (its `__event_time`); nil when missing.
    public var featureEventTime: EventTime?

    public init(label: LabelEvent, features: [FeatureValue?]?, featureEventTime: EventTime?) {
        self.label = label; self.features = features; self.featureEventTime = featureEventTime
    }

    /// Output order: label time, then entity, then input order.
    @inlinable
    public static func precedes(_ a: TrainingRow, _ b: TrainingRow) -> Bool {
        if a.label.time != b.label.time { return a.label.time < b.label.time }
        if a.label.entity != b.label.entity { return a.label.entity < b.label.entity }
        return a.label.sequence < b.label.sequence
    }
}
