/// Predicted against observed in one probability bucket of a ``PrequentialWindow``: a
/// well-calibrated model has `meanPredicted ≈ observedRate` in every bucket.
public struct CalibrationBucket: Sendable, Hashable, Codable {
    /// Bucket bounds `[lower, upper)` of the predicted probability (the last bucket includes 1).
    public var lower: Double
    public var upper: Double
    /// Labelled predictions in the bucket.
    public var count: Int
    /// Mean predicted probability (nil when empty).
    public var meanPredicted: Double?
    /// Fraction of positives (nil when empty).
    public var observedRate: Double?

    enum CodingKeys: String, CodingKey {
        case lower, upper, count
        case meanPredicted = "mean_predicted"
        case observedRate = "observed_rate"
    }
}
