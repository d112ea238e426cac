/// One version of a model in the ``ModelVersionRegistry``: its parameters, lineage and latest
/// live metrics (MLflow's "model version", kept in Redis).
public struct ModelVersionRecord: Sendable, Hashable, Codable {
    public var model: String
    public var version: String
    /// Hyper-parameters and settings (e.g. `alpha`, `l1`, `bits`, `warm_start`).
    public var parameters: [String: String]
    /// The version it was forked from (nil for a first version).
    public var parent: String?
    /// Event-time range of the examples it was trained on so far (ms; nil when unknown).
    public var trainedFrom: Int64?
    public var trainedTo: Int64?
    /// Wall-clock registration time (ms since the epoch).
    public var createdMs: Int64
    /// Latest live metrics (`auc`, `log_loss`, `count`, …).
    public var metrics: [String: Double]

    public init(model: String, version: String, parameters: [String: String] = [:], parent: String? = nil,
                trainedFrom: Int64? = nil, trainedTo: Int64? = nil, createdMs: Int64, metrics: [String: Double] = [:]) {
        self.model = model; self.version = version; self.parameters = parameters; self.parent = parent
        self.trainedFrom = trainedFrom; self.trainedTo = trainedTo; self.createdMs = createdMs; self.metrics = metrics
    }

    enum CodingKeys: String, CodingKey {
        case model, version, parameters, parent, metrics
        case trainedFrom = "trained_from"
        case trainedTo = "trained_to"
        case createdMs = "created_ms"
    }
}
