public import StreamKit

/// A decision of ``OnlineLearner``'s retraining loop, with the numbers it was made on (the audit
/// trail: each becomes a `model-events` record).
public struct ModelDecision: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// Drift was reported: a challenger was forked and gets the canary share.
        case fork
        /// The challenger beat the champion: it is the champion now.
        case promote
        /// The challenger was worse: it is retired.
        case rollback
        /// An operator's rollback: ``ModelDecision/challenger`` (the previous champion) is the
        /// champion again and ``ModelDecision/champion`` is retired.
        case revert
    }
    public var kind: Kind
    public var model: String
    /// The champion before the decision.
    public var champion: String
    /// The challenger concerned.
    public var challenger: String
    public var eventTime: EventTime
    /// Why: the drift signal (fork) or the test's verdict (promote, rollback).
    public var reason: String
    /// Paired examples the decision was made on (0 for a fork).
    public var examples: Int64
    /// Mean of `logloss(champion) − logloss(challenger)` over those examples.
    public var meanLogLossDifference: Double
    /// Its standard error.
    public var standardError: Double
    /// Windowed log-loss of both versions at the decision (nil when unknown).
    public var championLogLoss: Double?
    public var challengerLogLoss: Double?
    /// Labelled examples the challenger was trained on when forked (the recent window).
    public var warmStartExamples: Int
    /// The operator's ``ModelCommand`` id when the decision was an operator's (its reason then
    /// starts with `operator`); nil for the learner's own decisions.
    public var command: String? = nil

    enum CodingKeys: String, CodingKey {
        case kind, model, champion, challenger, reason, examples
        case eventTime = "event_time"
        case meanLogLossDifference = "mean_logloss_difference"
        case standardError = "standard_error"
        case championLogLoss = "champion_logloss"
        case challengerLogLoss = "challenger_logloss"
        case warmStartExamples = "warm_start_examples"
        case command
    }
}

/// The champion/challenger state of one model (keyed state of ``OnlineLearner``).
public struct ModelRouting: Sendable, Hashable, StateCodable {
    public var champion: String
    public var challenger: String?
    /// Share of entities the challenger serves.
    public var canaryShare: Double
    /// The next version number to fork.
    public var nextVersion: Int64
    /// Champion vs challenger on the examples both scored since the fork.
    public var comparison: PairedComparison
    /// Event time of the last fork (drift reports inside the cool-down are ignored).
    public var lastFork: EventTime

    public func encode(to w: inout ByteWriter) {
        champion.encode(to: &w); challenger.encode(to: &w); w.writeDouble(canaryShare); w.writeVarInt(nextVersion)
        comparison.encode(to: &w); w.writeVarInt(lastFork)
    }
    public init(from r: inout ByteReader) throws {
        champion = try String(from: &r); challenger = try String?(from: &r); canaryShare = try r.readDouble()
        nextVersion = try r.readVarInt(); comparison = try PairedComparison(from: &r); lastFork = try r.readVarInt()
    }
    init(champion: String, nextVersion: Int64) {
        self.champion = champion; challenger = nil; canaryShare = 0; self.nextVersion = nextVersion
        comparison = PairedComparison(); lastFork = Int64.min / 2
    }
}

/// A labelled example kept for warm-starting a challenger: the features as served and the label.
public struct LabelledExample: Sendable, Hashable, StateCodable {
    public var features: SparseFeatures
    public var label: Double
    public func encode(to w: inout ByteWriter) { features.encode(to: &w); w.writeDouble(label) }
    public init(from r: inout ByteReader) throws { features = try SparseFeatures(from: &r); label = try r.readDouble() }
    public init(features: SparseFeatures, label: Double) { self.features = features; self.label = label }
}

/// The most recent labelled examples, oldest first (a ring of fixed capacity).
public struct RecentExamples: Sendable, Hashable, StateCodable {
    public let capacity: Int
    var ring: [LabelledExample] = []
    var next = 0
    public init(capacity: Int) { self.capacity = capacity }
    public mutating func add(_ e: LabelledExample) {
        if ring.count < capacity { ring.append(e) } else { ring[next] = e; next = (next + 1) % capacity }
    }
    public var inOrder: [LabelledExample] { ring.count < capacity ? ring : Array(ring[next...] + ring[..<next]) }
    public func encode(to w: inout ByteWriter) { w.writeVarUInt(UInt64(capacity)); inOrder.encode(to: &w) }
    public init(from r: inout ByteReader) throws {
        capacity = Int(try r.readVarUInt()); ring = try [LabelledExample](from: &r)
        guard capacity > 0, ring.count <= capacity else { throw StreamKitError(.state, "invalid recent-examples ring") }
    }
}
