public import Logging
import StreamKit

/// How to reach a Kafka cluster, shared by sources, sinks, producers and the admin client.
///
/// Typed options cover the common settings; anything else goes through ``properties``, which are
/// passed to librdkafka unchanged (see librdkafka's CONFIGURATION.md) and override the typed
/// options and the connector's defaults.
///
/// ```swift
/// var kafka = KafkaConfiguration(bootstrapServers: "127.0.0.1:19092")
/// kafka.properties["compression.type"] = "zstd"
/// ```
public struct KafkaConfiguration: Sendable {
    /// Comma-separated `host:port` list (`bootstrap.servers`).
    public var bootstrapServers: String
    /// `client.id`, shown in broker logs. Default: `"streamkit"`.
    public var clientID: String = "streamkit"
    /// Time limit of blocking metadata, admin and offset calls. Default: 10 s.
    public var requestTimeout: Duration = .seconds(10)
    /// Extra librdkafka properties, passed unchanged. They win over every typed option.
    public var properties: [String: String] = [:]
    /// Where clients log their creation, librdkafka's own log and error callbacks, partition
    /// assignment, pauses and delivery errors. Secrets (`sasl.password`, `ssl.key.password`, …)
    /// are never logged. librdkafka's verbosity is its `log_level` property (syslog levels, default
    /// 6) and `debug` contexts. Default: disabled.
    public var logger: Logger = .disabled

    /// A configuration for `bootstrapServers` with extra librdkafka `properties`.
    public init(bootstrapServers: String, properties: [String: String] = [:]) {
        self.bootstrapServers = bootstrapServers; self.properties = properties
    }

    /// The properties handed to librdkafka: connector defaults, then `overrides`, then ``properties``.
    func librdkafkaProperties(_ overrides: [String: String] = [:]) -> [String: String] {
        var p: [String: String] = ["bootstrap.servers": bootstrapServers, "client.id": clientID]
        p.merge(overrides) { _, new in new }
        p.merge(properties) { _, new in new }
        return p
    }

    /// Whether a librdkafka property holds a secret (its value is never logged or put in an error).
    static func isSecret(_ name: String) -> Bool {
        let n = name.lowercased()
        return n.contains("password") || n.contains("secret") || n.hasPrefix("sasl.oauthbearer.config")
            || n == "ssl.key.pem" || n == "ssl_key" || n.hasSuffix(".jaas.config")
    }

    /// `properties` for a log line: secrets replaced by `***`.
    static func redacted(_ properties: [String: String]) -> String {
        properties.keys.sorted().map { "\($0)=\(isSecret($0) ? "***" : properties[$0]!)" }.joined(separator: ",")
    }
}

/// A message header.
public struct KafkaHeader: Sendable, Hashable {
    public var name: String
    /// The value; nil is a null header value.
    public var value: [UInt8]?
    public init(name: String, value: [UInt8]?) { self.name = name; self.value = value }
    /// A header with a UTF-8 string value.
    public init(name: String, string: String) { self.name = name; self.value = Array(string.utf8) }
    /// The value as UTF-8 text.
    public var stringValue: String? { value.map { String(decoding: $0, as: UTF8.self) } }
}

/// One message to produce. A nil `key` spreads messages over partitions; a nil `value` is a
/// tombstone.
public struct KafkaMessage: Sendable {
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [KafkaHeader]
    /// Explicit partition; nil: chosen by the partitioner from the key.
    public var partition: Int32?
    /// Message timestamp (ms since the epoch); nil: the producer's current time.
    public var timestamp: Int64?
    public init(key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [], partition: Int32? = nil, timestamp: Int64? = nil) {
        self.key = key; self.value = value; self.headers = headers; self.partition = partition; self.timestamp = timestamp
    }
    /// A message with UTF-8 key and value.
    public init(key: String?, value: String, headers: [KafkaHeader] = [], timestamp: Int64? = nil) {
        self.init(key: key.map { Array($0.utf8) }, value: Array(value.utf8), headers: headers, timestamp: timestamp)
    }
}

/// A consumed message, with its bytes copied out of librdkafka.
public struct KafkaRecord: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [KafkaHeader]
    /// Timestamp in ms since the epoch (-1 when the broker has none).
    public var timestamp: Int64
    public init(topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader], timestamp: Int64) {
        self.topic = topic; self.partition = partition; self.offset = offset; self.key = key; self.value = value
        self.headers = headers; self.timestamp = timestamp
    }
    /// The key as UTF-8 text.
    public var keyString: String? { key.map { String(decoding: $0, as: UTF8.self) } }
    /// The value as UTF-8 text.
    public var valueString: String? { value.map { String(decoding: $0, as: UTF8.self) } }
    /// The first header named `name`.
    public func header(_ name: String) -> KafkaHeader? { headers.first { $0.name == name } }
}

/// Which records a consumer sees when producers use transactions.
public enum KafkaIsolationLevel: String, Sendable {
    /// Only records of committed transactions (and non-transactional records).
    /// Note: Tansu 0.6 does not hide records of *aborted* transactions, only of open ones.
    case readCommitted = "read_committed"
    /// Every record, including those of open transactions.
    case readUncommitted = "read_uncommitted"
}
