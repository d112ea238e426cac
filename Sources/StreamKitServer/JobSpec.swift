import Foundation
import StreamKit
import StreamKitJobs

/// A started job as `POST /api/v1/jobs` takes it (validated) and the registry stores it: an
/// example job by name with its string arguments, reading Debezium events from `topic`.
struct JobSpec: Codable, Sendable, Equatable {
    var job: String
    var args: [String: String]?
    /// The Kafka topic of Debezium change events the job reads.
    var topic: String?
    /// Consumer group (default: `streamkit-<job id>`).
    var group: String?
    /// Where a job without a checkpoint starts: earliest (default) or latest.
    var from: String?
    var parallelism: Int?

    mutating func validate() throws {
        guard ExampleJobs.named(job) != nil else {
            throw ServerError.invalid("job", "unknown job '\(job)'; known: \(ExampleJobs.names.joined(separator: ", "))")
        }
        guard let t = topic, !t.isEmpty else { throw ServerError.invalid("topic", "the Kafka topic the job reads is required") }
        if let f = from, f != "earliest", f != "latest" { throw ServerError.invalid("from", "must be earliest or latest") }
        if let p = parallelism, !(1...64).contains(p) { throw ServerError.invalid("parallelism", "must be 1...64") }
        if let g = group, g.isEmpty { throw ServerError.invalid("group", "must not be empty") }
    }
}
