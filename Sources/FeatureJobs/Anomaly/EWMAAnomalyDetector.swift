public import StreamKit
public import Glibc

/// Exponentially weighted mean and variance of a stream (West 1979; Finch 2009, "Incremental
/// calculation of weighted mean and variance"), the state of ``EWMAAnomalyDetector``.
///
/// For each new value `x` with smoothing factor `α ∈ (0, 1]`:
///
///     diff = x − μ
///     incr = α · diff
///     μ    ← μ + incr
///     σ²   ← (1 − α) · (σ² + diff · incr)
///
/// The first value initialises `μ = x`, `σ² = 0`. A larger α forgets faster: the weight of a value
/// `k` steps back is `α(1 − α)^k`, an effective memory of about `1/α` values (`2/α − 1` for the
/// "span" convention of pandas' `ewm`, whose `adjust=False` recursion this is).
public struct EWMAState: Sendable, Hashable, StateCodable {
    /// Values folded in so far.
    public var count: Int64 = 0
    public var mean: Double = 0
    public var variance: Double = 0

    public init() {}
    public init(count: Int64, mean: Double, variance: Double) { self.count = count; self.mean = mean; self.variance = variance }

    /// `√variance`.
    public var standardDeviation: Double { variance.squareRoot() }

    /// Folds `x` in with smoothing factor `alpha`.
    public mutating func update(_ x: Double, alpha: Double) {
        if count == 0 { mean = x; variance = 0; count = 1; return }
        let diff = x - mean
        let incr = alpha * diff
        mean += incr
        variance = (1 - alpha) * (variance + diff * incr)
        count += 1
    }

    /// The z-score of `x` against this state: `(x − μ) / σ`. With `σ = 0` it is 0 if `x == μ` and
    /// ±∞ otherwise (any deviation from a perfectly constant history is infinitely unusual); with
    /// no history (`count == 0`) it is 0.
    public func zScore(_ x: Double) -> Double {
        if count == 0 { return 0 }
        let sd = standardDeviation, d = x - mean
        if sd > 0 { return d / sd }
        return d == 0 ? 0 : (d > 0 ? .infinity : -.infinity)
    }

    public func encode(to w: inout ByteWriter) { w.writeVarInt(count); w.writeDouble(mean); w.writeDouble(variance) }
    public init(from r: inout ByteReader) throws { count = try r.readVarInt(); mean = try r.readDouble(); variance = try r.readDouble() }
}

/// The anomaly score of one record.
public struct AnomalyScore<Key: Sendable & Hashable & Codable>: Sendable, Hashable, Codable {
    public var key: Key
    /// The scored value.
    public var value: Double
    /// EWMA mean *before* this value was folded in (the value itself when there was no history).
    public var mean: Double
    /// EWMA standard deviation before this value was folded in.
    public var stddev: Double
    /// `(value − mean) / stddev` (see ``EWMAState/zScore(_:)`` for σ = 0).
    public var z: Double
    /// `|z| > threshold` and the key had at least `warmUp` earlier values.
    public var isOutlier: Bool
    /// Event time of the record.
    public var eventTime: EventTime
    public init(key: Key, value: Double, mean: Double, stddev: Double, z: Double, isOutlier: Bool, eventTime: EventTime) {
        self.key = key; self.value = value; self.mean = mean; self.stddev = stddev; self.z = z
        self.isOutlier = isOutlier; self.eventTime = eventTime
    }
}

/// Scores every record against the exponentially weighted mean and variance of its key
/// (``EWMAState``) and flags outliers, as a ``KeyedProcessFunction`` with checkpointed state.
///
/// For each record with value `x` (in arrival order per key):
/// 1. `z = (x − μ) / σ` from the key's state **before** `x` — a value must not vouch for itself;
/// 2. `isOutlier = count ≥ warmUp && |z| > threshold`, where `count` is the number of earlier
///    values of the key (the first `warmUp` values only build the state);
/// 3. `x` is folded into the state (unless it is an outlier and `updateOnOutlier` is false, which
///    keeps a burst of outliers from dragging the baseline along).
///
/// NaN values are passed through with `z = NaN`, never flagged, and leave the state unchanged.
///
/// ```swift
/// env.fromCollection(readings)
///     .assignTimestamps(\.time, watermark: .monotonous)
///     .keyBy(\.sensor)
///     .process(EWMAAnomalyDetector<Reading, String>(alpha: 0.05, threshold: 4, warmUp: 20) { $0.value })
/// ```
public struct EWMAAnomalyDetector<Input: Sendable, Key: StreamKey & Codable>: KeyedProcessFunction {
    public typealias Output = AnomalyScore<Key>
    /// Smoothing factor α ∈ (0, 1].
    public let alpha: Double
    /// |z| above which a value is an outlier.
    public let threshold: Double
    /// Values a key must have seen before it can flag one.
    public let warmUp: Int64
    /// Whether outliers are folded into the state. Default: true (the standard recursion).
    public let updateOnOutlier: Bool
    /// Optional expiry of a key's state (processing time since the last write).
    public let ttl: StateTTL?
    @usableFromInline let value: @Sendable (Input) -> Double
    var state: ValueState<Key, EWMAState>!

    /// - Parameters:
    ///   - alpha: smoothing factor in (0, 1]. Default 0.1 (memory ≈ 10 values).
    ///   - threshold: |z| above which a value is flagged. Default 3.
    ///   - warmUp: earlier values needed before flagging. Default 10.
    public init(alpha: Double = 0.1, threshold: Double = 3, warmUp: Int64 = 10, updateOnOutlier: Bool = true,
                ttl: StateTTL? = nil, value: @escaping @Sendable (Input) -> Double) {
        precondition(alpha > 0 && alpha <= 1, "alpha must be in (0, 1]")
        precondition(threshold > 0, "threshold must be positive")
        precondition(warmUp >= 0, "warmUp must be non-negative")
        self.alpha = alpha; self.threshold = threshold; self.warmUp = warmUp
        self.updateOnOutlier = updateOnOutlier; self.ttl = ttl; self.value = value
    }

    public mutating func open(state store: KeyedStateStore<Key>) throws {
        state = store.valueState("ewma", of: EWMAState.self, ttl: ttl)
    }

    public func processElement(_ record: Input, context: KeyedProcessContext<Key, AnomalyScore<Key>>) throws {
        let x = value(record)
        var s = state.value ?? EWMAState()
        let score = Self.score(x, state: s, threshold: threshold, warmUp: warmUp, key: context.key, eventTime: context.timestamp)
        if !x.isNaN && (updateOnOutlier || !score.isOutlier) {
            s.update(x, alpha: alpha)
            state.update(s)
        }
        context.emit(score)
    }

    /// The score of `x` against `state` (no state change): what ``processElement(_:context:)`` emits.
    public static func score(_ x: Double, state s: EWMAState, threshold: Double, warmUp: Int64, key: Key,
                             eventTime: EventTime) -> AnomalyScore<Key> {
        let hasHistory = s.count > 0
        let z = x.isNaN ? .nan : s.zScore(x)
        let flagged = !x.isNaN && s.count >= warmUp && Swift.abs(z) > threshold
        return AnomalyScore(key: key, value: x, mean: hasHistory ? s.mean : x, stddev: s.standardDeviation, z: z,
                            isOutlier: flagged, eventTime: eventTime)
    }
}
