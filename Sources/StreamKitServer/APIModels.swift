import Foundation

// The JSON bodies of the API (`openapi.json` describes the same shapes). Optional fields are
// written as `null` rather than left out, so every documented field is always present.

struct SourceCreated: Codable, Sendable {
    var source_id: String
    var status: String
}

struct SourceView: Codable, Sendable {
    var source_id: String
    var db_type: String
    /// Redacted: the password is `***`.
    var connection_string: String
    var tables: [String]?
    var options: SourceSpec.Options
    var status: String
    var created_at: String

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(source_id, forKey: .source_id)
        try c.encode(db_type, forKey: .db_type)
        try c.encode(connection_string, forKey: .connection_string)
        try c.encode(tables, forKey: .tables)
        try c.encode(options, forKey: .options)
        try c.encode(status, forKey: .status)
        try c.encode(created_at, forKey: .created_at)
    }
}

struct SourceList: Codable, Sendable {
    var sources: [SourceView]
}

struct SourcePosition: Codable, Sendable {
    var slot: String
    /// The last LSN whose changes Kafka acknowledged (the capture's state file), null before any.
    var lsn: String?
    var snapshot_done: Bool

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(slot, forKey: .slot)
        try c.encode(lsn, forKey: .lsn)
        try c.encode(snapshot_done, forKey: .snapshot_done)
    }
}

struct SourceStarted: Codable, Sendable {
    var status: String
    var checkpoint: SourcePosition
}

struct StatusOnly: Codable, Sendable {
    var status: String
}

struct RateSample: Codable, Sendable {
    var time: String
    var rate: Double
    var lag_seconds: Double
}

struct SourceStatus: Codable, Sendable {
    var source_id: String
    var status: String
    var lag_seconds: Double
    var changes_per_second: Double
    var last_captured_timestamp: String?
    var slot_lag_bytes: Int64?
    var changes_total: Int
    var errors_total: Int
    var restarts: Int
    var last_error: String?
    var history: [RateSample]

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(source_id, forKey: .source_id)
        try c.encode(status, forKey: .status)
        try c.encode(lag_seconds, forKey: .lag_seconds)
        try c.encode(changes_per_second, forKey: .changes_per_second)
        try c.encode(last_captured_timestamp, forKey: .last_captured_timestamp)
        try c.encode(slot_lag_bytes, forKey: .slot_lag_bytes)
        try c.encode(changes_total, forKey: .changes_total)
        try c.encode(errors_total, forKey: .errors_total)
        try c.encode(restarts, forKey: .restarts)
        try c.encode(last_error, forKey: .last_error)
        try c.encode(history, forKey: .history)
    }
}

struct JobParameterView: Codable, Sendable {
    var name: String
    var help: String
    var default_value: String?

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(help, forKey: .help)
        try c.encode(default_value, forKey: .default_value)
    }
}

struct AvailableJob: Codable, Sendable {
    var name: String
    var summary: String
    var parameters: [JobParameterView]
}

struct JobStatus: Codable, Sendable {
    var job_id: String
    var job: String
    var args: [String: String]
    var topic: String
    var status: String
    var records_total: Int
    var records_per_second: Double
    /// Messages of the input topic not yet read by the job's consumer group, null when unknown.
    var consumer_lag: Int64?
    /// The lowest operator watermark (ms since the epoch), null before any.
    var watermark: Int64?
    var watermark_lag_ms: Int64?
    var last_checkpoint: Int64?
    var restarts: Int
    var last_error: String?
    var history: [RateSample]

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(job_id, forKey: .job_id)
        try c.encode(job, forKey: .job)
        try c.encode(args, forKey: .args)
        try c.encode(topic, forKey: .topic)
        try c.encode(status, forKey: .status)
        try c.encode(records_total, forKey: .records_total)
        try c.encode(records_per_second, forKey: .records_per_second)
        try c.encode(consumer_lag, forKey: .consumer_lag)
        try c.encode(watermark, forKey: .watermark)
        try c.encode(watermark_lag_ms, forKey: .watermark_lag_ms)
        try c.encode(last_checkpoint, forKey: .last_checkpoint)
        try c.encode(restarts, forKey: .restarts)
        try c.encode(last_error, forKey: .last_error)
        try c.encode(history, forKey: .history)
    }
}

struct JobList: Codable, Sendable {
    var available: [AvailableJob]
    var running: [JobStatus]
}

