public import StreamKit
public import StreamKitDebezium
public import Glibc

/// One change of a keyed table, as a changelog (Debezium, or any CDC source) delivers it.
///
/// Build it from Debezium events with ``DataStream/tableChanges(key:)``: `c`/`r`/`u` upsert the
/// after-image, `d` deletes the before-image's key, `t` truncates, Kafka tombstones are dropped
/// (the `d` event before a tombstone already deleted the row).
@frozen
public enum TableChange<Key: StreamKey, Row: Sendable>: Sendable {
    /// Insert or replace the row of `key` (Debezium `c`, `r`, `u`).
    case upsert(Key, Row)
    /// Delete the row of `key` (Debezium `d`).
    case delete(Key)
    /// Remove every row of the table (Debezium `t`).
    case truncate

    /// The key of an upsert or delete; nil for a truncate.
    @inlinable public var key: Key? {
        switch self {
        case let .upsert(k, _), let .delete(k): return k
        case .truncate: return nil
        }
    }
}

extension TableChange: Equatable where Row: Equatable {}
extension TableChange: Hashable where Row: Hashable {}

extension TableChange where Row: Decodable {
    /// The table change a Debezium record describes, or nil for a tombstone and for an update or
    /// delete that lacks the image its key is read from.
    ///
    /// An update whose key changed (`before` and `after` keys differ, a primary-key update)
    /// yields the upsert of the new key only; use ``changes(of:key:)`` to also delete the old key.
    @inlinable
    public static func change(of record: DebeziumRecord<Row>, key: (Row) -> Key) -> TableChange? {
        changes(of: record, key: key).last
    }

    /// Every table change a Debezium record describes: a primary-key update (before and after keys
    /// differ) is a delete of the old key followed by an upsert of the new one, like Debezium's
    /// own delete + create pair for key changes.
    @inlinable
    public static func changes(of record: DebeziumRecord<Row>, key: (Row) -> Key) -> [TableChange] {
        guard case let .change(e) = record else { return [] }
        switch e.op {
        case .create, .read:
            return e.after.map { [.upsert(key($0), $0)] } ?? []
        case .update:
            guard let after = e.after else { return [] }
            let newKey = key(after)
            if let before = e.before, key(before) != newKey { return [.delete(key(before)), .upsert(newKey, after)] }
            return [.upsert(newKey, after)]
        case .delete:
            return e.before.map { [.delete(key($0))] } ?? []
        case .truncate:
            return [.truncate]
        }
    }
}

extension DataStream {
    /// The table changes of a stream of Debezium records (see ``TableChange``), keyed by `key`
    /// of the row. Event time is kept from this stream: assign it before (e.g. from
    /// `envelope.source.tsMs`) when the table feeds an event-time join.
    ///
    /// ```swift
    /// let users = env.source(kafka(DebeziumLineDecoder(User.self)))
    ///     .assignTimestamps({ $0.envelope?.source.tsMs ?? 0 }, watermark: .boundedOutOfOrderness(.seconds(1)), idleness: .seconds(5))
    ///     .tableChanges { (u: User) in u.id }
    /// ```
    @inlinable
    public func tableChanges<Row: Decodable & Sendable, Key: StreamKey>(
        name: String = "table-changes", key: @escaping @Sendable (Row) -> Key
    ) -> DataStream<TableChange<Key, Row>> where Element == DebeziumRecord<Row> {
        flatMap(name) { (record: DebeziumRecord<Row>, emit: (TableChange<Key, Row>) -> Void) in
            for c in TableChange.changes(of: record, key: key) { emit(c) }
        }
    }
}

/// The key a table join partitions by: a table key, or one key group (to broadcast a truncate to
/// every key group, whichever subtask owns it).
///
/// `stableHash` of `.keyGroup(g)` is `g`, so `KeyGroups.keyGroup(of: .keyGroup(g)) == g` for
/// `g < maxParallelism`; `.key(k)` hashes like `k`, so its state lands in `k`'s own key group.
@frozen
public enum JoinKey<Key: StreamKey>: StreamKey {
    /// A row key.
    case key(Key)
    /// The per-key-group control key (holds the truncate log of that key group).
    case keyGroup(Int)

    @inlinable public var stableHash: UInt64 {
        switch self {
        case let .key(k): return k.stableHash
        case let .keyGroup(g): return UInt64(g)
        }
    }

    @inlinable public func encode(to writer: inout ByteWriter) {
        switch self {
        case let .key(k): writer.writeUInt8(0); k.encode(to: &writer)
        case let .keyGroup(g): writer.writeUInt8(1); writer.writeVarInt(Int64(g))
        }
    }

    @inlinable public init(from reader: inout ByteReader) throws {
        switch try reader.readUInt8() {
        case 0: self = .key(try Key(from: &reader))
        case 1: self = .keyGroup(Int(try reader.readVarInt()))
        case let tag: throw StreamKitError(.state, "invalid JoinKey tag \(tag)")
        }
    }
}
