public import StreamKit
public import Glibc

/// The accumulator of ``LastValueAggregate``: the latest event time seen and its value.
@frozen
public struct LastValueAccumulator<Value: Sendable & StateCodable>: Sendable, StateCodable {
    /// The event time of ``value`` (`Int64.min` when empty).
    public var timestamp: EventTime
    /// The value with the latest event time; nil when empty.
    public var value: Value?
    @inlinable public init() { timestamp = .min; value = nil }
    /// Layout: zigzag varint timestamp, then the optional value.
    @inlinable public func encode(to w: inout ByteWriter) { w.writeVarInt(timestamp); value.encode(to: &w) }
    @inlinable public init(from r: inout ByteReader) throws { timestamp = try r.readVarInt(); value = try Value?(from: &r) }
}

/// The value of a field in the input with the latest event time (e.g. the last known balance).
///
/// The latest *event time* wins, not the latest arrival, so out-of-order input and any merge order of
/// panes give the same answer. Records with equal event times are ordered by a fixed tie-breaker:
/// for `Comparable` values the greater value wins; otherwise the value whose state encoding
/// (``StateCodable``) is lexicographically greater wins (types whose encoding is not canonical, like
/// `Set` and `Dictionary`, should supply their own tie-breaker). Thus the result does not depend on
/// how the records were split into panes or in which order they arrived.
///
/// ```swift
/// .aggregate(.lastValue(at: \.ts, \.balance))
/// ```
public struct LastValueAggregate<Input, Value: Sendable & StateCodable>: AggregateFunction {
    @usableFromInline let time: @Sendable (Input) -> EventTime
    @usableFromInline let field: @Sendable (Input) -> Value
    @usableFromInline let replaces: @Sendable (Value, Value) -> Bool

    /// - Parameters:
    ///   - time: the event time of an input.
    ///   - field: the value to keep.
    ///   - replacesOnTie: `replacesOnTie(candidate, current)` is true when `candidate` should replace
    ///     `current` at equal event times; it must be a strict total order for determinism.
    @inlinable
    public init(time: @escaping @Sendable (Input) -> EventTime, field: @escaping @Sendable (Input) -> Value,
                replacesOnTie: @escaping @Sendable (Value, Value) -> Bool) {
        self.time = time; self.field = field; self.replaces = replacesOnTie
    }

    @inlinable public func makeAccumulator() -> LastValueAccumulator<Value> { LastValueAccumulator() }

    @inlinable
    public func add(_ input: Input, to a: inout LastValueAccumulator<Value>) {
        let t = time(input)
        if t < a.timestamp { return }
        let v = field(input)
        if let current = a.value, t == a.timestamp, !replaces(v, current) { return }
        a.timestamp = t
        a.value = v
    }

    @inlinable
    public func merge(_ other: LastValueAccumulator<Value>, into a: inout LastValueAccumulator<Value>) {
        guard let v = other.value, other.timestamp >= a.timestamp else { return }
        if let current = a.value, other.timestamp == a.timestamp, !replaces(v, current) { return }
        a = other
    }

    /// nil when the window is empty.
    @inlinable public func result(_ a: LastValueAccumulator<Value>) -> Value? { a.value }
}

extension LastValueAggregate where Value: Comparable {
    /// Ties at equal event times go to the greater value.
    @inlinable
    public init(time: @escaping @Sendable (Input) -> EventTime, field: @escaping @Sendable (Input) -> Value) {
        self.init(time: time, field: field, replacesOnTie: { $0 > $1 })
    }
}

extension LastValueAggregate {
    /// Ties at equal event times go to the value whose state encoding is lexicographically greater.
    @inlinable
    public init(time: @escaping @Sendable (Input) -> EventTime, encodedTieBreak field: @escaping @Sendable (Input) -> Value) {
        // Encoding allocates, but only at equal event times, which are rare.
        self.init(time: time, field: field, replacesOnTie: { candidate, current in
            current.encodedStateBytes().lexicographicallyPrecedes(candidate.encodedStateBytes())
        })
    }
}
