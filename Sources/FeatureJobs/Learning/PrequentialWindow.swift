public import StreamKit

/// Prequential ("predict, then learn") evaluation of a model over a sliding window of its last
/// ``capacity`` labelled predictions: log-loss, exact ROC AUC, and calibration buckets.
///
/// Feed it each prediction's score — made **before** the model learned from that example — with
/// the label once known (``add(score:label:)``). Adding is O(1) and allocation-free once the
/// window is full: the ring of scores and labels is reused, and the log-loss sum, the positive
/// count and each calibration bucket's count, score sum and positives are updated for the added
/// and the evicted prediction. ``auc()`` is exact over the window (it sorts a copy: O(n log n),
/// meant for periodic reports, not per record).
///
/// The window is by count, not by time, so a quiet period does not empty it and the metrics of
/// two model versions over their last `n` labels compare like for like.
///
/// ```swift
/// var window = PrequentialWindow(capacity: 5_000)
/// let p = model.learn(x, label: y)          // the score before the update
/// window.add(score: p, label: y == 1)
/// window.metrics()                           // count, log_loss, auc, calibration …
/// ```
public struct PrequentialWindow: Sendable, Hashable {
    /// Most predictions in the window.
    public let capacity: Int
    /// Calibration buckets of equal width over [0, 1].
    public let bucketCount: Int
    @usableFromInline var scores: [Double] = []
    @usableFromInline var labels: [Bool] = []
    /// Ring position of the next write once full.
    @usableFromInline var next = 0
    @usableFromInline var logLossSum = 0.0
    @usableFromInline var positiveCount = 0
    @usableFromInline var bucketCounts: [Int]
    @usableFromInline var bucketScoreSums: [Double]
    @usableFromInline var bucketPositives: [Int]
    /// Labelled predictions ever added (not only those in the window).
    public var total: Int64 { added }
    @usableFromInline var added: Int64 = 0

    public init(capacity: Int, bucketCount: Int = 10) {
        precondition(capacity > 0 && bucketCount > 0, "capacity and bucketCount must be positive")
        self.capacity = capacity; self.bucketCount = bucketCount
        bucketCounts = Array(repeating: 0, count: bucketCount)
        bucketScoreSums = Array(repeating: 0, count: bucketCount)
        bucketPositives = Array(repeating: 0, count: bucketCount)
    }

    /// Predictions in the window.
    @inlinable public var count: Int { scores.count }
    /// Positives in the window.
    @inlinable public var positives: Int { positiveCount }

    @inlinable
    func bucket(_ score: Double) -> Int {
        let b = Int(score * Double(bucketCount))
        return Swift.min(Swift.max(b, 0), bucketCount - 1)
    }

    /// Adds one labelled prediction, evicting the oldest when full.
    @inlinable
    public mutating func add(score: Double, label: Bool) {
        if scores.count == capacity {
            let oldScore = scores[next], oldLabel = labels[next]
            remove(score: oldScore, label: oldLabel)
            scores[next] = score; labels[next] = label
            next = next + 1 == capacity ? 0 : next + 1
        } else {
            if scores.capacity < capacity { scores.reserveCapacity(capacity); labels.reserveCapacity(capacity) }
            scores.append(score); labels.append(label)
        }
        logLossSum += FeatureJobs.logLoss(probability: score, label: label)
        if label { positiveCount += 1 }
        let b = bucket(score)
        bucketCounts[b] += 1; bucketScoreSums[b] += score
        if label { bucketPositives[b] += 1 }
        added += 1
    }

    @inlinable
    mutating func remove(score: Double, label: Bool) {
        logLossSum -= FeatureJobs.logLoss(probability: score, label: label)
        if label { positiveCount -= 1 }
        let b = bucket(score)
        bucketCounts[b] -= 1; bucketScoreSums[b] -= score
        if label { bucketPositives[b] -= 1 }
    }

    /// Mean log-loss over the window (NaN when empty).
    public var logLoss: Double { scores.isEmpty ? .nan : logLossSum / Double(scores.count) }

    /// Exact ROC AUC over the window (NaN without both classes).
    public func auc() -> Double { ROCAUC.exact(scores: scores, labels: labels) }

    /// Predicted against observed per bucket.
    public var calibration: [CalibrationBucket] {
        (0..<bucketCount).map { b in
            let c = bucketCounts[b]
            return CalibrationBucket(lower: Double(b) / Double(bucketCount), upper: Double(b + 1) / Double(bucketCount), count: c,
                                     meanPredicted: c == 0 ? nil : bucketScoreSums[b] / Double(c),
                                     observedRate: c == 0 ? nil : Double(bucketPositives[b]) / Double(c))
        }
    }

    /// The window's scores and labels, oldest first.
    public var contents: (scores: [Double], labels: [Bool]) {
        guard scores.count == capacity, next > 0 else { return (scores, labels) }
        return (Array(scores[next...] + scores[..<next]), Array(labels[next...] + labels[..<next]))
    }

    /// All metrics of the window.
    public func metrics() -> ModelMetrics {
        ModelMetrics(count: count, total: total, positives: positiveCount, logLoss: logLoss, auc: auc(), calibration: calibration)
    }
}

extension PrequentialWindow: StateCodable {
    /// The settings and the window's predictions, oldest first; the sums are rebuilt on restore
    /// by adding them again in the same order, so a restored window equals the original.
    public func encode(to w: inout ByteWriter) {
        w.writeVarUInt(UInt64(capacity)); w.writeVarUInt(UInt64(bucketCount)); w.writeVarInt(total)
        let (s, l) = contents
        w.writeVarUInt(UInt64(s.count))
        for i in 0..<s.count { w.writeDouble(s[i]); w.writeBool(l[i]) }
        // The running sums carry the rounding of every add and evict: keep them bit-exact.
        w.writeDouble(logLossSum)
        for b in 0..<bucketCount { w.writeDouble(bucketScoreSums[b]) }
    }

    public init(from r: inout ByteReader) throws {
        let capacity = try r.readVarUInt(), buckets = try r.readVarUInt()
        guard capacity > 0, capacity <= 1 << 24, buckets > 0, buckets <= 1_000 else {
            throw StreamKitError(.state, "invalid prequential window (capacity \(capacity), buckets \(buckets))")
        }
        self.init(capacity: Int(capacity), bucketCount: Int(buckets))
        let total = try r.readVarInt()
        let n = try r.readVarUInt()
        guard n <= capacity else { throw StreamKitError(.state, "prequential window holds \(n) > \(capacity)") }
        for _ in 0..<n { add(score: try r.readDouble(), label: try r.readBool()) }
        added = total
        logLossSum = try r.readDouble()
        for b in 0..<bucketCount { bucketScoreSums[b] = try r.readDouble() }
    }
}
