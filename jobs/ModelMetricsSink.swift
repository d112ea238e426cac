import CoreMetrics
public import StreamKit
public import FeatureJobs

/// Publishes an ``OnlineLearner``'s evaluations and decisions as metrics (Prometheus through
/// `--metrics-port`): per model and version the windowed `streamkit_model_auc`,
/// `streamkit_model_log_loss`, `streamkit_model_window_labels` and `streamkit_model_updates`
/// gauges, and `streamkit_model_decisions_total{kind}` (fork, promote, rollback).
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
            case let .decision(d):
                Counter(label: "streamkit_model_decisions_total", dimensions: [("model", d.model), ("kind", d.kind.rawValue)]).increment()
            case .prediction, .update:
                continue
            }
        }
    }
}
