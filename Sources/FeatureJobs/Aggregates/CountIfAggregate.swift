public import StreamKit
public import Glibc

/// Counts the inputs that satisfy a predicate, e.g. clicks among all interactions.
///
/// The accumulator is the count (an `Int64`); merging adds counts. Use StreamKit's `.count()` to count
/// every input.
///
/// ```swift
/// .aggregate(.count(), .countIf { $0.type == "click" }) { (events: $0, clicks: $1) }
/// ```
public struct CountIfAggregate<Input>: AggregateFunction {
    @usableFromInline let predicate: @Sendable (Input) -> Bool
    /// Counts inputs for which `predicate` is true.
    @inlinable public init(_ predicate: @escaping @Sendable (Input) -> Bool) { self.predicate = predicate }
    @inlinable public func makeAccumulator() -> Int64 { 0 }
    @inlinable public func add(_ value: Input, to a: inout Int64) { if predicate(value) { a &+= 1 } }
    @inlinable public func merge(_ other: Int64, into a: inout Int64) { a &+= other }
    @inlinable public func result(_ a: Int64) -> Int64 { a }
}
