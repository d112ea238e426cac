public import Foundation
public import StreamKit
public import FeatureJobs
public import StreamKitKafka
public import StreamKitRedis

/// Mirrors an ``OnlineLearner``'s decisions and metrics into the ``ModelVersionRegistry`` (Redis)
/// and produces each registry change as a ``ModelEvent`` to the `model-events` topic.
///
/// - at open: the first version is registered and made champion unless the model already has versions;
/// - `fork`: the challenger is registered (parent: the champion, trained from the fork's event
///   time) and gets the `challenger` alias;
/// - `promote`: the challenger becomes champion (the old one goes on the history);
/// - `rollback`: the `challenger` alias is removed;
/// - an operator's `promote` or `revert` (from a ``ModelCommand``): the registry is left alone
///   when its champion already is that version (the command's issuer changed it), else that
///   version is made champion; then a `command_applied` event (reason: the decision's reason and
///   the command id) records that the running job applied it;
/// - evaluations: the version's live metrics (`auc`, `log_loss`, `count`, `updates`) and trained-to time.
///
/// Delivery: registry writes are idempotent (the same version names and aliases on a replay);
/// events are at least once — after a restore, the decisions that followed the checkpoint are
/// produced again, with the same content except `at_ms`.
public struct ModelRegistrySink: StreamOperator {
    public typealias Input = OnlineLearningOutput
    public typealias Output = Never

    let redis: RedisConfiguration
    let kafka: KafkaConfiguration?
    let prefix: String
    let eventsTopic: String
    let model: String
    let parameters: [String: String]
    var registry: ModelVersionRegistry?
    var producer: KafkaProducer?

    public init(redis: RedisConfiguration, kafka: KafkaConfiguration?, prefix: String, eventsTopic: String, model: String, parameters: [String: String]) {
        self.redis = redis; self.kafka = kafka; self.prefix = prefix; self.eventsTopic = eventsTopic
        self.model = model; self.parameters = parameters
    }

    public mutating func open(context: OperatorContext) throws {
        let registry = try ModelVersionRegistry(redis: redis, prefix: prefix)
        self.registry = registry
        if let kafka { producer = try KafkaProducer(configuration: kafka) }
        if try registry.versions(of: model).isEmpty {
            try publish(registry.register(ModelVersionRecord(model: model, version: "1", parameters: parameters,
                                                             createdMs: Int64(Date().timeIntervalSince1970 * 1000))))
            try publish(registry.promote(model, version: "1", reason: "first version"))
        }
    }

    func publish(_ event: ModelEvent?) throws {
        guard let event, let producer else { return }
        try producer.send(topic: eventsTopic, key: Array(event.model.utf8), value: AuditedModelRegistry.json(event))
    }

    public mutating func processBatch(_ input: inout Batch<OnlineLearningOutput>, into output: inout Batch<Never>,
                                      side: inout Batch<Never>, context: OperatorContext) throws {
        guard let registry else { return }
        var sent = false
        for o in input.values {
            switch o {
            case let .decision(d):
                let reason = "\(d.reason) [\(d.kind.rawValue) at event time \(d.eventTime)]"
                switch d.kind {
                case .fork:
                    var parameters = self.parameters
                    parameters["forked_at_event_time"] = String(d.eventTime)
                    try publish(registry.register(ModelVersionRecord(model: d.model, version: d.challenger, parameters: parameters,
                                                                     parent: d.champion, trainedFrom: d.eventTime,
                                                                     createdMs: Int64(Date().timeIntervalSince1970 * 1000))))
                    try publish(registry.setAlias(d.model, alias: ModelVersionRegistry.challenger, version: d.challenger, reason: reason))
                case .promote where d.command != nil, .revert:
                    // An operator's command: the registry changed when it was issued (and wrote
                    // its event); only a registry that does not show it yet is brought in step.
                    if try registry.aliases(of: d.model)[ModelVersionRegistry.champion] != d.challenger {
                        if d.kind == .revert, try registry.championHistory(of: d.model).first == d.challenger {
                            try publish(registry.rollback(d.model, reason: reason))
                        } else {
                            try publish(registry.promote(d.model, version: d.challenger, reason: reason))
                        }
                    }
                    // The audit trail shows when the running job applied the command.
                    try publish(ModelEvent(type: "command_applied", model: d.model, version: d.challenger, alias: ModelVersionRegistry.champion,
                                           previous: d.champion, reason: "\(reason) [command \(d.command ?? "")]",
                                           atMs: Int64(Date().timeIntervalSince1970 * 1000)))
                case .promote:
                    try publish(registry.promote(d.model, version: d.challenger, reason: reason))
                case .rollback:
                    try publish(registry.removeAlias(d.model, alias: ModelVersionRegistry.challenger, reason: reason))
                }
                sent = true
            case let .evaluation(e):
                guard try registry.version(e.model, e.modelVersion) != nil else { continue }
                _ = try registry.updateMetrics(e.model, version: e.modelVersion,
                                               metrics: ["auc": e.metrics.auc, "log_loss": e.metrics.logLoss,
                                                         "count": Double(e.metrics.count), "updates": Double(e.updates)],
                                               trainedTo: e.eventTime)
            case .prediction, .update:
                continue
            }
        }
        if sent, let producer { try producer.flush(timeout: .seconds(30)); try producer.checkDeliveries() }
    }

    public mutating func finish(into output: inout Batch<Never>, side: inout Batch<Never>, context: OperatorContext) throws {
        if let producer { try producer.flush(timeout: .seconds(30)) }
    }
}
