/// Routes each inference request to a model version: first by rules on live feature values,
/// then by a deterministic, sticky hash split of the entity with configurable shares (a canary
/// gets e.g. 10 % of users, always the same ones, whatever process or restart serves them).
///
/// ```swift
/// var split = TrafficSplit(shares: [("7", 0.9), ("8", 0.1)])          // champion 7, canary 8
/// split.rules = [.init(slot: 1, atLeast: 2.0, version: "7")]          // large ratios stay on the champion
/// let version = split.version(entity: "user-42", features: x)
/// ```
public struct TrafficSplit: Sendable, Hashable, Codable {
    /// A version and its share of the entities (shares are normalised by their sum).
    public struct Share: Sendable, Hashable, Codable {
        public var version: String
        public var share: Double
        public init(version: String, share: Double) { self.version = version; self.share = share }
    }
    /// Requests whose feature at `slot` compares to `threshold` (`>=`, `>`, `<=`, `<`) go to
    /// `version`. A slot the request does not carry does not match.
    public struct Rule: Sendable, Hashable, Codable {
        /// How the feature's value is compared with the threshold.
        public enum Comparison: String, Sendable, Hashable, Codable, CaseIterable {
            case atLeast = ">=", greaterThan = ">", atMost = "<=", lessThan = "<"
        }
        public var slot: UInt32
        public var comparison: Comparison
        public var threshold: Double
        public var version: String
        public init(slot: UInt32, _ comparison: Comparison, _ threshold: Double, version: String) {
            self.slot = slot; self.comparison = comparison; self.threshold = threshold; self.version = version
        }
        /// Feature at `slot` ≥ `atLeast`.
        public init(slot: UInt32, atLeast: Double, version: String) { self.init(slot: slot, .atLeast, atLeast, version: version) }

        /// Whether a value of the slot matches.
        @inlinable public func matches(_ value: Double) -> Bool {
            switch comparison {
            case .atLeast: value >= threshold
            case .greaterThan: value > threshold
            case .atMost: value <= threshold
            case .lessThan: value < threshold
            }
        }

        /// Whether the features carry the slot with a matching value.
        @inlinable public func matches(_ x: SparseFeatures) -> Bool {
            for k in 0..<x.count where x.indices[k] == slot && matches(x.values[k]) { return true }
            return false
        }
    }

    public var shares: [Share]
    /// Checked in order before the split; the first match wins.
    public var rules: [Rule] = []
    /// Changes which entities fall into which share (keep it fixed to keep routing sticky).
    public var salt: UInt64 = 0x5EED

    public init(shares: [(String, Double)]) {
        precondition(!shares.isEmpty && shares.allSatisfy { $0.1 >= 0 } && shares.contains { $0.1 > 0 }, "shares must be non-negative with a positive sum")
        self.shares = shares.map { Share(version: $0.0, share: $0.1) }
    }

    /// The entity's point in [0, 1): a stable hash (FNV-1a, SplitMix64 finalizer) of entity and salt.
    public func point(entity: String) -> Double { Self.point(entity: entity, salt: salt) }

    /// The entity's point in [0, 1) under `salt`.
    public static func point(entity: String, salt: UInt64) -> Double {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325 ^ salt
        for b in entity.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return Double(FeatureHasher.mix(h) >> 11) * 0x1p-53
    }

    /// The version serving `entity` with these features.
    public func version(entity: String, features: SparseFeatures? = nil) -> String {
        if let x = features {
            for rule in rules where rule.matches(x) { return rule.version }
        }
        let total = shares.reduce(0) { $0 + $1.share }
        let p = point(entity: entity) * total
        var cumulative = 0.0
        for s in shares {
            cumulative += s.share
            if p < cumulative { return s.version }
        }
        return shares.last { $0.share > 0 }!.version
    }
}
