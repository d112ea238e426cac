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
    /// What the steps were compiled from (kept to generalize the shape).
    @usableFromInline var template: _JSONShapeTemplate

    /// The steps of `template`: each value that is still constant joins the fixed bytes around
    /// it; the others become steps.
    @usableFromInline
    init(_ template: _JSONShapeTemplate) {
        self.template = template
        var bytes: [UInt8] = []
        var steps: [Step] = []
        var run = 0
        for (i, v) in template.values.enumerated() {
            bytes += template.segments[i]
            if v.constant { bytes += v.text; continue }
            steps.append(Step(start: Int32(run), count: Int32(bytes.count - run), output: v.output, kind: v.kind))
            run = bytes.count
        }
        bytes += template.segments[template.values.count]
        steps.append(Step(start: Int32(run), count: Int32(bytes.count - run), output: -1, kind: .end))
        bytes.append(0)   // never empty, so the bytes always have a base address
        self.bytes = bytes; self.steps = steps
    }
}

/// A parsed document cut into the bytes between its scalar values (`segments`, one more than the
/// values: the last ends the document) and the values, each with its kind, the output it fills
/// and its text. A value that no output asks for starts out *constant*: its text is part of the
/// shape, so a document of the shape is compared, not scanned, there. When a later document
/// differs from the shape only in such texts, ``generalize(with:)`` makes those values variable.
@usableFromInline
package struct _JSONShapeTemplate: Sendable {
    @usableFromInline
    struct Value: Sendable {
        var kind: _JSONShape.Step.Kind
        var output: Int32
        /// The value's bytes (for a string: its body and closing quote).
        var text: [UInt8]
        var constant: Bool
    }
    var segments: [[UInt8]] = []
    var values: [Value] = []

    /// Same bytes between the values, and values of the same kinds for the same outputs.
    func isCompatible(with other: _JSONShapeTemplate) -> Bool {
        guard values.count == other.values.count, segments == other.segments else { return false }
        for (a, b) in zip(values, other.values) where a.kind != b.kind || a.output != b.output { return false }
        return true
    }

    /// Makes every constant value whose text differs in `other` (a compatible template) variable;
    /// false when nothing changed.
    mutating func generalize(with other: _JSONShapeTemplate) -> Bool {
        var changed = false
        for i in values.indices where values[i].constant && values[i].text != other.values[i].text {
            values[i].constant = false
            changed = true
        }
        return changed
    }
}
