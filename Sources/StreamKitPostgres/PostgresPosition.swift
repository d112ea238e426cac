public import StreamKitCapture

/// A position in PostgreSQL's WAL as the capture keeps it: an LSN, and how many events of the
/// transaction that commits there were already published (0: none; a re-delivery of a partly
/// published transaction publishes only the rest).
public struct PostgresPosition: SourcePosition, Hashable {
    public var lsn: UInt64
    /// Events of the transaction at `lsn` already published.
    public var event: Int

    public init(lsn: UInt64, event: Int = 0) { self.lsn = lsn; self.event = event }

    public static func < (a: PostgresPosition, b: PostgresPosition) -> Bool {
        (a.lsn, a.event) < (b.lsn, b.event)
    }

    /// `16/B374D848`, with `#n` when inside a transaction.
    public var description: String { PgOutput.format(lsn) + (event > 0 ? "#\(event)" : "") }
}
