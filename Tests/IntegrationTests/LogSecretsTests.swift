import Foundation
import Logging
import Synchronization
import Testing
import StreamKit
import StreamKitKafka
import StreamKitRedis

/// A log handler that keeps every line (message and metadata) for assertions.
final class CapturingLogHandlerStore: Sendable {
    let lines = Mutex<[String]>([])
    var all: String { lines.withLock { $0.joined(separator: "\n") } }
    func logger(_ label: String) -> Logger {
        Logger(label: label) { label in CapturingLogHandler(label: label, store: self) }
    }
}

struct CapturingLogHandler: LogHandler {
    let label: String
    let store: CapturingLogHandlerStore
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        var m = metadata
        if let extra = event.metadata { m.merge(extra) { _, new in new } }
        let line = "\(event.level) \(label): \(event.message) \(m.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))"
        store.lines.withLock { $0.append(line) }
    }
}

/// Secrets in connection settings never reach a log line, even at trace level with librdkafka's
/// debug log on.
@Suite(.serialized, .enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up)"))
struct LogSecretsTests {
    static let redisSecret = "redis-S3cr3t-\(UInt32.random(in: 0...UInt32.max))"
    static let kafkaSecret = "sasl-S3cr3t-\(UInt32.random(in: 0...UInt32.max))"
    static let keySecret = "sslkey-S3cr3t-\(UInt32.random(in: 0...UInt32.max))"

    @Test(.timeLimit(.minutes(15)))
    func redisPasswordNeverLogged() throws {
        let store = CapturingLogHandlerStore()
        let base = try RedisConfiguration(url: Services.redisURL)
        // The test server has no password: AUTH is refused (a configuration error, logged nowhere with the password).
        var config = try RedisConfiguration(url: "redis://app:\(Self.redisSecret)@\(base.host):\(base.port)/0")
        config.logger = store.logger("test.redis")
        config.maxReconnectAttempts = 1
        #expect(throws: (any Error).self) { _ = try RedisConnection(config) }
        // An unreachable server: connect errors, retries and the give-up are logged.
        var unreachable = try RedisConfiguration(url: "redis://:\(Self.redisSecret)@127.0.0.1:1/0")
        unreachable.logger = store.logger("test.redis")
        unreachable.maxReconnectAttempts = 2
        unreachable.reconnectBackoff = .milliseconds(1)
        do { _ = try RedisConnection(unreachable) } catch {
            #expect(!"\(error)".contains(Self.redisSecret))
        }
        let text = store.all
        #expect(text.contains("giving up on Redis"), "\(text)")
        #expect(!text.contains(Self.redisSecret), "\(text)")
    }

    @Test(.timeLimit(.minutes(15)))
    func kafkaSecretsNeverLogged() throws {
        let store = CapturingLogHandlerStore()
        var kafka = KafkaConfiguration(bootstrapServers: Services.kafkaBrokers)
        kafka.logger = store.logger("test.kafka")
        kafka.properties["security.protocol"] = "sasl_plaintext"
        kafka.properties["sasl.mechanisms"] = "PLAIN"
        kafka.properties["sasl.username"] = "app"
        kafka.properties["sasl.password"] = Self.kafkaSecret
        kafka.properties["ssl.key.password"] = Self.keySecret
        kafka.properties["debug"] = "all"        // librdkafka's most verbose log, config dump included
        kafka.properties["log_level"] = "7"
        kafka.properties["message.timeout.ms"] = "1500"
        do {
            let producer = try KafkaProducer(configuration: kafka)
            try? producer.send(topic: "log-secrets", message: KafkaMessage(key: "k", value: "v"))
            try? producer.flush(timeout: .seconds(3))
        } catch {
            #expect(!"\(error)".contains(Self.kafkaSecret))
        }
        // An invalid value of a secret property: the error and the log name the property, not the value.
        var bad = kafka
        bad.properties["sasl.password"] = nil
        bad.properties["ssl.key.password"] = nil
        bad.properties["sasl.password.typo"] = Self.kafkaSecret   // unknown property: rd_kafka_conf_set fails
        do {
            _ = try KafkaProducer(configuration: bad)
            Issue.record("an unknown property was accepted")
        } catch {
            #expect("\(error)".contains("sasl.password.typo"), "\(error)")
            #expect(!"\(error)".contains(Self.kafkaSecret), "\(error)")
        }

        let text = store.all
        #expect(text.contains("kafka client created"), "\(text.prefix(2000))")
        #expect(text.contains("librdkafka.facility"), "librdkafka's own log reaches the logger")
        #expect(!text.contains(Self.kafkaSecret), "\(text.components(separatedBy: "\n").filter { $0.contains(Self.kafkaSecret) }.prefix(5))")
        #expect(!text.contains(Self.keySecret))
    }
}
