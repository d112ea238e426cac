public import StreamKitJSON
public import StreamKitCapture

/// The PostgreSQL connector's fields of Debezium's `source` block: `sequence`
/// (`["<last commit LSN>", "<LSN>"]`), `txId`, `lsn`, `xmin`.
public struct PostgresSourceFields: SourceFields, Sendable {
    public var lsn: UInt64
    public var lastCommitLSN: UInt64?
    public var txID: UInt32?
    public var tsMillis: Int64
    public var snapshot: String

    public init(lsn: UInt64, lastCommitLSN: UInt64?, txID: UInt32?, tsMillis: Int64, snapshot: String) {
        self.lsn = lsn; self.lastCommitLSN = lastCommitLSN; self.txID = txID; self.tsMillis = tsMillis; self.snapshot = snapshot
    }

    public func writeFields(to writer: inout JSONWriter) {
        writer.key("sequence")
        writer.value("[\(lastCommitLSN.map { "\"\($0)\"" } ?? "null"),\"\(lsn)\"]")
        writer.key("txId")
        if let txID { writer.value(Int64(txID)) } else { writer.null() }
        writer.key("lsn"); writer.value(lsn)
        writer.nullField("xmin")
    }
}
