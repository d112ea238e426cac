import StreamKit

/// A tiny model registry: the current version of a model is the string at Redis key
/// `model_registry:<model>` (set by whoever deploys models), or a configured default.
public enum ModelRegistry {
    public static func key(_ model: String) -> String { "model_registry:\(model)" }

    /// The registered version of `model`, or `fallback` when the key is not set.
    public static func currentVersion(of model: String, redis: RedisConfiguration, fallback: String) throws -> String {
        let connection = try RedisConnection(redis)
        if case let .bulk(bytes) = try connection.command(["GET", key(model)]) { return String(decoding: bytes, as: UTF8.self) }
        return fallback
    }

    /// Registers `version` as the current version of `model`.
    public static func register(_ model: String, version: String, redis: RedisConfiguration) throws {
        let connection = try RedisConnection(redis)
        _ = try connection.command(["SET", key(model), version])
    }
}
