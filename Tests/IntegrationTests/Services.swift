import Foundation
import StreamKit

/// Addresses of the local services started by `scripts/services up` (overridable by environment).
enum Services {
    static var kafkaBrokers: String { ProcessInfo.processInfo.environment["KAFKA_BROKERS"] ?? "127.0.0.1:19092" }
    static var redisURL: String { ProcessInfo.processInfo.environment["REDIS_URL"] ?? "redis://127.0.0.1:16379" }
    static var postgresDSN: String { ProcessInfo.processInfo.environment["PG_DSN"] ?? "postgresql://postgres@127.0.0.1:15432/app" }
}
