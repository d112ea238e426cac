/// An incremental, mergeable aggregation (Flink's `AggregateFunction`): windows keep one
/// accumulator per pane and merge panes when a window fires, so a 1-hour window sliding by one
/// minute touches each record once.
public protocol AggregateFunction<Input>: Sendable {
    associatedtype Input
    associatedtype Accumulator: Sendable & StateCodable
    associatedtype Result: Sendable
    /// The identity accumulator.
    func makeAccumulator() -> Accumulator
    /// Adds one input.
    func add(_ value: Input, to accumulator: inout Accumulator)
    /// Merges `other` into `accumulator` (associative; identity is ``makeAccumulator()``).
    func merge(_ other: Accumulator, into accumulator: inout Accumulator)
    /// The result of an accumulator.
    func result(_ accumulator: Accumulator) -> Result
}

extension AggregateFunction {
    @inlinable func adding(_ value: Input, to accumulator: Accumulator) -> Accumulator {
        var a = accumulator; add(value, to: &a); return a
    }
    @inlinable func merging(_ other: Accumulator, into accumulator: Accumulator) -> Accumulator {
        var a = accumulator; merge(other, into: &a); return a
    }
}

/// Counts inputs.
public struct CountAggregate<Input>: AggregateFunction {
    @inlinable public init() {}
    @inlinable public func makeAccumulator() -> Int64 { 0 }
    @inlinable public func add(_ value: Input, to a: inout Int64) { a &+= 1 }
    @inlinable public func merge(_ other: Int64, into a: inout Int64) { a &+= other }
    @inlinable public func result(_ a: Int64) -> Int64 { a }
}

/// Sums a numeric field.
public struct SumAggregate<Input>: AggregateFunction {
    @usableFromInline let field: @Sendable (Input) -> Double
    @inlinable public init(_ field: @escaping @Sendable (Input) -> Double) { self.field = field }
    @inlinable public func makeAccumulator() -> Double { 0 }
    @inlinable public func add(_ value: Input, to a: inout Double) { a += field(value) }
    @inlinable public func merge(_ other: Double, into a: inout Double) { a += other }
    @inlinable public func result(_ a: Double) -> Double { a }
}

/// Arithmetic mean of a numeric field (sum and count, mergeable).
public struct MeanAggregate<Input>: AggregateFunction {
    public struct Accumulator: Sendable, StateCodable, Hashable {
        public var sum: Double = 0
        public var count: Int64 = 0
        @inlinable public init() {}
        @inlinable public func encode(to w: inout ByteWriter) { w.writeDouble(sum); w.writeVarInt(count) }
        @inlinable public init(from r: inout ByteReader) throws { sum = try r.readDouble(); count = try r.readVarInt() }
    }
    @usableFromInline let field: @Sendable (Input) -> Double
    @inlinable public init(_ field: @escaping @Sendable (Input) -> Double) { self.field = field }
    @inlinable public func makeAccumulator() -> Accumulator { Accumulator() }
    @inlinable public func add(_ value: Input, to a: inout Accumulator) { a.sum += field(value); a.count &+= 1 }
    @inlinable public func merge(_ o: Accumulator, into a: inout Accumulator) { a.sum += o.sum; a.count &+= o.count }
    /// NaN for an empty accumulator.
    @inlinable public func result(_ a: Accumulator) -> Double { a.count == 0 ? .nan : a.sum / Double(a.count) }
}

/// Maximum of a numeric field (`-infinity` when empty).
public struct MaxAggregate<Input>: AggregateFunction {
    @usableFromInline let field: @Sendable (Input) -> Double
    @inlinable public init(_ field: @escaping @Sendable (Input) -> Double) { self.field = field }
    @inlinable public func makeAccumulator() -> Double { -.infinity }
    @inlinable public func add(_ value: Input, to a: inout Double) { let v = field(value); if v > a { a = v } }
    @inlinable public func merge(_ other: Double, into a: inout Double) { if other > a { a = other } }
    @inlinable public func result(_ a: Double) -> Double { a }
}

