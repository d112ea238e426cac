/// A ``LineDecoder`` with state that belongs in checkpoints (e.g. the recent event identities of a
/// deduplicating decoder). Sources that support it (``KafkaSource``) write the state next to their
/// position and restore it into the reader of the same subtask.
public protocol CheckpointedLineDecoder: LineDecoder {
    /// Writes the decoder's state (taken at a checkpoint barrier, between polls).
    func snapshotState(into writer: inout ByteWriter)
    /// Restores the state written by ``snapshotState(into:)``.
    mutating func restoreState(from reader: inout ByteReader) throws
}
