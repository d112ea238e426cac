public import Foundation
public import StreamKit
public import StreamKitKafka
public import StreamKitRedis
public import FeatureJobs

/// The operator's changes of the ``ModelVersionRegistry`` — register, promote (or point another
/// alias), roll back — each produced as its ``ModelEvent`` to the `model-events` topic, and
/// acknowledged by the broker, before it is reported done. `cdc-features models …` and the
/// control plane's `/api/v1/models` both go through it, so they make the same change and write
/// the same audit record.
///
/// A promotion to `champion` and a rollback also produce a ``ModelCommand`` (with a new unique
/// id) to the commands topic (`model-commands`; nil: none), keyed by the model: a running
/// `fraud-scoring --commands-topic` applies it to its learner once. The command goes out after
/// the registry change and its event; ``lastCommand`` is the one just produced.
///
/// Blocking (Redis and the broker's acknowledgement): call it off the concurrency pool. One
/// caller at a time.
///
/// ```swift
/// let audited = AuditedModelRegistry(registry: try ModelVersionRegistry(redis: redis), kafka: kafka)
/// let event = try audited.promote("fraud", version: "3", reason: "better on the canary")
/// ```
public final class AuditedModelRegistry: @unchecked Sendable {
    // @unchecked: used by one caller at a time (a CLI command, or the control plane's serial queue).
    public let registry: ModelVersionRegistry
    public let eventsTopic: String
    public let commandsTopic: String?
    let kafka: KafkaConfiguration
    var producer: KafkaProducer?
    /// The command the last promote or rollback produced (nil when none was).
    public private(set) var lastCommand: ModelCommand?

    public init(registry: ModelVersionRegistry, kafka: KafkaConfiguration, eventsTopic: String = "model-events",
                commandsTopic: String? = "model-commands") {
        self.registry = registry; self.kafka = kafka; self.eventsTopic = eventsTopic; self.commandsTopic = commandsTopic
    }

    /// Registers (or replaces) a version.
    @discardableResult
    public func register(_ record: ModelVersionRecord) throws -> ModelEvent {
        try published(registry.register(record))
    }

    /// Makes `version` the champion (the previous one goes on the history), or points another
    /// `alias` (e.g. `challenger`) at it.
    /// - Throws: `StreamKitError(.configuration)` when the model has no such version.
    @discardableResult
    public func promote(_ model: String, version: String, alias: String = ModelVersionRegistry.champion, reason: String? = nil) throws -> ModelEvent {
        lastCommand = nil
        guard alias == ModelVersionRegistry.champion else {
            return try published(registry.setAlias(model, alias: alias, version: version, reason: reason))
        }
        let event = try published(registry.promote(model, version: version, reason: reason))
        try command(ModelCommand(id: Self.commandID(), model: model, kind: .promote, version: version, reason: reason, issuedMs: event.atMs))
        return event
    }

    /// Makes the previous champion the champion again.
    /// - Throws: `StreamKitError(.configuration)` when there is no earlier champion.
    @discardableResult
    public func rollback(_ model: String, reason: String? = nil) throws -> ModelEvent {
        lastCommand = nil
        let event = try published(registry.rollback(model, reason: reason))
        try command(ModelCommand(id: Self.commandID(), model: model, kind: .rollback, reason: reason, issuedMs: event.atMs))
        return event
    }

    /// Produces `command` to the commands topic (keyed by the model) and waits for the
    /// acknowledgement; nothing without a commands topic.
    public func command(_ command: ModelCommand) throws {
        guard let topic = commandsTopic else { return }
        let p = try producer ?? KafkaProducer(configuration: kafka)
        producer = p
        try p.send(topic: topic, key: Array(command.model.utf8), value: Self.json(command))
        try p.flush(timeout: .seconds(30))
        try p.checkDeliveries()
        lastCommand = command
    }

    /// A new command id.
    static func commandID() -> String { UUID().uuidString.lowercased() }

    /// Produces `event` to the events topic (keyed by the model) and waits for the acknowledgement.
    public func publish(_ event: ModelEvent) throws {
        let p = try producer ?? KafkaProducer(configuration: kafka)
        producer = p
        try p.send(topic: eventsTopic, key: Array(event.model.utf8), value: Self.json(event))
        try p.flush(timeout: .seconds(30))
        try p.checkDeliveries()
    }

    func published(_ event: ModelEvent) throws -> ModelEvent {
        try publish(event)
        return event
    }

    /// The command's record on the topic: JSON with sorted keys.
    public static func json(_ command: ModelCommand) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array(try encoder.encode(command))
    }

    /// The event's record on the topic: JSON with sorted keys.
    public static func json(_ event: ModelEvent) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array(try encoder.encode(event))
    }
}