/// Minimum of a numeric field (`+infinity` when empty).
public struct MinAggregate<Input>: AggregateFunction {
    @usableFromInline let field: @Sendable (Input) -> Double
    @inlinable public init(_ field: @escaping @Sendable (Input) -> Double) { self.field = field }
    @inlinable public func makeAccumulator() -> Double { .infinity }
    @inlinable public func add(_ value: Input, to a: inout Double) { let v = field(value); if v < a { a = v } }
    @inlinable public func merge(_ other: Double, into a: inout Double) { if other < a { a = other } }
    @inlinable public func result(_ a: Double) -> Double { a }
}

/// Collects every input (for window functions that need the full window contents).
public struct CollectAggregate<Input: Sendable & StateCodable>: AggregateFunction {
    @inlinable public init() {}
    @inlinable public func makeAccumulator() -> [Input] { [] }
    @inlinable public func add(_ value: Input, to a: inout [Input]) { a.append(value) }
    @inlinable public func merge(_ other: [Input], into a: inout [Input]) { a.append(contentsOf: other) }
    @inlinable public func result(_ a: [Input]) -> [Input] { a }
}

/// 2 aggregate functions over the same input, computed in one pass; the result is a tuple.
public struct Aggregate2<A: AggregateFunction, B: AggregateFunction>: AggregateFunction where B.Input == A.Input {
    public typealias Input = A.Input
    public struct Accumulator: Sendable, StateCodable {
        public var a: A.Accumulator
        public var b: B.Accumulator
        @inlinable public init(_ a: A.Accumulator, _ b: B.Accumulator) { self.a = a; self.b = b }
        @inlinable public func encode(to w: inout ByteWriter) { a.encode(to: &w); b.encode(to: &w) }
        @inlinable public init(from r: inout ByteReader) throws { a = try A.Accumulator(from: &r); b = try B.Accumulator(from: &r) }
    }
    public typealias Result = (A.Result, B.Result)
    @usableFromInline let a: A
    @usableFromInline let b: B
    @inlinable public init(_ a: A, _ b: B) { self.a = a; self.b = b }
    @inlinable public func makeAccumulator() -> Accumulator { Accumulator(a.makeAccumulator(), b.makeAccumulator()) }
    @inlinable public func add(_ value: Input, to acc: inout Accumulator) { a.add(value, to: &acc.a); b.add(value, to: &acc.b) }
    @inlinable public func merge(_ o: Accumulator, into acc: inout Accumulator) { a.merge(o.a, into: &acc.a); b.merge(o.b, into: &acc.b) }
    @inlinable public func result(_ acc: Accumulator) -> Result { (a.result(acc.a), b.result(acc.b)) }
}

/// 3 aggregate functions over the same input, computed in one pass; the result is a tuple.
public struct Aggregate3<A: AggregateFunction, B: AggregateFunction, C: AggregateFunction>: AggregateFunction where B.Input == A.Input, C.Input == A.Input {
    public typealias Input = A.Input
    public struct Accumulator: Sendable, StateCodable {
        public var a: A.Accumulator
        public var b: B.Accumulator
        public var c: C.Accumulator
        @inlinable public init(_ a: A.Accumulator, _ b: B.Accumulator, _ c: C.Accumulator) { self.a = a; self.b = b; self.c = c }
        @inlinable public func encode(to w: inout ByteWriter) { a.encode(to: &w); b.encode(to: &w); c.encode(to: &w) }
        @inlinable public init(from r: inout ByteReader) throws { a = try A.Accumulator(from: &r); b = try B.Accumulator(from: &r); c = try C.Accumulator(from: &r) }
    }
    public typealias Result = (A.Result, B.Result, C.Result)
    @usableFromInline let a: A
    @usableFromInline let b: B
    @usableFromInline let c: C
    @inlinable public init(_ a: A, _ b: B, _ c: C) { self.a = a; self.b = b; self.c = c }
    @inlinable public func makeAccumulator() -> Accumulator { Accumulator(a.makeAccumulator(), b.makeAccumulator(), c.makeAccumulator()) }
    @inlinable public func add(_ value: Input, to acc: inout Accumulator) { a.add(value, to: &acc.a); b.add(value, to: &acc.b); c.add(value, to: &acc.c) }
    @inlinable public func merge(_ o: Accumulator, into acc: inout Accumulator) { a.merge(o.a, into: &acc.a); b.merge(o.b, into: &acc.b); c.merge(o.c, into: &acc.c) }
    @inlinable public func result(_ acc: Accumulator) -> Result { (a.result(acc.a), b.result(acc.b), c.result(acc.c)) }
}

