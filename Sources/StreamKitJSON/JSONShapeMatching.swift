public import StreamKit

// Extraction through a ``JSONShapeCache``: matching a document against learned shapes, and
// learning the shape of a document that parsed.

extension JSONFieldExtractor {
    /// ``extract(_:into:)`` through `shapes`: the same outputs, and the same errors, for every
    /// document; faster for documents shaped like recent ones (see ``JSONShapeCache``).
    @inlinable
    public func extract(_ doc: UnsafeRawBufferPointer, into out: inout [JSONScalar], shapes: inout JSONShapeCache) throws(StreamKitError) {
        let useShapes = shapes.begin()
        try withRun(doc, into: &out) { (run, o) throws(_JSONFailure) in
            if useShapes && !shapes.shapes.isEmpty {
                let first = shapes.last
                var i = first
                repeat {
                    for j in o.indices { o[j] = .missing }
                    let matched = shapes.shapes[i].bytes.withUnsafeBufferPointer { b in
                        shapes.shapes[i].steps.withUnsafeBufferPointer { s in run.match(b.baseAddress!, s) }
                    }
                    if matched {
                        shapes.shapes[i].uses &+= 1
                        shapes.last = i
                        shapes.record(hit: true)
                        return
                    }
                    i = i &+ 1 == shapes.shapes.count ? 0 : i &+ 1
                } while i != first
            }
            for j in o.indices { o[j] = .missing }
            try run.document()
            if useShapes {
                if let shape = run.shape(maxValues: shapes.maxValues) { shapes.learn(shape) }
                shapes.record(hit: false)
            }
        }
    }
}

extension _ExtractionRun {
    /// Matches the document against a shape (its fixed bytes at `fixed`, its steps), filling the
    /// outputs; false when it does not match or a value does not scan (outputs then partly
    /// written: the caller resets them).
    @inlinable
    func match(_ fixed: UnsafePointer<UInt8>, _ steps: UnsafeBufferPointer<_JSONShape.Step>) -> Bool {
        let base = cursor.base
        let end = cursor.end
        var p = 0
        for step in steps {
            let n = Int(step.count)
            guard n <= end &- p, _jsonBytesEqual(base + p, fixed + Int(step.start), n) else { return false }
            p &+= n
            let start = p
            let kind: JSONScalar.Kind
            switch step.kind {
            case .string:
                var escapes = false
                guard let after = try? cursor.string(p, &escapes) else { return false }
                if step.output >= 0 { out[Int(step.output)] = JSONScalar(kind: .string, start: p, end: after &- 1, hasEscapes: escapes) }
                p = after
                continue
            case .number:
                guard p < end, base[p] == _JSONASCII.minus || _jsonIsDigit(base[p]), let q = try? cursor.number(p) else { return false }
                p = q; kind = .number
            case .null, .true, .false:
                let expected: UInt8 = step.kind == .null ? 0x6E : step.kind == .true ? 0x74 : 0x66
                guard p < end, base[p] == expected, let (q, k) = try? cursor.literal(p) else { return false }
                p = q; kind = k
            case .end:
                return cursor.skipWS(p) == end
            }
            if step.output >= 0 { out[Int(step.output)] = JSONScalar(kind: kind, start: start, end: p) }
        }
        return false
    }

    /// The shape of this run's document, which parsed; nil when it has more than `maxValues`
    /// values or a requested path holds an object or array.
    @usableFromInline
    func shape(maxValues: Int) -> _JSONShapeTemplate? {
        var template = _JSONShapeTemplate()
        var fixedFrom = 0
        var learnable = true
        let base = cursor.base
        /// Ends the fixed bytes at `p`, before a value of `kind` for `output` that ends at `next`.
        func value(at p: Int, _ kind: _JSONShape.Step.Kind, output: Int32, next: Int) {
            template.segments.append(Array(UnsafeBufferPointer(start: base + fixedFrom, count: p &- fixedFrom)))
            if kind != .end {
                template.values.append(.init(kind: kind, output: output, text: Array(UnsafeBufferPointer(start: base + p, count: next &- p)),
                                             constant: output < 0))
            }
            fixedFrom = next
            if template.values.count > maxValues { learnable = false }
        }
        /// Walks the value at `p` for trie node `node` (-1: off the requested paths).
        func walk(node: Int, at p: Int) throws(_JSONFailure) -> Int {
            let output: Int32 = node >= 0 ? nodes[node].output : -1
            switch base[p] {
            case _JSONASCII.quote:
                var escapes = false
                let after = try cursor.string(p &+ 1, &escapes)
                value(at: p &+ 1, .string, output: output, next: after)
                return after
            case _JSONASCII.openBrace:
                if output >= 0 { learnable = false }
                var q = try cursor.next(p &+ 1)
                if base[q] == _JSONASCII.closeBrace { return q &+ 1 }
                while learnable {
                    var escapes = false
                    let keyEnd = try cursor.string(q &+ 1, &escapes)
                    let child = node >= 0 && nodes[node].childCount > 0
                        ? findChild(nodes[node], keyStart: q &+ 1, keyEnd: keyEnd &- 1, escapes: escapes) : -1
                    q = try cursor.next(try cursor.next(keyEnd) &+ 1)     // past the colon
                    q = try cursor.next(try walk(node: child, at: q))
                    if base[q] == _JSONASCII.closeBrace { return q &+ 1 }
                    q = try cursor.next(q &+ 1)                           // past the comma
                }
                return q
            case _JSONASCII.openBracket:
                if output >= 0 { learnable = false }
                var q = try cursor.next(p &+ 1)
                if base[q] == _JSONASCII.closeBracket { return q &+ 1 }
                while learnable {
                    q = try cursor.next(try walk(node: -1, at: q))
                    if base[q] == _JSONASCII.closeBracket { return q &+ 1 }
                    q = try cursor.next(q &+ 1)
                }
                return q
            case 0x6E, 0x74, 0x66:   // n t f
                let (q, _) = try cursor.literal(p)
                value(at: p, base[p] == 0x6E ? .null : base[p] == 0x74 ? .true : .false, output: output, next: q)
                return q
            default:
                let q = try cursor.number(p)
                value(at: p, .number, output: output, next: q)
                return q
            }
        }
        guard let p = try? cursor.next(0), let q = try? walk(node: 0, at: p), learnable else { return nil }
        let last = cursor.skipWS(q)
        value(at: last, .end, output: -1, next: last)
        guard learnable else { return nil }
        return template
    }
}
