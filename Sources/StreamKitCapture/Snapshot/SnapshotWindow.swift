/// One incremental-snapshot chunk between its watermarks (DBLog): the rows read between the
/// window's open and close markers, keyed by their Kafka key. A change streamed while the window
/// is open removes its row (the change is newer than the read); what is left when the close
/// marker streams by is published as reads.
public struct SnapshotWindow: Sendable {
    public var openID: String, closeID: String
    public var table: CapturedTable
    public var topic: String
    /// The open marker streamed by.
    public var isOpen = false
    public var rows: [[UInt8]: [ColumnValue]] = [:]
    /// Keys in read order.
    public var order: [[UInt8]] = []
    /// The chunk's last key (text values): where the next chunk starts.
    public var lastKey: [String?]?
    /// The chunk was the table's last.
    public var complete: Bool

    public init(openID: String, closeID: String, table: CapturedTable, topic: String, lastKey: [String?]?, complete: Bool) {
        self.openID = openID; self.closeID = closeID; self.table = table; self.topic = topic; self.lastKey = lastKey; self.complete = complete
    }

    /// Adds a row read by the chunk's query.
    public mutating func add(key: [UInt8], row: [ColumnValue]) {
        rows[key] = row
        order.append(key)
    }

    /// The rows to publish when the window closes, in read order.
    public var remainingRows: [(key: [UInt8], row: [ColumnValue])] {
        order.compactMap { k in rows[k].map { (k, $0) } }
    }
}