/// 4 aggregate functions over the same input, computed in one pass; the result is a tuple.
public struct Aggregate4<A: AggregateFunction, B: AggregateFunction, C: AggregateFunction, D: AggregateFunction>: AggregateFunction where B.Input == A.Input, C.Input == A.Input, D.Input == A.Input {
    public typealias Input = A.Input
    public struct Accumulator: Sendable, StateCodable {
        public var a: A.Accumulator
        public var b: B.Accumulator
        public var c: C.Accumulator
        public var d: D.Accumulator
        @inlinable public init(_ a: A.Accumulator, _ b: B.Accumulator, _ c: C.Accumulator, _ d: D.Accumulator) { self.a = a; self.b = b; self.c = c; self.d = d }
        @inlinable public func encode(to w: inout ByteWriter) { a.encode(to: &w); b.encode(to: &w); c.encode(to: &w); d.encode(to: &w) }
        @inlinable public init(from r: inout ByteReader) throws { a = try A.Accumulator(from: &r); b = try B.Accumulator(from: &r); c = try C.Accumulator(from: &r); d = try D.Accumulator(from: &r) }
    }
    public typealias Result = (A.Result, B.Result, C.Result, D.Result)
    @usableFromInline let a: A
    @usableFromInline let b: B
    @usableFromInline let c: C
    @usableFromInline let d: D
    @inlinable public init(_ a: A, _ b: B, _ c: C, _ d: D) { self.a = a; self.b = b; self.c = c; self.d = d }
    @inlinable public func makeAccumulator() -> Accumulator { Accumulator(a.makeAccumulator(), b.makeAccumulator(), c.makeAccumulator(), d.makeAccumulator()) }
    @inlinable public func add(_ value: Input, to acc: inout Accumulator) { a.add(value, to: &acc.a); b.add(value, to: &acc.b); c.add(value, to: &acc.c); d.add(value, to: &acc.d) }
    @inlinable public func merge(_ o: Accumulator, into acc: inout Accumulator) { a.merge(o.a, into: &acc.a); b.merge(o.b, into: &acc.b); c.merge(o.c, into: &acc.c); d.merge(o.d, into: &acc.d) }
    @inlinable public func result(_ acc: Accumulator) -> Result { (a.result(acc.a), b.result(acc.b), c.result(acc.c), d.result(acc.d)) }
}

