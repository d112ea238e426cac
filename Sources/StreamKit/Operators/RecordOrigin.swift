/// Where a record was read: the source's stream (a Kafka topic, a file), its split (partition) and
/// its position in the split (offset, line), plus the message key when there is one.
public struct RecordOrigin: Sendable, Hashable, CustomStringConvertible {
    public var source: String
    public var split: Int32
    public var position: Int64
    public var key: [UInt8]?
    public init(source: String, split: Int32, position: Int64, key: [UInt8]? = nil) {
        self.source = source; self.split = split; self.position = position; self.key = key
    }
    /// `topic[partition]@offset`.
    public var description: String { "\(source)[\(split)]@\(position)" }
}
