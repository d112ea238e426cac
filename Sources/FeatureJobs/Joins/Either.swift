public import StreamKit
public import Glibc

/// One record of a two-input operator: a record of the left input or of the right one.
///
/// Two-input operators are built on the one-input runtime: both inputs are mapped into
/// `Either`, unioned and keyed, and a ``KeyedProcessFunction`` switches on the case. The input
/// gate of the keyed operator combines the watermarks of both inputs by minimum, which is exactly
/// the watermark a two-input operator (Flink's `KeyedCoProcessOperator`) works with.
///
/// ```swift
/// let both: DataStream<Either<Click, Order>> = clicks.map { .left($0) }.union(orders.map { .right($0) })
/// ```
@frozen
public enum Either<Left, Right> {
    /// A record of the left (first) input.
    case left(Left)
    /// A record of the right (second) input.
    case right(Right)

    /// The left record, or nil.
    @inlinable public var left: Left? { if case let .left(l) = self { return l }; return nil }
    /// The right record, or nil.
    @inlinable public var right: Right? { if case let .right(r) = self { return r }; return nil }
}

extension Either: Sendable where Left: Sendable, Right: Sendable {}
extension Either: Equatable where Left: Equatable, Right: Equatable {}
extension Either: Hashable where Left: Hashable, Right: Hashable {}

extension Either: StateCodable where Left: StateCodable, Right: StateCodable {
    /// A tag byte (0 = left, 1 = right) followed by the value.
    @inlinable
    public func encode(to writer: inout ByteWriter) {
        switch self {
        case let .left(l): writer.writeUInt8(0); l.encode(to: &writer)
        case let .right(r): writer.writeUInt8(1); r.encode(to: &writer)
        }
    }

    @inlinable
    public init(from reader: inout ByteReader) throws {
        switch try reader.readUInt8() {
        case 0: self = .left(try Left(from: &reader))
        case 1: self = .right(try Right(from: &reader))
        case let tag: throw StreamKitError(.state, "invalid Either tag \(tag)")
        }
    }
}

/// Two streams keyed by the same kind of key, waiting for a two-input function
/// (Flink's `ConnectedStreams` after `keyBy`). Made by ``DataStream/connect(_:leftKey:rightKey:)``.
///
/// ```swift
/// clicks.connect(orders, leftKey: { $0.user }, rightKey: { $0.user })
///     .intervalJoin(between: .minutes(-5), and: .zero)
///     .collect(into: out)
/// ```
public struct ConnectedStreams<Left: Sendable, Right: Sendable, Key: StreamKey>: Sendable {
    /// Both inputs as one stream of ``Either`` (a union at the job parallelism).
    public let union: DataStream<Either<Left, Right>>
    @usableFromInline let leftKey: @Sendable (Left) -> Key
    @usableFromInline let rightKey: @Sendable (Right) -> Key

    @inlinable
    init(union: DataStream<Either<Left, Right>>, leftKey: @escaping @Sendable (Left) -> Key,
         rightKey: @escaping @Sendable (Right) -> Key) {
        self.union = union; self.leftKey = leftKey; self.rightKey = rightKey
    }

    /// The key of a record of either input.
    @inlinable
    public var key: @Sendable (Either<Left, Right>) -> Key {
        let l = leftKey, r = rightKey
        return { e in
            switch e {
            case let .left(v): return l(v)
            case let .right(v): return r(v)
            }
        }
    }

    /// Both inputs partitioned by key: records of both sides with equal keys meet on one subtask.
    @inlinable
    public var keyed: KeyedStream<Either<Left, Right>, Key> { union.keyBy(key) }

    /// Runs a keyed two-input function (state and timers shared by both sides of a key).
    @inlinable
    public func process<F: KeyedProcessFunction>(_ function: F, name: String = "co-process") -> DataStream<F.Output>
    where F.Input == Either<Left, Right>, F.Key == Key {
        keyed.process(function, name: name)
    }
}

extension DataStream {
    /// Connects this stream (left) with `other` (right), both keyed by the same kind of key.
    ///
    /// Both streams should carry event time (``DataStream/assignTimestamps(_:watermark:idleness:)``)
    /// when the function uses event time: the combined watermark is the minimum of both, so an
    /// input that stops delivering holds back the other; give sources that can go quiet an
    /// `idleness`.
    @inlinable
    public func connect<Right: Sendable, Key: StreamKey>(
        _ other: DataStream<Right>, leftKey: @escaping @Sendable (Element) -> Key,
        rightKey: @escaping @Sendable (Right) -> Key, name: String = "connect"
    ) -> ConnectedStreams<Element, Right, Key> {
        let l = map("\(name)-left") { Either<Element, Right>.left($0) }
        let r = other.map("\(name)-right") { Either<Element, Right>.right($0) }
        return ConnectedStreams(union: l.union(r), leftKey: leftKey, rightKey: rightKey)
    }
}
