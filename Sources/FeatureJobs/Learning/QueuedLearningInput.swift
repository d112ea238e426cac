public import StreamKit

/// One input of ``OnlineLearner`` waiting for the watermark, or a horizon that will close.
///
/// The learner applies its inputs in this type's order, which depends only on the inputs
/// themselves — never on how the upstream streams interleaved: event time first; at equal time
/// labels, then horizon closes, then drift triggers, then score requests (a label or close at
/// `t` is known to a request at `t`); then by label key / request id.
public struct QueuedLearningInput: Sendable, Comparable, StateCodable {
    /// What waits.
    public enum Payload: Sendable, Hashable {
        case label(LabelEvent)
        /// The horizon of the prediction remembered under this label key closes.
        case horizonClose(labelKey: String)
        case drift(RetrainTrigger)
        case score(ScoreRequest)

        /// Rank at equal event time.
        @inlinable var rank: UInt8 {
            switch self {
            case .label: 0
            case .horizonClose: 1
            case .drift: 2
            case .score: 3
            }
        }
    }

    /// Event time at which it applies.
    public var time: EventTime
    public var payload: Payload

    @inlinable public init(time: EventTime, payload: Payload) { self.time = time; self.payload = payload }

    /// The queued form of a learner input at its event time (an operator's ``LearningEvent/command(_:)``
    /// is applied on arrival and never queued: nil).
    @inlinable public init?(_ event: LearningEvent, time: EventTime) {
        self.time = time
        switch event {
        case let .label(l): payload = .label(l)
        case let .drift(d): payload = .drift(d)
        case let .score(s): payload = .score(s)
        case .command: return nil
        }
    }

    @inlinable
    public static func < (a: Self, b: Self) -> Bool {
        if a.time != b.time { return a.time < b.time }
        let ra = a.payload.rank, rb = b.payload.rank
        if ra != rb { return ra < rb }
        switch (a.payload, b.payload) {
        case let (.label(x), .label(y)):
            return x.labelKey != y.labelKey ? x.labelKey < y.labelKey : x.label < y.label
        case let (.horizonClose(x), .horizonClose(y)):
            return x < y
        case let (.drift(x), .drift(y)):
            return x.feature != y.feature ? x.feature < y.feature : x.description < y.description
        case let (.score(x), .score(y)):
            if x.requestID != y.requestID { return x.requestID < y.requestID }
            if x.labelKey != y.labelKey { return x.labelKey < y.labelKey }
            return x.entity < y.entity
        default:
            return false
        }
    }

    @inlinable
    public static func == (a: Self, b: Self) -> Bool { a.time == b.time && a.payload == b.payload }

    public func encode(to w: inout ByteWriter) {
        w.writeVarInt(time)
        w.writeUInt8(payload.rank)
        switch payload {
        case let .label(l):
            l.labelKey.encode(to: &w); w.writeDouble(l.label)
        case let .horizonClose(key):
            key.encode(to: &w)
        case let .drift(d):
            d.feature.encode(to: &w); d.description.encode(to: &w)
        case let .score(s):
            s.labelKey.encode(to: &w); s.requestID.encode(to: &w); s.entity.encode(to: &w)
            s.modelVersion.encode(to: &w); s.features.encode(to: &w)
        }
    }

    public init(from r: inout ByteReader) throws {
        time = try r.readVarInt()
        switch try r.readUInt8() {
        case 0:
            payload = .label(LabelEvent(labelKey: try String(from: &r), label: try r.readDouble()))
        case 1:
            payload = .horizonClose(labelKey: try String(from: &r))
        case 2:
            payload = .drift(RetrainTrigger(feature: try String(from: &r), description: try String(from: &r)))
        case 3:
            let labelKey = try String(from: &r), requestID = try String(from: &r), entity = try String(from: &r)
            let version = try String?(from: &r)
            payload = .score(ScoreRequest(labelKey: labelKey, requestID: requestID, entity: entity, modelVersion: version,
                                          features: try SparseFeatures(from: &r)))
        case let k:
            throw StreamKitError(.state, "queued learner input of unknown kind \(k)")
        }
    }
}
