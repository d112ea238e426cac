public import StreamKit
import Foundation

/// Model versions and their aliases in Redis (MLflow's vocabulary: versions, `champion`,
/// `challenger`), with lineage and live metrics. Every change returns the ``ModelEvent`` that
/// describes it, for the caller to publish on the `model-events` topic (the audit trail).
///
/// Keys (`prefix` defaults to `models`):
/// - `models:names` — set of model names;
/// - `models:<model>:versions` — hash version → ``ModelVersionRecord`` JSON;
/// - `models:<model>:aliases` — hash alias → version;
/// - `models:<model>:history` — list of earlier champions, newest first (for ``rollback(_:reason:)``).
///
/// Promotion and rollback run as Lua scripts, so the alias change and the history move together.
/// This is the control path (a few calls per decision): records are JSON through Foundation.
///
/// ```swift
/// let registry = try ModelVersionRegistry(redis: RedisConfiguration())
/// _ = try registry.register(ModelVersionRecord(model: "fraud", version: "1", createdMs: now))
/// let event = try registry.promote("fraud", version: "1", reason: "first version")
/// ```
public final class ModelVersionRegistry: @unchecked Sendable {
    // @unchecked: the connection is used by one caller at a time (a CLI command or a job's sink).
    public let prefix: String
    let connection: RedisConnection

    public static let champion = "champion"
    public static let challenger = "challenger"

    public init(redis: RedisConfiguration, prefix: String = "models") throws {
        self.prefix = prefix; connection = try RedisConnection(redis)
    }

    func key(_ model: String, _ part: String) -> String { "\(prefix):\(model):\(part)" }
    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Registers (or replaces) a version.
    public func register(_ record: ModelVersionRecord) throws -> ModelEvent {
        let json = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        try check(connection.command(["SADD", "\(prefix):names", record.model]))
        try check(connection.command(["HSET", key(record.model, "versions"), record.version, json]))
        return ModelEvent(type: "registered", model: record.model, version: record.version,
                          previous: record.parent, reason: record.parent.map { "forked from \($0)" }, atMs: Self.now())
    }

    /// Model names, sorted.
    public func models() throws -> [String] {
        try connection.command(["SMEMBERS", "\(prefix):names"]).elements.compactMap(\.string).sorted()
    }

    /// The versions of `model`, by version number (then name).
    public func versions(of model: String) throws -> [ModelVersionRecord] {
        let reply = try connection.command(["HVALS", key(model, "versions")])
        let records = try reply.elements.compactMap(\.string).map { try JSONDecoder().decode(ModelVersionRecord.self, from: Data($0.utf8)) }
        return records.sorted { (Int($0.version) ?? .max, $0.version) < (Int($1.version) ?? .max, $1.version) }
    }

    /// One version, nil when unknown.
    public func version(_ model: String, _ version: String) throws -> ModelVersionRecord? {
        guard let json = try connection.command(["HGET", key(model, "versions"), version]).string, !json.isEmpty else { return nil }
        return try JSONDecoder().decode(ModelVersionRecord.self, from: Data(json.utf8))
    }

    /// Alias → version.
    public func aliases(of model: String) throws -> [String: String] {
        let e = try connection.command(["HGETALL", key(model, "aliases")]).elements.compactMap(\.string)
        var out: [String: String] = [:]
        for i in stride(from: 0, to: e.count - 1, by: 2) { out[e[i]] = e[i + 1] }
        return out
    }

    /// Earlier champions, newest first.
    public func championHistory(of model: String) throws -> [String] {
        try connection.command(["LRANGE", key(model, "history"), "0", "-1"]).elements.compactMap(\.string)
    }

