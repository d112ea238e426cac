public import StreamKit

/// The input of ``OnlineLearner``: a request to score (and remember) a feature vector, or the
/// label of an earlier one.
public enum LearningEvent: Sendable, Hashable {
    case score(ScoreRequest)
    case label(LabelEvent)
    /// A drift monitor reported significant drift (e.g. a ``DriftReport`` with signals): with a
    /// ``OnlineLearner/RetrainingPolicy`` the learner forks a challenger.
    case drift(RetrainTrigger)
    /// An operator's promote or rollback (``ModelCommand``). Unlike the other inputs it is
    /// applied when it arrives, at the learner's current watermark, and only once per command id.
    case command(ModelCommand)
}

/// A drift report reduced to what the retraining loop logs with its decision.
public struct RetrainTrigger: Sendable, Hashable {
    public var feature: String
    public var description: String
    public init(feature: String, description: String) { self.feature = feature; self.description = description }
    /// The signal of a report that crossed its thresholds, nil otherwise.
    public init?(_ report: DriftReport) {
        guard !report.signals.isEmpty else { return nil }
        feature = report.feature
        description = "\(report.feature) drift (\(report.signals.map(\.rawValue).joined(separator: ", "))): PSI \(report.psi), KS \(report.ks.statistic) over [\(report.windowStart), \(report.windowEnd)) vs \(report.reference.rawValue)"
    }
}

/// One inference request: the feature vector exactly as served, the version chosen by routing,
/// the inference request id (logged with the prediction), and the key its label will carry (a
/// transaction id, or the request id itself when labels come back by request id).
public struct ScoreRequest: Sendable, Hashable {
    /// What the label will name (e.g. `"tx:123"`).
    public var labelKey: String
    /// The inference request id (``InferenceRequestID``-style, carried in `streamkit.request.id`).
    public var requestID: String
    public var entity: String
    /// The version that serves this request (see ``TrafficSplit``); nil: the learner's first version.
    public var modelVersion: String?
    public var features: SparseFeatures
    public init(labelKey: String, requestID: String, entity: String, modelVersion: String? = nil, features: SparseFeatures) {
        self.labelKey = labelKey; self.requestID = requestID; self.entity = entity; self.modelVersion = modelVersion; self.features = features
    }
}

/// The label of the prediction remembered under `labelKey` (1 = positive, e.g. a chargeback).
public struct LabelEvent: Sendable, Hashable {
    public var labelKey: String
    public var label: Double
    public init(labelKey: String, label: Double) { self.labelKey = labelKey; self.label = label }
}

/// A prediction remembered until its label arrives or its horizon closes: the features as
/// served and every version's score (the serving version's and the shadow scores of the others,
/// so versions are compared on the same examples).
public struct PendingPrediction: Sendable, Hashable, StateCodable {
    public var requestID: String
    public var servedBy: String
    public var eventTime: EventTime
    public var features: SparseFeatures
    public var versions: [String]
    public var scores: [Double]
    /// The label known so far (with ``OnlineLearner/LabelTiming/horizon``, or a label that
    /// arrived before its prediction).
    public var label: Double?
    /// When the horizon closes (event time).
    public var deadline: EventTime
    /// A label waiting for a prediction that has not arrived (no features, no scores).
    public var isPlaceholder: Bool { versions.isEmpty }

    public func encode(to w: inout ByteWriter) {
        requestID.encode(to: &w); servedBy.encode(to: &w); w.writeVarInt(eventTime); features.encode(to: &w)
        versions.encode(to: &w); scores.encode(to: &w); label.encode(to: &w); w.writeVarInt(deadline)
    }
    public init(from r: inout ByteReader) throws {
        requestID = try String(from: &r); servedBy = try String(from: &r); eventTime = try r.readVarInt()
        features = try SparseFeatures(from: &r); versions = try [String](from: &r); scores = try [Double](from: &r)
        label = try Double?(from: &r); deadline = try r.readVarInt()
    }
    init(requestID: String, servedBy: String, eventTime: EventTime, features: SparseFeatures, versions: [String], scores: [Double], label: Double?, deadline: EventTime) {
        self.requestID = requestID; self.servedBy = servedBy; self.eventTime = eventTime; self.features = features
        self.versions = versions; self.scores = scores; self.label = label; self.deadline = deadline
    }
}

/// What ``OnlineLearner`` emits.
public enum OnlineLearningOutput: Sendable, Hashable {
    /// A served prediction (to the inference-request log / the caller).
    case prediction(ServedPrediction)
    /// A version learned from a labelled prediction.
    case update(ModelUpdate)
    /// A version's prequential metrics (every ``OnlineLearner/Configuration/reportEvery`` labels).
    case evaluation(ModelEvaluation)
    /// A retraining decision (fork, promote, rollback) with its numbers.
    case decision(ModelDecision)

    public var prediction: ServedPrediction? { if case let .prediction(p) = self { return p }; return nil }
    public var update: ModelUpdate? { if case let .update(u) = self { return u }; return nil }
    public var evaluation: ModelEvaluation? { if case let .evaluation(e) = self { return e }; return nil }
    public var decision: ModelDecision? { if case let .decision(d) = self { return d }; return nil }
}

/// A prediction as served: request id, entity, version, score, and the features it was made from.
public struct ServedPrediction: Sendable, Hashable {
    public var requestID: String
    public var labelKey: String
    public var entity: String
    public var modelVersion: String
    public var score: Double
    public var eventTime: EventTime
    public var features: SparseFeatures
}

/// One labelled example a version learned from: the score it gave before learning, the label,
/// and whether the label came from the horizon closing (no label arrived).
public struct ModelUpdate: Sendable, Hashable {
    public var modelVersion: String
    public var requestID: String
    public var labelKey: String
    public var score: Double
    public var label: Double
    public var byHorizon: Bool
    /// Event time of the prediction.
    public var predictionTime: EventTime
}

/// A version's prequential metrics at an event time.
public struct ModelEvaluation: Sendable, Hashable {
    public var model: String
    public var modelVersion: String
    public var eventTime: EventTime
    public var updates: Int64
    public var metrics: ModelMetrics
}
