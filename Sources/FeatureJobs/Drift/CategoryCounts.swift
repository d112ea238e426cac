public import StreamKit
public import Glibc

/// Counts of a categorical feature (category → count): the mergeable distribution of a string
/// feature that PSI and Jensen–Shannon compare.
///
/// Two distributions are compared over the *union* of their categories, in sorted order
/// (``alignedCounts(_:_:)``): a category one side never saw counts 0 there. Merging adds counts
/// per category. The state encoding writes categories in sorted order, so equal values always
/// produce equal bytes.
///
/// Unbounded cardinality means unbounded state: cap it with `maxCategories`; once the cap is
/// reached, new categories are counted under ``overflowCategory`` (`"__other__"`).
public struct CategoryCounts: Sendable, Hashable, StateCodable {
    /// The bucket for categories beyond `maxCategories`.
    public static let overflowCategory = "__other__"
    /// Count per category.
    public private(set) var counts: [String: Int64] = [:]
    /// Most distinct categories kept (the overflow bucket not included). Default: 10 000.
    public let maxCategories: Int

    public init(maxCategories: Int = 10_000) {
        precondition(maxCategories >= 1, "maxCategories must be at least 1")
        self.maxCategories = maxCategories
    }

    /// Counts over `values`.
    public init<S: Sequence>(_ values: S, maxCategories: Int = 10_000) where S.Element == String {
        self.init(maxCategories: maxCategories)
        for v in values { add(v) }
    }

    /// Total number of values counted.
    public var total: Int64 { counts.values.reduce(0, &+) }

    /// Counts one value (`weight` times).
    public mutating func add(_ category: String, weight: Int64 = 1) {
        if counts[category] != nil || counts.count - (counts[Self.overflowCategory] == nil ? 0 : 1) < maxCategories {
            counts[category, default: 0] &+= weight
        } else {
            counts[Self.overflowCategory, default: 0] &+= weight
        }
    }

    /// Adds `other`'s counts (subject to this value's `maxCategories`).
    public mutating func merge(_ other: CategoryCounts) {
        for (c, n) in other.counts.sorted(by: { $0.key < $1.key }) { add(c, weight: n) }
    }

    /// The union of the categories of `a` and `b`, sorted, with each side's count (0 when absent).
    public static func alignedCounts(_ a: CategoryCounts, _ b: CategoryCounts) -> (categories: [String], a: [Int64], b: [Int64]) {
        let categories = Set(a.counts.keys).union(b.counts.keys).sorted()
        return (categories, categories.map { a.counts[$0] ?? 0 }, categories.map { b.counts[$0] ?? 0 })
    }

    /// Layout: maxCategories (varint), entry count (varint), then (category, count) in sorted category order.
    public func encode(to w: inout ByteWriter) {
        w.writeVarInt(Int64(maxCategories))
        w.writeVarUInt(UInt64(counts.count))
        for (c, n) in counts.sorted(by: { $0.key < $1.key }) { w.writeString(c); w.writeVarInt(n) }
    }

    public init(from r: inout ByteReader) throws {
        let cap = try r.readVarInt()
        guard cap >= 1, let capInt = Int(exactly: cap) else { throw StreamKitError(.state, "invalid maxCategories \(cap) in CategoryCounts state") }
        maxCategories = capInt
        let n = try r.readCount()
        for _ in 0..<n {
            let c = try r.readString()
            counts[c] = try r.readVarInt()
        }
    }
}

/// Window accumulator counting a categorical field.
public struct CategoryCountAggregate<Input>: AggregateFunction {
    public let maxCategories: Int
    @usableFromInline let field: @Sendable (Input) -> String
    public init(maxCategories: Int = 10_000, _ field: @escaping @Sendable (Input) -> String) {
        self.maxCategories = maxCategories; self.field = field
    }
    public func makeAccumulator() -> CategoryCounts { CategoryCounts(maxCategories: maxCategories) }
    public func add(_ value: Input, to a: inout CategoryCounts) { a.add(field(value)) }
    public func merge(_ other: CategoryCounts, into a: inout CategoryCounts) { a.merge(other) }
    public func result(_ a: CategoryCounts) -> CategoryCounts { a }
}
