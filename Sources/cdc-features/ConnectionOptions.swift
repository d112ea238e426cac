import ArgumentParser
import Foundation
import StreamKitKafka
import StreamKitRedis

/// Service addresses when no flag gives one: the environment `scripts/services env` prints, else
/// the loopback ports `scripts/services` runs the services on. Every command uses these.
enum ServiceDefaults {
    /// `$KAFKA_BROKERS`, else `127.0.0.1:19092`.
    static var brokers: String { ProcessInfo.processInfo.environment["KAFKA_BROKERS"] ?? "127.0.0.1:19092" }
    /// `$REDIS_URL`, else `redis://127.0.0.1:16379`.
    static var redis: String { ProcessInfo.processInfo.environment["REDIS_URL"] ?? "redis://127.0.0.1:16379" }
    /// `$PG_DSN`, else `postgresql://postgres@127.0.0.1:15432/app`.
    static var dsn: String { ProcessInfo.processInfo.environment["PG_DSN"] ?? "postgresql://postgres@127.0.0.1:15432/app" }
}

/// The Kafka settings of every command: `brokers`, plus librdkafka properties from
/// `KAFKA_PROPERTIES` (`name=value,name=value`, e.g. `fetch.min.bytes=65536,fetch.wait.max.ms=20`).
/// Checks that the loaded librdkafka is new enough.
func kafkaConfiguration(_ brokers: String) throws -> KafkaConfiguration {
    try KafkaRuntime.check()
    return try kafkaConfigurationUnchecked(brokers)
}

/// ``kafkaConfiguration(_:)`` without the librdkafka runtime check (for commands that may not use Kafka).
func kafkaConfigurationUnchecked(_ brokers: String) throws -> KafkaConfiguration {
    var c = KafkaConfiguration(bootstrapServers: brokers)
    if let extra = ProcessInfo.processInfo.environment["KAFKA_PROPERTIES"], !extra.isEmpty {
        for pair in extra.split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, !kv[0].isEmpty else { throw ValidationError("KAFKA_PROPERTIES: expected name=value, got '\(pair)'") }
            c.properties[kv[0]] = kv[1]
        }
    }
    return c
}

/// `--brokers`: the Kafka cluster of a command (`@OptionGroup var kafka: KafkaOptions`).
struct KafkaOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Kafka bootstrap servers (default: $KAFKA_BROKERS, else 127.0.0.1:19092).",
        discussion: "Extra librdkafka properties come from $KAFKA_PROPERTIES (name=value,name=value)."))
    var brokers: String?

    /// The bootstrap servers: the flag, else the default.
    var address: String { brokers ?? ServiceDefaults.brokers }

    /// The Kafka configuration (with `$KAFKA_PROPERTIES`); checks the librdkafka runtime.
    func configuration() throws -> KafkaConfiguration { try kafkaConfiguration(address) }
}

/// `--redis`: the Redis server of a command (`@OptionGroup var redis: RedisOptions`).
struct RedisOptions: ParsableArguments {
    @Option(name: .customLong("redis"),
            help: "Redis URL redis://[[user]:password@]host[:port][/db] (default: $REDIS_URL, else redis://127.0.0.1:16379).")
    var url: String?

    /// The Redis URL: the flag, else the default.
    var address: String { url ?? ServiceDefaults.redis }

    func configuration() throws -> RedisConfiguration { try RedisConfiguration(url: address) }
}

/// `--dsn`: the PostgreSQL database of a command (`@OptionGroup var postgres: PostgresOptions`).
struct PostgresOptions: ParsableArguments {
    @Option(help: "PostgreSQL URL or conninfo (default: $PG_DSN, else postgresql://postgres@127.0.0.1:15432/app).")
    var dsn: String?

    /// The connection string: the flag, else the default.
    var address: String { dsn ?? ServiceDefaults.dsn }
}