/// 5 aggregate functions over the same input, computed in one pass; the result is a tuple.
public struct Aggregate5<A: AggregateFunction, B: AggregateFunction, C: AggregateFunction, D: AggregateFunction, E: AggregateFunction>: AggregateFunction where B.Input == A.Input, C.Input == A.Input, D.Input == A.Input, E.Input == A.Input {
    public typealias Input = A.Input
    public struct Accumulator: Sendable, StateCodable {
        public var a: A.Accumulator
        public var b: B.Accumulator
        public var c: C.Accumulator
        public var d: D.Accumulator
        public var e: E.Accumulator
        @inlinable public init(_ a: A.Accumulator, _ b: B.Accumulator, _ c: C.Accumulator, _ d: D.Accumulator, _ e: E.Accumulator) { self.a = a; self.b = b; self.c = c; self.d = d; self.e = e }
        @inlinable public func encode(to w: inout ByteWriter) { a.encode(to: &w); b.encode(to: &w); c.encode(to: &w); d.encode(to: &w); e.encode(to: &w) }
        @inlinable public init(from r: inout ByteReader) throws { a = try A.Accumulator(from: &r); b = try B.Accumulator(from: &r); c = try C.Accumulator(from: &r); d = try D.Accumulator(from: &r); e = try E.Accumulator(from: &r) }
    }
    public typealias Result = (A.Result, B.Result, C.Result, D.Result, E.Result)
    @usableFromInline let a: A
    @usableFromInline let b: B
    @usableFromInline let c: C
    @usableFromInline let d: D
    @usableFromInline let e: E
    @inlinable public init(_ a: A, _ b: B, _ c: C, _ d: D, _ e: E) { self.a = a; self.b = b; self.c = c; self.d = d; self.e = e }
    @inlinable public func makeAccumulator() -> Accumulator { Accumulator(a.makeAccumulator(), b.makeAccumulator(), c.makeAccumulator(), d.makeAccumulator(), e.makeAccumulator()) }
    @inlinable public func add(_ value: Input, to acc: inout Accumulator) { a.add(value, to: &acc.a); b.add(value, to: &acc.b); c.add(value, to: &acc.c); d.add(value, to: &acc.d); e.add(value, to: &acc.e) }
    @inlinable public func merge(_ o: Accumulator, into acc: inout Accumulator) { a.merge(o.a, into: &acc.a); b.merge(o.b, into: &acc.b); c.merge(o.c, into: &acc.c); d.merge(o.d, into: &acc.d); e.merge(o.e, into: &acc.e) }
    @inlinable public func result(_ acc: Accumulator) -> Result { (a.result(acc.a), b.result(acc.b), c.result(acc.c), d.result(acc.d), e.result(acc.e)) }
}

/// 6 aggregate functions over the same input, computed in one pass; the result is a tuple.
public struct Aggregate6<A: AggregateFunction, B: AggregateFunction, C: AggregateFunction, D: AggregateFunction, E: AggregateFunction, F: AggregateFunction>: AggregateFunction where B.Input == A.Input, C.Input == A.Input, D.Input == A.Input, E.Input == A.Input, F.Input == A.Input {
    public typealias Input = A.Input
    public struct Accumulator: Sendable, StateCodable {
        public var a: A.Accumulator
        public var b: B.Accumulator
        public var c: C.Accumulator
        public var d: D.Accumulator
        public var e: E.Accumulator
        public var f: F.Accumulator
        @inlinable public init(_ a: A.Accumulator, _ b: B.Accumulator, _ c: C.Accumulator, _ d: D.Accumulator, _ e: E.Accumulator, _ f: F.Accumulator) { self.a = a; self.b = b; self.c = c; self.d = d; self.e = e; self.f = f }
        @inlinable public func encode(to w: inout ByteWriter) { a.encode(to: &w); b.encode(to: &w); c.encode(to: &w); d.encode(to: &w); e.encode(to: &w); f.encode(to: &w) }
        @inlinable public init(from r: inout ByteReader) throws { a = try A.Accumulator(from: &r); b = try B.Accumulator(from: &r); c = try C.Accumulator(from: &r); d = try D.Accumulator(from: &r); e = try E.Accumulator(from: &r); f = try F.Accumulator(from: &r) }
    }
    public typealias Result = (A.Result, B.Result, C.Result, D.Result, E.Result, F.Result)
    @usableFromInline let a: A
    @usableFromInline let b: B
    @usableFromInline let c: C
    @usableFromInline let d: D
    @usableFromInline let e: E
    @usableFromInline let f: F
    @inlinable public init(_ a: A, _ b: B, _ c: C, _ d: D, _ e: E, _ f: F) { self.a = a; self.b = b; self.c = c; self.d = d; self.e = e; self.f = f }
    @inlinable public func makeAccumulator() -> Accumulator { Accumulator(a.makeAccumulator(), b.makeAccumulator(), c.makeAccumulator(), d.makeAccumulator(), e.makeAccumulator(), f.makeAccumulator()) }
    @inlinable public func add(_ value: Input, to acc: inout Accumulator) { a.add(value, to: &acc.a); b.add(value, to: &acc.b); c.add(value, to: &acc.c); d.add(value, to: &acc.d); e.add(value, to: &acc.e); f.add(value, to: &acc.f) }
    @inlinable public func merge(_ o: Accumulator, into acc: inout Accumulator) { a.merge(o.a, into: &acc.a); b.merge(o.b, into: &acc.b); c.merge(o.c, into: &acc.c); d.merge(o.d, into: &acc.d); e.merge(o.e, into: &acc.e); f.merge(o.f, into: &acc.f) }
    @inlinable public func result(_ acc: Accumulator) -> Result { (a.result(acc.a), b.result(acc.b), c.result(acc.c), d.result(acc.d), e.result(acc.e), f.result(acc.f)) }
}

