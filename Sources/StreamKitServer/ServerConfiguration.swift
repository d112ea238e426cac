import Logging
public import StreamKitKafka
public import StreamKitRedis

/// What `cdc-features serve` runs with: where it listens, where its registry lives, who may call
/// it, and the Kafka and Redis every capture, job and feature lookup uses.
///
/// ```swift
/// var c = ServerConfiguration(port: 8080, dataDirectory: "/var/lib/streamkit",
///                             tokens: try AccessTokens(contentsOfFile: "/etc/streamkit/tokens"),
///                             kafka: KafkaConfiguration(bootstrapServers: "127.0.0.1:19092"),
///                             redis: try RedisConfiguration(url: "redis://127.0.0.1:16379"))
/// let server = try ControlServer(configuration: c, logger: logger)
/// try await ServiceGroup(configuration: .init(services: server.services, gracefulShutdownSignals: [.sigterm], logger: logger)).run()
/// ```
public struct ServerConfiguration: Sendable {
    /// Address the API listens on. Default: 127.0.0.1.
    public var host: String = "127.0.0.1"
    /// API port (0: any free port; ``ControlServer`` reports the bound one).
    public var port: Int
    /// HTTPS with this certificate and key; nil (the default): plain HTTP.
    public var tls: ServerTLS? = nil
    /// The registry (SQLite), capture positions and job checkpoints live here.
    public var dataDirectory: String
    /// Bearer tokens and their roles.
    public var tokens: AccessTokens
    public var kafka: KafkaConfiguration
    public var redis: RedisConfiguration
    /// Waits between restarts of a failing capture or job. Default: 0.5 s doubling to 30 s.
    public var restartBackoff = RestartBackoff()
    /// Time between a supervised job's periodic checkpoints. Default: 5 s.
    public var jobCheckpointInterval: Duration = .seconds(5)
    /// How often source and job rates are sampled for status and the status page. Default: 1 s.
    public var sampleInterval: Duration = .seconds(1)

    /// Redis key prefix of the model registry (`/api/v1/models`). Default: `models`.
    public var modelRegistryPrefix = "models"
    /// Topic of the model registry's change events. Default: `model-events`.
    public var modelEventsTopic = "model-events"
    /// Topic promote and rollback also produce a ``ModelCommand`` to, for running jobs
    /// (`fraud-scoring --commands-topic`); nil: none. Default: `model-commands`.
    public var modelCommandsTopic: String? = "model-commands"

    public init(port: Int, dataDirectory: String, tokens: AccessTokens, kafka: KafkaConfiguration, redis: RedisConfiguration) {
        self.port = port; self.dataDirectory = dataDirectory; self.tokens = tokens; self.kafka = kafka; self.redis = redis
    }
}