    /// Points `alias` at `version` (which must be registered).
    public func setAlias(_ model: String, alias: String, version: String, reason: String? = nil) throws -> ModelEvent {
        guard try self.version(model, version) != nil else {
            throw StreamKitError(.configuration, "model \(model) has no version \(version)")
        }
        let previous = try aliases(of: model)[alias]
        try check(connection.command(["HSET", key(model, "aliases"), alias, version]))
        return ModelEvent(type: "alias_set", model: model, version: version, alias: alias, previous: previous, reason: reason, atMs: Self.now())
    }

    /// Removes `alias`.
    public func removeAlias(_ model: String, alias: String, reason: String? = nil) throws -> ModelEvent? {
        guard let previous = try aliases(of: model)[alias] else { return nil }
        try check(connection.command(["HDEL", key(model, "aliases"), alias]))
        return ModelEvent(type: "alias_removed", model: model, version: previous, alias: alias, previous: previous, reason: reason, atMs: Self.now())
    }

    static let promoteScript = RedisScript("""
        local previous = redis.call('HGET', KEYS[1], 'champion')
        if previous == ARGV[1] then return previous end
        if previous then redis.call('LPUSH', KEYS[2], previous) end
        redis.call('HSET', KEYS[1], 'champion', ARGV[1])
        if redis.call('HGET', KEYS[1], 'challenger') == ARGV[1] then redis.call('HDEL', KEYS[1], 'challenger') end
        return previous or ''
        """)

    static let rollbackScript = RedisScript("""
        local previous = redis.call('LPOP', KEYS[2])
        if not previous then return false end
        local current = redis.call('HGET', KEYS[1], 'champion')
        redis.call('HSET', KEYS[1], 'champion', previous)
        return {previous, current or ''}
        """)

    /// Makes `version` the champion; the previous champion goes on the history (and the
    /// challenger alias is cleared when it pointed to `version`).
    public func promote(_ model: String, version: String, reason: String? = nil) throws -> ModelEvent {
        guard try self.version(model, version) != nil else {
            throw StreamKitError(.configuration, "model \(model) has no version \(version)")
        }
        let reply = try connection.evaluate(Self.promoteScript, keys: [key(model, "aliases"), key(model, "history")], arguments: [version])
        try check(reply)
        let previous = reply.string.flatMap { $0.isEmpty ? nil : $0 }
        return ModelEvent(type: "promoted", model: model, version: version, alias: Self.champion, previous: previous, reason: reason, atMs: Self.now())
    }

    /// Makes the previous champion (top of the history) the champion again.
    public func rollback(_ model: String, reason: String? = nil) throws -> ModelEvent {
        let reply = try connection.evaluate(Self.rollbackScript, keys: [key(model, "aliases"), key(model, "history")], arguments: [])
        try check(reply)
        let e = reply.elements.compactMap(\.string)
        guard e.count == 2 else { throw StreamKitError(.configuration, "model \(model) has no earlier champion to roll back to") }
        return ModelEvent(type: "rolled_back", model: model, version: e[0], alias: Self.champion, previous: e[1].isEmpty ? nil : e[1],
                          reason: reason, atMs: Self.now())
    }

    /// Replaces the live metrics (and optionally the trained range) of a version.
    public func updateMetrics(_ model: String, version: String, metrics: [String: Double], trainedTo: Int64? = nil) throws -> ModelEvent {
        guard var record = try self.version(model, version) else {
            throw StreamKitError(.configuration, "model \(model) has no version \(version)")
        }
        record.metrics = metrics
        if let t = trainedTo { record.trainedTo = t }
        _ = try register(record)
        return ModelEvent(type: "metrics", model: model, version: version,
                          reason: metrics.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "), atMs: Self.now())
    }

    /// Deletes every key of `model` (tests, demos).
    public func delete(_ model: String) throws {
        try check(connection.command(["DEL", key(model, "versions"), key(model, "aliases"), key(model, "history")]))
        try check(connection.command(["SREM", "\(prefix):names", model]))
    }

    func check(_ reply: RedisReply) throws {
        if case let .error(message) = reply { throw StreamKitError(.connector, "Redis model registry: \(message)") }
    }
}
