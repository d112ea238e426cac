public import Logging

/// The metadata keys every StreamKit module logs with, in one place (swift-log's advice), so a
/// log pipeline can filter on them: `logger[metadataKey: LogMetadataKey.job] = "pricing"`.
///
/// Values must never hold a secret: connection strings are logged through
/// ``LogRedaction/connectionString(_:)``, which drops passwords.
public enum LogMetadataKey {
    /// The job's name.
    public static let job = "streamkit.job"
    /// An operator of a job.
    public static let `operator` = "streamkit.operator"
    /// The parallel subtask index of an operator or source reader.
    public static let subtask = "streamkit.subtask"
    /// A checkpoint id.
    public static let checkpoint = "streamkit.checkpoint"
    /// A restart attempt of a job.
    public static let attempt = "streamkit.attempt"
    /// A Kafka topic.
    public static let topic = "kafka.topic"
    /// A Kafka partition.
    public static let partition = "kafka.partition"
    /// A Kafka consumer group.
    public static let group = "kafka.group"
    /// A Redis feature view.
    public static let featureView = "redis.feature_view"
    /// The Redis server (host:port, never a password).
    public static let redisServer = "redis.server"
    /// A captured database's source name (the topic prefix).
    public static let captureSource = "capture.source"
    /// A captured table (`schema.table` or `db.table`).
    public static let table = "capture.table"
    /// A replication slot.
    public static let slot = "capture.slot"
    /// A source position (an LSN, a GTID, a binlog file/position).
    public static let position = "capture.position"
    /// A capture's connection string, always through ``LogRedaction/connectionString(_:)``.
    public static let dsn = "capture.dsn"
    /// A PostgreSQL publication.
    public static let publication = "capture.publication"
    /// Several captured tables (comma separated).
    public static let tables = "capture.tables"
    /// A capture signal's id (incremental snapshots).
    public static let signal = "capture.signal"
    /// The capture's signal table.
    public static let signalTable = "capture.signal_table"
    /// A capture's state file.
    public static let stateFile = "capture.state_file"
    /// A capture's lifecycle state (streaming, reconnecting, stopped, ...).
    public static let captureState = "capture.state"
    /// How long a capture waits before reconnecting.
    public static let wait = "capture.wait"
    /// A count that goes with a capture message (rows, events, bytes).
    public static let count = "capture.count"
    /// A model's name (online learning, the model registry).
    public static let model = "model.name"
    /// An operator's model command id (`model-commands`).
    public static let modelCommand = "model.command"
    /// An error's stable code.
    public static let errorCode = "error.code"
    /// An error's message.
    public static let error = "error.message"
}

/// Removes secrets from text that is about to be logged or returned.
public enum LogRedaction {
    /// `scheme://user:password@host/...` → `scheme://user:***@host/...`; libpq keyword strings
    /// (`password=...`) lose the password value too.
    public static func connectionString(_ text: String) -> String {
        var out = text
        if let scheme = out.range(of: "://") {
            // The authority ends at the first '/', '?' or '#'; its user info at the last '@' in it
            // (a password may hold an unescaped '@').
            let authorityEnd = out[scheme.upperBound...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? out.endIndex
            if let at = out[scheme.upperBound..<authorityEnd].lastIndex(of: "@") {
                let userInfo = out[scheme.upperBound..<at]
                if let colon = userInfo.firstIndex(of: ":") {
                    out.replaceSubrange(out.index(after: colon)..<at, with: "***")
                }
            }
        }
        // keyword=value form (libpq): password=secret, password='sec ret'
        var result = ""
        var rest = Substring(out)
        while let r = rest.range(of: "password=") {
            result += rest[..<r.upperBound] + "***"
            var tail = rest[r.upperBound...]
            if tail.first == "'" {
                tail = tail.dropFirst()
                if let end = tail.firstIndex(of: "'") { tail = tail[tail.index(after: end)...] } else { tail = "" }
            } else {
                let end = tail.firstIndex(where: { $0 == " " || $0 == "&" }) ?? tail.endIndex
                tail = tail[end...]
            }
            rest = tail
        }
        return result + rest
    }
}

extension Logger {
    /// A logger that discards everything: the default of library types when the caller passes none.
    public static var disabled: Logger { Logger(label: "streamkit.disabled", factory: { _ in SwiftLogNoOpLogHandler() }) }
}
