public import Foundation
public import StreamKit
public import StreamKitKafka
public import StreamKitRedis

/// The operator's changes of the ``ModelVersionRegistry`` — register, promote (or point another
/// alias), roll back — each produced as its ``ModelEvent`` to the `model-events` topic, and
/// acknowledged by the broker, before it is reported done. `cdc-features models …` and the
/// control plane's `/api/v1/models` both go through it, so they make the same change and write
/// the same audit record.
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
    let kafka: KafkaConfiguration
    var producer: KafkaProducer?

    public init(registry: ModelVersionRegistry, kafka: KafkaConfiguration, eventsTopic: String = "model-events") {
        self.registry = registry; self.kafka = kafka; self.eventsTopic = eventsTopic
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
        try published(alias == ModelVersionRegistry.champion
            ? registry.promote(model, version: version, reason: reason)
            : registry.setAlias(model, alias: alias, version: version, reason: reason))
    }

    /// Makes the previous champion the champion again.
    /// - Throws: `StreamKitError(.configuration)` when there is no earlier champion.
    @discardableResult
    public func rollback(_ model: String, reason: String? = nil) throws -> ModelEvent {
        try published(registry.rollback(model, reason: reason))
    }

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

    /// The event's record on the topic: JSON with sorted keys.
    public static func json(_ event: ModelEvent) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array(try encoder.encode(event))
    }
}
