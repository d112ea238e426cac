import CoreMetrics
public import StreamKit
public import FeatureJobs

/// Publishes an ``OnlineLearner``'s evaluations and decisions as metrics (Prometheus through
/// `--metrics-port`): per model and version the windowed `streamkit_model_auc`,
/// `streamkit_model_log_loss`, `streamkit_model_window_labels` and `streamkit_model_updates`
/// gauges, the window's calibration per probability bucket (`bucket` = the bucket's upper bound):
/// `streamkit_model_calibration_predicted` (mean predicted probability),
/// `streamkit_model_calibration_observed` (observed positive rate) and
/// `streamkit_model_calibration_labels` (labelled predictions in the bucket), and
/// `streamkit_model_decisions_total{kind}` (fork, promote, rollback).
public struct ModelMetricsSink: StreamOperator {
    public typealias Input = OnlineLearningOutput
    public typealias Output = Never

    public init() {}

    public mutating func processBatch(_ input: inout Batch<OnlineLearningOutput>, into output: inout Batch<Never>,
                                      side: inout Batch<Never>, context: OperatorContext) throws {
        for o in input.values {
            switch o {
            case let .evaluation(e):
                let d = [("model", e.model), ("version", e.modelVersion)]
                if e.metrics.auc.isFinite { Gauge(label: "streamkit_model_auc", dimensions: d).record(e.metrics.auc) }
                if e.metrics.logLoss.isFinite { Gauge(label: "streamkit_model_log_loss", dimensions: d).record(e.metrics.logLoss) }
                Gauge(label: "streamkit_model_window_labels", dimensions: d).record(e.metrics.count)
                Gauge(label: "streamkit_model_updates", dimensions: d).record(e.updates)
                for b in e.metrics.calibration {
                    let bd = d + [("bucket", Self.bucketLabel(b.upper))]
                    Gauge(label: "streamkit_model_calibration_labels", dimensions: bd).record(b.count)
                    if let m = b.meanPredicted { Gauge(label: "streamkit_model_calibration_predicted", dimensions: bd).record(m) }
                    if let o = b.observedRate { Gauge(label: "streamkit_model_calibration_observed", dimensions: bd).record(o) }
                }
            case let .decision(d):
                Counter(label: "streamkit_model_decisions_total", dimensions: [("model", d.model), ("kind", d.kind.rawValue)]).increment()
            case .prediction, .update:
                continue
            }
        }
    }

    /// A bucket bound as a label value: at most three decimals (`0.1`, `0.25`, `1`).
    static func bucketLabel(_ x: Double) -> String {
        let thousandths = Int((x * 1000).rounded())
        var s = String(thousandths / 1000)
        let frac = thousandths % 1000
        if frac != 0 {
            var digits = String(frac)
            digits = String(repeating: "0", count: 3 - digits.count) + digits
            while digits.hasSuffix("0") { digits.removeLast() }
            s += "." + digits
        }
        return s
    }
}