struct JobCreated: Codable, Sendable {
    var job_id: String
    var status: String
}

struct SavepointTaken: Codable, Sendable {
    var job_id: String
    var checkpoint: Int64
}

struct BatchGetRequest: Codable, Sendable {
    var entities: [String]
}

struct Health: Codable, Sendable {
    var status: String
}

enum Timestamps {
    static func iso8601(millis: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }
}

struct ConsumerCreated: Codable, Sendable {
    var consumer_id: String
    var kafka_topic: String
}

struct ConsumerView: Codable, Sendable {
    var consumer_id: String
    var source_id: String
    var kafka_topic: String
    var table_filter: [String]?
    var column_filter: [String]?
    var operation_filter: [String]?
    var row_filter: String?
    var status: String
    var records_total: Int
    var restarts: Int
    var last_error: String?

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(consumer_id, forKey: .consumer_id)
        try c.encode(source_id, forKey: .source_id)
        try c.encode(kafka_topic, forKey: .kafka_topic)
        try c.encode(table_filter, forKey: .table_filter)
        try c.encode(column_filter, forKey: .column_filter)
        try c.encode(operation_filter, forKey: .operation_filter)
        try c.encode(row_filter, forKey: .row_filter)
        try c.encode(status, forKey: .status)
        try c.encode(records_total, forKey: .records_total)
        try c.encode(restarts, forKey: .restarts)
        try c.encode(last_error, forKey: .last_error)
    }
}

struct ConsumerList: Codable, Sendable {
    var consumers: [ConsumerView]
}

struct ReplayCreated: Codable, Sendable {
    var replay_id: String
    var kafka_topic: String
}

struct ReplayStatus: Codable, Sendable {
    var replay_id: String
    var source_id: String
    var kafka_topic: String
    var start_timestamp: String
    var end_timestamp: String?
    var status: String
    var done: Bool
    /// Changes re-published so far (null when the server restarted after the replay finished).
    var records_read: Int?
    var restarts: Int
    var last_error: String?

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(replay_id, forKey: .replay_id)
        try c.encode(source_id, forKey: .source_id)
        try c.encode(kafka_topic, forKey: .kafka_topic)
        try c.encode(start_timestamp, forKey: .start_timestamp)
        try c.encode(end_timestamp, forKey: .end_timestamp)
        try c.encode(status, forKey: .status)
        try c.encode(done, forKey: .done)
        try c.encode(records_read, forKey: .records_read)
        try c.encode(restarts, forKey: .restarts)
        try c.encode(last_error, forKey: .last_error)
    }
}

// MARK: Models (`/api/v1/models`)

struct ModelSummary: Codable, Sendable {
    var name: String
    var versions: [String]
    /// Alias (`champion`, `challenger`) → version.
    var aliases: [String: String]
}

struct ModelList: Codable, Sendable {
    var models: [ModelSummary]
}

struct ModelVersionView: Codable, Sendable {
    var version: String
    /// The aliases pointing at this version.
    var aliases: [String]
    /// Lineage: the version it was forked from, and the event-time range it was trained on.
    var parent: String?
    var trained_from: Int64?
    var trained_to: Int64?
    var created_ms: Int64
    var parameters: [String: String]
    /// Live metrics (`auc`, `log_loss`, `count`, `updates`), as the running job last wrote them.
    var metrics: [String: Double]

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encode(aliases, forKey: .aliases)
        try c.encode(parent, forKey: .parent)
        try c.encode(trained_from, forKey: .trained_from)
        try c.encode(trained_to, forKey: .trained_to)
        try c.encode(created_ms, forKey: .created_ms)
        try c.encode(parameters, forKey: .parameters)
        try c.encode(metrics, forKey: .metrics)
    }
}

struct ModelDetail: Codable, Sendable {
    var name: String
    var aliases: [String: String]
    /// Earlier champions, newest first (what a rollback returns to).
    var champion_history: [String]
    var versions: [ModelVersionView]
}

/// `POST /api/v1/models/{name}/promote`.
struct ModelPromotion: Codable, Sendable {
    var version: String
    /// Default `champion`; another alias (e.g. `challenger`) is pointed at the version instead.
    var alias: String?
    var reason: String?
}

/// `POST /api/v1/models/{name}/rollback` (the body is optional).
struct ModelRollback: Codable, Sendable {
    var reason: String?
}
