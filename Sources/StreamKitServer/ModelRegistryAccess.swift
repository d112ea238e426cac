import Dispatch
import Foundation
import StreamKit
import StreamKitKafka
import StreamKitRedis
import StreamKitJobs

/// `/api/v1/models`: the Redis model registry as the control plane serves it. Reads list models,
/// versions (lineage, live metrics) and aliases; promote and rollback go through
/// ``AuditedModelRegistry`` — the code `cdc-features models promote|rollback` runs — so each
/// change also produces its `model-events` record (and a promotion to champion or a rollback its
/// `model-commands` record, which a running `fraud-scoring --commands-topic` applies). Redis and the broker's acknowledgement block:
/// every call runs on one serial queue, off the concurrency pool, over one lazily opened
/// connection (reopened after a failure).
final class ModelRegistryAccess: @unchecked Sendable {
    // @unchecked: `audited` is only touched on `queue`.
    let redis: RedisConfiguration
    let kafka: KafkaConfiguration
    let prefix: String
    let eventsTopic: String
    let commandsTopic: String?
    private let queue = DispatchQueue(label: "streamkit.model-registry")
    private var audited: AuditedModelRegistry?

    init(redis: RedisConfiguration, kafka: KafkaConfiguration, prefix: String, eventsTopic: String, commandsTopic: String?) {
        self.redis = redis; self.kafka = kafka; self.prefix = prefix; self.eventsTopic = eventsTopic; self.commandsTopic = commandsTopic
    }

    func list() async throws -> ModelList {
        try await onQueue { a in
            let r = a.registry
            return ModelList(models: try r.models().map { name in
                ModelSummary(name: name, versions: try r.versions(of: name).map(\.version), aliases: try r.aliases(of: name))
            })
        }
    }

    func model(_ name: String) async throws -> ModelDetail {
        try await onQueue { a in try Self.detail(name, a.registry) }
    }

    func promote(_ name: String, _ body: ModelPromotion) async throws -> ModelEvent {
        guard !body.version.isEmpty else { throw ServerError.invalid("version", "must not be empty") }
        let alias = body.alias ?? ModelVersionRegistry.champion
        guard !alias.isEmpty else { throw ServerError.invalid("alias", "must not be empty") }
        return try await onQueue { a in
            _ = try Self.detail(name, a.registry)          // 404 for an unknown model
            guard try a.registry.version(name, body.version) != nil else { throw ServerError.notFound("version of model '\(name)'", body.version) }
            return try a.promote(name, version: body.version, alias: alias, reason: body.reason)
        }
    }

    func rollback(_ name: String, _ body: ModelRollback) async throws -> ModelEvent {
        try await onQueue { a in
            _ = try Self.detail(name, a.registry)
            guard !(try a.registry.championHistory(of: name)).isEmpty else {
                throw ServerError(.conflict, "model '\(name)' has no earlier champion to roll back to")
            }
            return try a.rollback(name, reason: body.reason)
        }
    }

    static func detail(_ name: String, _ r: ModelVersionRegistry) throws -> ModelDetail {
        guard try r.models().contains(name) else { throw ServerError.notFound("model", name) }
        let aliases = try r.aliases(of: name)
        return ModelDetail(name: name, aliases: aliases, champion_history: try r.championHistory(of: name),
                           versions: try r.versions(of: name).map { v in
                               ModelVersionView(version: v.version, aliases: aliases.filter { $0.value == v.version }.keys.sorted(),
                                                parent: v.parent, trained_from: v.trainedFrom, trained_to: v.trainedTo,
                                                created_ms: v.createdMs, parameters: v.parameters,
                                                metrics: v.metrics.filter { $0.value.isFinite })
                           })
    }

    /// Runs `body` on the queue with the registry; a Redis or Kafka failure is a 502 and drops
    /// the connection so the next call opens a new one.
    private func onQueue<T: Sendable>(_ body: @escaping @Sendable (AuditedModelRegistry) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result {
                    do {
                        let a = try self.audited ?? AuditedModelRegistry(registry: ModelVersionRegistry(redis: self.redis, prefix: self.prefix),
                                                                         kafka: self.kafka, eventsTopic: self.eventsTopic,
                                                                         commandsTopic: self.commandsTopic)
                        self.audited = a
                        return try body(a)
                    } catch let e as ServerError {
                        throw e
                    } catch let e as StreamKitError {
                        self.audited = nil
                        throw ServerError(.upstream, "model registry: \(e.message)")
                    }
                })
            }
        }
    }
}
