public import StreamKitCapture

/// A position in a MariaDB server's binlog as the capture keeps it: the binlog file and offset
/// (ordered: files are numbered), the GTID state after the transaction ending there (what a
/// restart connects with), and how many events of the transaction starting there were already
/// published (0: none).
public struct MySQLPosition: SourcePosition, Hashable {
    public var file: String
    public var position: UInt64
    /// The GTID of the transaction at this position (a begin), or the GTID state after it (an end).
    public var gtid: String
    public var event: Int

    public init(file: String, position: UInt64, gtid: String, event: Int = 0) {
        self.file = file; self.position = position; self.gtid = gtid; self.event = event
    }

    public static func < (a: MySQLPosition, b: MySQLPosition) -> Bool {
        if a.file != b.file { return a.file.count != b.file.count ? a.file.count < b.file.count : a.file < b.file }
        return (a.position, a.event) < (b.position, b.event)
    }

    /// `binlog.000003:1234 (0-1-42)`, with `#n` inside a transaction.
    public var description: String { "\(file):\(position) (\(gtid))" + (event > 0 ? "#\(event)" : "") }
}
