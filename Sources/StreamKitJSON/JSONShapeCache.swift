/// Remembers the shapes of recent documents so ``JSONFieldExtractor`` can validate a document
/// of a known shape by comparing it instead of parsing it.
///
/// A *shape* is a document with its scalar values cut out: the bytes between the values (braces,
/// keys, colons, commas, whitespace, and the opening quote of a string value) and, for each
/// value, its kind and the output it fills. A value no output asks for stays in the shape as
/// long as the documents repeat it (a table name, an operation, a connector version): such a
/// value is compared with the rest, not scanned; when a document that parsed differs from a held
/// shape only in those values, the values that differed are cut out too. Change data capture repeats a handful of shapes (one
/// per table and operation), so most documents match a recent one exactly. A matching document
/// is compared byte for byte with the shape's fixed bytes — its structure and keys were validated
/// when the shape was learned — and only its values are scanned, by the scanners of the full
/// parse. So a document is accepted or rejected exactly as without the cache and yields the same
/// values. Anything else — another shape, other whitespace, a malformed value — takes the full
/// parse, which then gives the result (or the error with its byte offset) and learns the shape.
///
/// Use one cache per reader: every extraction mutates it. It holds at most ``capacity`` shapes
/// of at most ``maxValues`` values; a document whose requested path is an object or array is
/// not learned (its contents are not fixed). When fewer than half of a window of
/// ``windowSize`` documents match, the cache stands aside for ``pauseLength`` documents, so a
/// stream of ever new shapes costs little more than parsing without it.
public struct JSONShapeCache: Sendable {
    /// Shapes kept; a new one replaces the least used.
    public let capacity: Int
    /// Documents with more scalar values than this are not learned.
    public let maxValues: Int
    @usableFromInline var shapes: [_JSONShape] = []
    /// The shape that matched last (tried first).
    @usableFromInline var last = 0
    @usableFromInline var window = 0
    @usableFromInline var windowHits = 0
    /// Documents left before the cache is used again after a window with too few matches.
    @usableFromInline var pause = 0
    @usableFromInline var _hits = 0
    @usableFromInline var _misses = 0
    @usableFromInline var _bypassed = 0

    /// Documents per window of the hit-rate check, and documents the cache stands aside after a
    /// window in which fewer than half matched.
    public static var windowSize: Int { 1024 }
    public static var pauseLength: Int { 16384 }

    public init(capacity: Int = 4, maxValues: Int = 256) {
        self.capacity = Swift.max(1, capacity); self.maxValues = Swift.max(1, maxValues)
    }

    /// Documents that matched a shape.
    public var hits: Int { _hits }
    /// Documents parsed in full while the cache was in use.
    public var misses: Int { _misses }
    /// Documents parsed in full while the cache stood aside.
    public var bypassed: Int { _bypassed }
    /// Shapes held.
    public var count: Int { shapes.count }

    /// Whether the next document goes through the cache (false: parse it in full, learn nothing).
    @inlinable @inline(__always)
    mutating func begin() -> Bool {
        if pause > 0 { pause &-= 1; _bypassed &+= 1; return false }
        return true
    }

    /// Records whether a document that went through the cache matched.
    @inlinable @inline(__always)
    mutating func record(hit: Bool) {
        if hit { _hits &+= 1; windowHits &+= 1 } else { _misses &+= 1 }
        window &+= 1
        if window == Self.windowSize {
            if windowHits &* 2 < window { pause = Self.pauseLength }
            window = 0; windowHits = 0
        }
    }

    /// Learns the shape of a document that parsed: a held shape that differs from it only in
    /// constant values loses those constants; otherwise it is added, replacing the least used one
    /// when full.
    @usableFromInline
    mutating func learn(_ template: _JSONShapeTemplate) {
        if let i = shapes.firstIndex(where: { $0.template.isCompatible(with: template) }) {
            var general = shapes[i].template
            if general.generalize(with: template) {
                let uses = shapes[i].uses
                shapes[i] = _JSONShape(general)
                shapes[i].uses = uses
            }
            last = i
            return
        }
        let shape = _JSONShape(template)
        if shapes.count < capacity {
            shapes.append(shape)
            last = shapes.count - 1
            return
        }
        var victim = 0
        for i in shapes.indices where shapes[i].uses < shapes[victim].uses { victim = i }
        shapes[victim] = shape
        for i in shapes.indices { shapes[i].uses = 0 }   // start the count again, so old favourites age out
        last = victim
    }
}
