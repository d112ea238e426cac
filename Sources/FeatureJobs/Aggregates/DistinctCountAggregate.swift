public import StreamKit
public import Glibc

/// The approximate number of distinct values of a field, with a ``HyperLogLog`` sketch.
///
/// Exact (up to 64-bit hash collisions) while a pane or window holds at most `2^p / 8` distinct
/// items (2048 at the default `p = 14`); above that the relative standard error is `1.04 / sqrt(2^p)`
/// (0.81 % at `p = 14`). Small panes stay small: a pane with `k` distinct items holds `8·k` bytes of
/// hashes, not the `2^p` register bytes.
///
/// ```swift
/// .aggregate(.distinctCount(\.itemID), .distinctCount(precision: 12, \.sessionID)) { (items: $0, sessions: $1) }
/// ```
public struct DistinctCountAggregate<Input, Item: StreamKey>: AggregateFunction {
    @usableFromInline let item: @Sendable (Input) -> Item
    /// `p`: the sketch has `2^p` registers (4...18).
    public let precision: Int
    @inlinable public init(precision: Int = HyperLogLog.defaultPrecision, _ item: @escaping @Sendable (Input) -> Item) {
        precondition((4...18).contains(precision), "HyperLogLog precision must be in 4...18, got \(precision)")
        self.precision = precision; self.item = item
    }
    @inlinable public func makeAccumulator() -> HyperLogLog { HyperLogLog(precision: precision) }
    @inlinable public func add(_ value: Input, to a: inout HyperLogLog) { a.insert(hash: HyperLogLog.hash(item(value))) }
    @inlinable public func merge(_ other: HyperLogLog, into a: inout HyperLogLog) { a.merge(other) }
    /// The estimate rounded to the nearest integer.
    @inlinable public func result(_ a: HyperLogLog) -> Int64 { Int64(a.cardinality.rounded()) }
}
