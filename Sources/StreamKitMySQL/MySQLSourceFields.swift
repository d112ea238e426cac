public import StreamKitJSON
public import StreamKitCapture

/// The MySQL connector's fields of Debezium's `source` block: `server_id`, `gtid`, `file`,
/// `pos`, `row`, `thread`, `query` (the core writes `db` = the table's database and `table`).
public struct MySQLSourceFields: SourceFields, Sendable {
    public var tsMillis: Int64
    public var snapshot: String
    public var serverID: UInt32
    public var gtid: String?
    public var file: String
    public var position: UInt64
    public var row: Int

    public init(tsMillis: Int64, snapshot: String, serverID: UInt32, gtid: String?, file: String, position: UInt64, row: Int) {
        self.tsMillis = tsMillis; self.snapshot = snapshot; self.serverID = serverID; self.gtid = gtid
        self.file = file; self.position = position; self.row = row
    }

    public func writeFields(to writer: inout JSONWriter) {
        writer.key("server_id"); writer.value(Int64(serverID))
        writer.key("gtid"); if let gtid { writer.value(gtid) } else { writer.null() }
        writer.field("file", file)
        writer.key("pos"); writer.value(position)
        writer.field("row", row)
        writer.nullField("thread")
        writer.nullField("query")
    }
}
