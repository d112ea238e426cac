/// The prequential metrics of one model version over its evaluation window.
public struct ModelMetrics: Sendable, Hashable, Codable {
    /// Labelled predictions in the window.
    public var count: Int
    /// Labelled predictions ever evaluated.
    public var total: Int64
    /// Positives in the window.
    public var positives: Int
    /// Mean log-loss over the window.
    public var logLoss: Double
    /// Exact ROC AUC over the window.
    public var auc: Double
    /// Predicted against observed per probability bucket.
    public var calibration: [CalibrationBucket]

    public init(count: Int, total: Int64, positives: Int, logLoss: Double, auc: Double, calibration: [CalibrationBucket]) {
        self.count = count; self.total = total; self.positives = positives; self.logLoss = logLoss; self.auc = auc
        self.calibration = calibration
    }

    enum CodingKeys: String, CodingKey {
        case count, total, positives, auc, calibration
        case logLoss = "log_loss"
    }
}
