import Foundation
import StreamKit

/// A replay as `POST /api/v1/sources/{id}/replay` takes it (validated) and the registry stores
/// it: the source's changes committed in `[start_timestamp, end_timestamp)` re-published to a new
/// topic (Kafka offsets found for the start time, then filtered by commit time). Without
/// `end_timestamp` the range ends at the request's time.
struct ReplaySpec: Codable, Sendable, Equatable {
    var start_timestamp: String
    var end_timestamp: String?
    var table_filter: [String]?
    /// Set when created.
    var source_id: String?
    var kafka_topic: String?
    var source_topics: [String]?
    var start_ms: Int64?
    var end_ms: Int64?

    static func millis(_ text: String, field: String) throws -> Int64 {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: text) { return Int64((d.timeIntervalSince1970 * 1000).rounded()) }
        f.formatOptions = [.withInternetDateTime]
        if let d = f.date(from: text) { return Int64((d.timeIntervalSince1970 * 1000).rounded()) }
        throw ServerError.invalid(field, "must be an RFC 3339 date-time such as 2026-12-05T21:00:00Z")
    }

    mutating func validate(id: String, sourceID: String, source: SourceSpec) throws {
        let start = try Self.millis(start_timestamp, field: "start_timestamp")
        // Without an end: up to the request (a replay resumed after a restart must not grow).
        let end = try end_timestamp.map { try Self.millis($0, field: "end_timestamp") } ?? WallClock.millis()
        guard end > start else { throw ServerError.invalid("end_timestamp", "must be after start_timestamp") }
        // The table checks are the consumers' (tables of the source).
        var probe = ConsumerSpec(source_id: sourceID, table_filter: table_filter)
        do {
            try probe.validate(id: id, source: source)
        }
        source_topics = probe.source_topics
        kafka_topic = "\(source.options?.topic_prefix ?? "cdc").replay.\(id)"
        source_id = sourceID
        start_ms = start; end_ms = end
        if end_timestamp == nil {
            let f = ISO8601DateFormatter()
            f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            end_timestamp = f.string(from: Date(timeIntervalSince1970: Double(end) / 1000))
        }
    }

    func selector() -> ChangeSelector {
        ChangeSelector(tables: table_filter, operations: nil, columns: nil, rowFilter: nil, commitTimes: (start_ms ?? 0)..<(end_ms ?? .max))
    }
}
