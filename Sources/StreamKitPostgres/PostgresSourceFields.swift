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
        // `["<last commit LSN>","<LSN>"]` as a JSON string, built in a stack buffer (this runs
        // for every change; string interpolation here allocated twice per event).
        writer.key("sequence")
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 48) { buffer in
            var n = 0
            func put(_ byte: UInt8) { buffer[n] = byte; n += 1 }
            func put(decimal value: UInt64) {
                var count = 1, probe = value / 10
                while probe > 0 { count += 1; probe /= 10 }
                var v = value, i = n + count - 1
                repeat { buffer[i] = UInt8(truncatingIfNeeded: v % 10) &+ 48; v /= 10; i -= 1 } while v > 0
                n += count
            }
            put(UInt8(ascii: "["))
            if let lastCommitLSN { put(UInt8(ascii: "\"")); put(decimal: lastCommitLSN); put(UInt8(ascii: "\"")) } else {
                for b in "null".utf8 { put(b) }
            }
            put(UInt8(ascii: ",")); put(UInt8(ascii: "\"")); put(decimal: lsn); put(UInt8(ascii: "\"")); put(UInt8(ascii: "]"))
            writer.value(utf8: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<n]))
        }
        writer.key("txId")
        if let txID { writer.value(Int64(txID)) } else { writer.null() }
        writer.key("lsn"); writer.value(lsn)
        writer.nullField("xmin")
    }
}
