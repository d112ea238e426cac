/// One learned document shape (see ``JSONShapeCache``): ``steps`` in document order, each some
/// fixed bytes of ``bytes`` followed by a scalar value; the last step's fixed bytes end the
/// document (only whitespace may follow).
@usableFromInline
package struct _JSONShape: Sendable {
    /// `count` fixed bytes at `start` in ``bytes``, then a value of `kind` for output `output`
    /// (-1: none).
    @usableFromInline
    package struct Step: Sendable {
        @usableFromInline var start: Int32
        @usableFromInline var count: Int32
        @usableFromInline var output: Int32
        @usableFromInline var kind: Kind

        @usableFromInline
        package enum Kind: UInt8, Sendable {
            /// A string body (the opening quote is among the fixed bytes).
            case string
            case number
            case null, `true`, `false`
            /// No value: the document ends after the fixed bytes.
            case end
        }

        @inlinable
        init(start: Int32, count: Int32, output: Int32, kind: Kind) {
            self.start = start; self.count = count; self.output = output; self.kind = kind
        }
    }

    /// The fixed bytes of all steps.
    @usableFromInline var bytes: [UInt8]
    @usableFromInline var steps: [Step]
    /// Documents matched since the cache last reset the counts.
    @usableFromInline var uses = 0

    @inlinable
    init(bytes: [UInt8], steps: [Step]) { self.bytes = bytes; self.steps = steps }
}
