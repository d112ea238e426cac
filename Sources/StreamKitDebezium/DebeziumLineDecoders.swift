public import StreamKit
public import StreamKitJSON
public import Glibc

/// Decodes each line (or Kafka message value) as a Debezium change event into ``DebeziumRecord``
/// (bare or `schema`/`payload`-wrapped envelopes; `null`/empty values are tombstones). A
/// malformed event throws, so the source sends it to its dead letters with the reason.
///
/// Each source reader gets its own copy and creates its own decoder on first use (the decoder
/// keeps reusable buffers and is not shared between threads).
public struct DebeziumLineDecoder<Row: Decodable & Sendable>: LineDecoder {
    @usableFromInline let keyStrategy: FastJSONDecoder.KeyDecodingStrategy
    @usableFromInline nonisolated(unsafe) var decoder: DebeziumDecoder<Row>?

    /// `keys`: `.convertFromSnakeCase` lets `userId` read `user_id`.
    public init(_ row: Row.Type = Row.self, keys: FastJSONDecoder.KeyDecodingStrategy = .convertFromSnakeCase) {
        keyStrategy = keys
    }

    @inlinable
    public mutating func decode(_ line: UnsafeRawBufferPointer) throws -> DebeziumRecord<Row> {
        if decoder == nil { decoder = DebeziumDecoder<Row>(keyDecodingStrategy: keyStrategy) }
        return try decoder!.decode(line)
    }
}

/// Decodes each line as a plain JSON row of type `Row` (no envelope).
public struct JSONRowDecoder<Row: Decodable & Sendable>: LineDecoder {
    @usableFromInline let keyStrategy: FastJSONDecoder.KeyDecodingStrategy
    @usableFromInline nonisolated(unsafe) var decoder: FastJSONDecoder?
    public init(_ row: Row.Type = Row.self, keys: FastJSONDecoder.KeyDecodingStrategy = .convertFromSnakeCase) {
        keyStrategy = keys
    }
    @inlinable
    public mutating func decode(_ line: UnsafeRawBufferPointer) throws -> Row {
        if decoder == nil { decoder = FastJSONDecoder(keyDecodingStrategy: keyStrategy) }
        return try decoder!.decode(Row.self, from: line)
    }
}

extension DataStream {
    /// The after-images of Debezium change events (creates, snapshot reads and updates), like
    /// Debezium's `ExtractNewRecordState` with deletes dropped; deletes, truncates and tombstones
    /// are dropped (use the full ``DebeziumRecord`` stream to handle them).
    @inlinable
    public func afterImages<Row: Sendable>(name: String = "after-images") -> DataStream<Row> where Element == DebeziumRecord<Row> {
        flatMap(name) { (record: DebeziumRecord<Row>, emit: (Row) -> Void) in
            guard case let .change(envelope) = record else { return }
            switch envelope.op {
            case .create, .read, .update: if let after = envelope.after { emit(after) }
            case .delete, .truncate: break
            }
        }
    }
}
