import ArgumentParser
import Foundation
import StreamKitCapture

/// The options every log-based capture shares (`capture postgres`, `capture mysql`): what is
/// published and how — filters, tombstones, transaction metadata, heartbeats, reconnects,
/// batching. `@OptionGroup var events: CaptureEventOptions`.
struct CaptureEventOptions: ParsableArguments {
    @Flag(name: .customLong("no-tombstones"), help: "Do not send a tombstone after each delete.") var noTombstones = false
    @Option(name: .customLong("exclude-columns"), help: "Columns left out of events: schema.table.column or table.column, comma separated.") var excludeColumns: String?
    @Option(name: .customLong("message-key-columns"), help: "Kafka key columns per table instead of the primary key (Debezium's message.key.columns): schema.table:col1,col2;schema.other:col. A table without a primary key or an entry has a null key.") var messageKeyColumns: String?
    @Option(name: .customLong("mask-columns"), help: "Columns written as \"***\": same form.") var maskColumns: String?
    @Option(name: .customLong("skip-ops"), help: "Operations not published: any of c,u,d,t.") var skipOps: String?
    @Flag(name: .customLong("transaction-metadata"), help: "BEGIN/END events on <prefix>.transaction and a transaction block in every change (Debezium's provide.transaction.metadata).") var transactionMetadata = false
    @Option(name: .customLong("heartbeat-interval"), help: "Heartbeat records to __debezium-heartbeat.<prefix> this often (e.g. 10s); default: none.") var heartbeatInterval: Duration?
    @Option(name: .customLong("heartbeat-query"), help: "SQL run on every heartbeat (e.g. an UPDATE of a heartbeat table) so the position moves while the captured tables are idle.") var heartbeatQuery: String?
    @Option(name: .customLong("reconnect-attempts"), help: "Consecutive failed reconnects to the database before giving up (the wait doubles from 0.5 s to 10 s).") var reconnectAttempts: Int = 60
    @Option(name: .customLong("linger-ms"), help: "Milliseconds events wait to fill a Kafka record batch (librdkafka linger.ms): larger batches are cheaper for the broker and the consumers.") var lingerMs: Int = 10

    /// A comma-separated list.
    static func list(_ s: String?) -> [String] {
        s.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } } ?? []
    }

    var excluded: [String] { Self.list(excludeColumns) }
    var masked: [String] { Self.list(maskColumns) }

    func keyColumns(defaultSchema: String) throws -> MessageKeyColumns {
        do { return try MessageKeyColumns(parsing: messageKeyColumns ?? "", defaultSchema: defaultSchema) } catch {
            throw ValidationError("--message-key-columns: \(error.captureMessage)")
        }
    }

    func skippedOperations() throws -> Set<String> {
        let ops = Set(Self.list(skipOps))
        if let bad = ops.first(where: { !["c", "u", "d", "t"].contains($0) }) {
            throw ValidationError("--skip-ops: unknown operation \(bad) (use c, u, d, t)")
        }
        return ops
    }

    func linger() throws -> Duration {
        guard lingerMs >= 0 else { throw ValidationError("--linger-ms must not be negative") }
        return .milliseconds(lingerMs)
    }
}