// MARK: - Aggregates for jobs: `.aggregate(.count(), .sum(\.amount), .mean(\.amount), .max(\.amount)) { ... }`

/// One aggregate of a window, written with leading-dot syntax in `aggregate(...)`:
/// `.count()`, `.sum(\.amount)`, `.mean(\.amount)`, `.min(\.amount)`, `.max(\.amount)`, or any
/// ``AggregateFunction`` as `.function(f)`. FeatureJobs adds `.countIf`, `.distinctCount`,
/// `.quantiles` and more. These are static members (not global functions), so the standard
/// library's `min`, `max` and `count` stay visible in jobs.
///
/// ```swift
/// .window(.sliding(size: .minutes(5), slide: .minutes(1)))
/// .aggregate(.count(), .sum(\.amount), .max(\.amount)) { Stats(count: $0, total: $1, largest: $2) }
/// ```
@frozen
public struct Aggregation<Input, Function: AggregateFunction>: Sendable where Function.Input == Input {
    public let function: Function
    @inlinable public init(_ function: Function) { self.function = function }
}

extension Aggregation {
    /// Any aggregate function.
    @inlinable public static func function(_ f: Function) -> Aggregation { Aggregation(f) }
    /// Number of records.
    @inlinable public static func count() -> Aggregation<Input, CountAggregate<Input>> { .init(CountAggregate()) }
    /// Sum of a field (`.sum(\.amount)` or `.sum { $0.isPurchase ? $0.amount : 0 }`).
    @inlinable public static func sum(_ field: @escaping @Sendable (Input) -> Double) -> Aggregation<Input, SumAggregate<Input>> { .init(SumAggregate(field)) }
    /// Arithmetic mean of a field (NaN for an empty window).
    @inlinable public static func mean(_ field: @escaping @Sendable (Input) -> Double) -> Aggregation<Input, MeanAggregate<Input>> { .init(MeanAggregate(field)) }
    /// Maximum of a field (`-infinity` when empty).
    @inlinable public static func max(_ field: @escaping @Sendable (Input) -> Double) -> Aggregation<Input, MaxAggregate<Input>> { .init(MaxAggregate(field)) }
    /// Minimum of a field (`+infinity` when empty).
    @inlinable public static func min(_ field: @escaping @Sendable (Input) -> Double) -> Aggregation<Input, MinAggregate<Input>> { .init(MinAggregate(field)) }
}

/// An aggregate function whose result goes through `transform` when a window fires (Flink's
/// `aggregate(aggregateFunction, windowFunction)`): how positional results get names. The per-record
/// path is `Base`'s; `transform` runs once per fired window.
public struct MappedAggregate<Base: AggregateFunction, Result: Sendable>: AggregateFunction {
    public typealias Input = Base.Input
    public typealias Accumulator = Base.Accumulator
    @usableFromInline let base: Base
    @usableFromInline let transform: @Sendable (Base.Result) -> Result
    @inlinable public init(_ base: Base, _ transform: @escaping @Sendable (Base.Result) -> Result) { self.base = base; self.transform = transform }
    @inlinable public func makeAccumulator() -> Accumulator { base.makeAccumulator() }
    @inlinable public func add(_ value: Input, to a: inout Accumulator) { base.add(value, to: &a) }
    @inlinable public func merge(_ other: Accumulator, into a: inout Accumulator) { base.merge(other, into: &a) }
    @inlinable public func result(_ a: Accumulator) -> Result { transform(base.result(a)) }
}
