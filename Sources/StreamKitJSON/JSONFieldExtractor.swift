public import StreamKit
public import Glibc

/// Pulls a fixed set of fields out of JSON documents in a single validating pass.
///
/// Compile the extractor once from the paths you need, then call `extract(_:into:)` per document
/// with a reused output array. The scan validates the complete document (so truncated input,
/// bad literals, bad numbers, unterminated strings or trailing garbage throw
/// `StreamKitError(.malformedInput, "<reason> at byte N")`), descends only into the objects
/// that lead to a requested path, and skips everything else without materialising it.
/// Extraction performs no heap allocation once the output array has the right size.
///
/// For each path, `out[i]` describes the value at `paths[i]`: its kind and byte span in the
/// document (see `JSONScalar`). A path whose parent is absent, `null` or not an object yields
/// `.missing`. If a key occurs twice in an object, the last occurrence wins.
///
/// ```swift
/// let extractor = JSONFieldExtractor(["after.user_id", "after.amount", "op"])
/// var fields: [JSONScalar] = []
/// try line.withUnsafeBytes { doc in
///     try extractor.extract(doc, into: &fields)
///     let user = fields[0].int64(in: doc)
///     let isCreate = fields[2].equals("c", in: doc)
/// }
/// ```
public struct JSONFieldExtractor: Sendable {
    /// The paths being extracted; `out[i]` corresponds to `paths[i]`.
    public let paths: [JSONPath]
    /// Maximum nesting depth accepted before the document is rejected.
    public let maxDepth: Int

    @usableFromInline let nodes: [_TrieNode]
    @usableFromInline let keyBytes: [UInt8]
    /// Pairs (source, destination) for paths listed more than once.
    @usableFromInline let duplicates: [(Int, Int)]

    /// Compiles an extractor for `paths`.
    /// - Parameter maxDepth: documents nested deeper than this are rejected (protects the stack).
    public init(_ paths: [JSONPath], maxDepth: Int = 512) {
        self.paths = paths
        self.maxDepth = maxDepth
        // Build a temporary tree, then lay it out breadth-first so siblings are contiguous.
        var keys: [[UInt8]] = [[]]
        var children: [[Int]] = [[]]
        var outputs: [Int] = [-1]
        var duplicates: [(Int, Int)] = []
        for (index, path) in paths.enumerated() {
            var node = 0
            for component in path.components {
                let bytes = Array(component.utf8)
                if let existing = children[node].first(where: { keys[$0] == bytes }) {
                    node = existing
                } else {
                    keys.append(bytes); children.append([]); outputs.append(-1)
                    children[node].append(keys.count - 1)
                    node = keys.count - 1
                }
            }
            if outputs[node] >= 0 { duplicates.append((outputs[node], index)) } else { outputs[node] = index }
        }
        var order = [0]
        var cursor = 0
        while cursor < order.count {
            order.append(contentsOf: children[order[cursor]])
            cursor += 1
        }
        var position = [Int](repeating: 0, count: order.count)
        for (i, n) in order.enumerated() { position[n] = i }
        var flat: [_TrieNode] = []
        var pool: [UInt8] = []
        for n in order {
            let first = children[n].first.map { position[$0] } ?? 0
            flat.append(_TrieNode(keyStart: Int32(pool.count), keyCount: Int32(keys[n].count),
                                  firstChild: Int32(first), childCount: Int32(children[n].count),
                                  output: Int32(outputs[n])))
            pool.append(contentsOf: keys[n])
        }
        pool.append(0) // never empty, so the pool always has a base address
        self.nodes = flat
        self.keyBytes = pool
        self.duplicates = duplicates
    }

    /// Compiles an extractor for dotted paths (`"after.user_id"`).
    public init(_ dottedPaths: [String], maxDepth: Int = 512) {
        self.init(dottedPaths.map(JSONPath.init(dotted:)), maxDepth: maxDepth)
    }

    /// Scans `doc` once and stores the value found for each path in `out` (resized to
    /// `paths.count` if needed; otherwise reused without allocation).
    /// - Throws: `StreamKitError` with code `.malformedInput` if the document is not valid JSON.
    @inlinable
    public func extract(_ doc: UnsafeRawBufferPointer, into out: inout [JSONScalar]) throws(StreamKitError) {
        try withRun(doc, into: &out) { (run, o) throws(_JSONFailure) in
            for i in o.indices { o[i] = .missing }
            try run.document()
        }
    }

    /// Calls `body` with an extraction run over `doc` that writes to `out` (resized to
    /// `paths.count` if needed), then copies the values of paths listed twice. A syntax failure
    /// thrown by `body` becomes the public `StreamKitError`. Shared by both `extract` variants.
    @inlinable
    func withRun(_ doc: UnsafeRawBufferPointer, into out: inout [JSONScalar],
                 _ body: (_ExtractionRun, UnsafeMutableBufferPointer<JSONScalar>) throws(_JSONFailure) -> Void) throws(StreamKitError) {
        let count = paths.count
        if out.count != count { out = [JSONScalar](repeating: .missing, count: count) }
        guard let raw = doc.baseAddress, doc.count > 0 else { throw _jsonSyntaxError(.emptyDocument, at: 0).streamKitError }
        let base = raw.assumingMemoryBound(to: UInt8.self)
        let depthLimit = maxDepth
        do {
        try out.withUnsafeMutableBufferPointer { (o) throws(_JSONFailure) in
            try nodes.withUnsafeBufferPointer { (n) throws(_JSONFailure) in
                try keyBytes.withUnsafeBufferPointer { (k) throws(_JSONFailure) in
                    let run = _ExtractionRun(cursor: _JSONCursor(base: base, count: doc.count),
                                             nodes: n.baseAddress!, keys: k.baseAddress!,
                                             // With no paths nothing is ever written, so a non-null placeholder suffices.
                                             out: o.baseAddress ?? UnsafeMutablePointer(bitPattern: MemoryLayout<JSONScalar>.alignment)!,
                                             maxDepth: depthLimit)
                    try body(run, o)
                }
            }
        }
        } catch {
            throw error.streamKitError
        }
        if !duplicates.isEmpty {
            for (source, destination) in duplicates { out[destination] = out[source] }
        }
    }

    /// Convenience overload of `extract(_:into:)` for a byte array.
    @inlinable
    public func extract(_ doc: [UInt8], into out: inout [JSONScalar]) throws(StreamKitError) {
        try doc.withUnsafeBufferPointer { (b) throws(StreamKitError) in try extract(UnsafeRawBufferPointer(b), into: &out) }
    }
}

/// One node of the compiled path trie. Children of a node are contiguous in `nodes`.
@usableFromInline
package struct _TrieNode: Sendable {
    @usableFromInline var keyStart: Int32
    @usableFromInline var keyCount: Int32
    @usableFromInline var firstChild: Int32
    @usableFromInline var childCount: Int32
    /// Index into the output array, or -1 if this node is only an intermediate object.
    @usableFromInline var output: Int32

    @inlinable
    init(keyStart: Int32, keyCount: Int32, firstChild: Int32, childCount: Int32, output: Int32) {
        self.keyStart = keyStart
        self.keyCount = keyCount
        self.firstChild = firstChild
        self.childCount = childCount
        self.output = output
    }
}

/// The state of one `extract` call. Positions are passed and returned explicitly so they stay
/// in registers.
@usableFromInline
package struct _ExtractionRun {
    @usableFromInline let cursor: _JSONCursor
    @usableFromInline let nodes: UnsafePointer<_TrieNode>
    @usableFromInline let keys: UnsafePointer<UInt8>
    @usableFromInline let out: UnsafeMutablePointer<JSONScalar>
    @usableFromInline let maxDepth: Int

    @inlinable @inline(__always)
    init(cursor: _JSONCursor, nodes: UnsafePointer<_TrieNode>, keys: UnsafePointer<UInt8>,
         out: UnsafeMutablePointer<JSONScalar>, maxDepth: Int) {
        self.cursor = cursor
        self.nodes = nodes
        self.keys = keys
        self.out = out
        self.maxDepth = maxDepth
    }

    /// Parses the whole document.
    @inlinable
    func document() throws(_JSONFailure) {
        let p = try value(node: 0, at: try cursor.next(0), depth: 0)
        try cursor.finish(p)
    }

    /// Parses the value at `p` for trie node `node`, descending into objects that lead to
    /// requested paths and recording the value if the node is a requested path. Returns the
    /// position after the value.
    @inlinable
    func value(node: Int, at p: Int, depth: Int) throws(_JSONFailure) -> Int {
        let n = nodes[node]
        var start = p
        let end: Int
        var escapes = false
        let kind: JSONScalar.Kind
        switch cursor.base[p] {
        case _JSONASCII.quote:
            let after = try cursor.string(p &+ 1, &escapes)
            start = p &+ 1
            end = after &- 1
            kind = .string
            if n.output >= 0 { out[Int(n.output)] = JSONScalar(kind: kind, start: start, end: end, hasEscapes: escapes) }
            return after
        case _JSONASCII.minus, 0x30...0x39:
            end = try cursor.number(p)
            kind = .number
        case _JSONASCII.openBrace:
            end = n.childCount > 0 ? try object(n, at: p, depth: depth)
                                   : try cursor.skipObject(p, depth: depth, maxDepth: maxDepth)
            kind = .object
        case _JSONASCII.openBracket:
            end = try cursor.skipArray(p, depth: depth, maxDepth: maxDepth)
            kind = .array
        case 0x74, 0x66, 0x6E:
            (end, kind) = try cursor.literal(p)
        default:
            throw _jsonSyntaxError(.unexpectedCharacter, at: p)
        }
        if n.output >= 0 {
            out[Int(n.output)] = JSONScalar(kind: kind, start: start, end: end, hasEscapes: false)
        }
        return end
    }

    /// Parses an object at `start` (`{`) whose members may match children of `n`.
    @inlinable
    func object(_ n: _TrieNode, at start: Int, depth: Int) throws(_JSONFailure) -> Int {
        guard depth < maxDepth else { throw _jsonSyntaxError(.tooDeep, at: start) }
        let base = cursor.base
        var p = try cursor.next(start &+ 1)
        if base[p] == _JSONASCII.closeBrace { return p &+ 1 }
        while true {
            guard base[p] == _JSONASCII.quote else { throw _jsonSyntaxError(.expectedKey, at: p) }
            let keyStart = p &+ 1
            var escapes = false
            let keyEnd = try cursor.string(keyStart, &escapes)
            let child = findChild(n, keyStart: keyStart, keyEnd: keyEnd &- 1, escapes: escapes)
            p = try cursor.next(keyEnd)
            guard base[p] == _JSONASCII.colon else { throw _jsonSyntaxError(.expectedColon, at: p) }
            p = try cursor.next(p &+ 1)
            if child >= 0 {
                p = try value(node: child, at: p, depth: depth &+ 1)
            } else {
                p = try cursor.skipMemberValue(p, depth: depth &+ 1, maxDepth: maxDepth)
            }
            p = try cursor.next(p)
            let c = base[p]
            if c == _JSONASCII.comma {
                p = try cursor.next(p &+ 1)
                continue
            }
            if c == _JSONASCII.closeBrace { return p &+ 1 }
            throw _jsonSyntaxError(.expectedCommaOrBrace, at: p)
        }
    }

    /// Returns the child of `n` whose name equals the key bytes, or -1.
    @inlinable @inline(__always)
    func findChild(_ n: _TrieNode, keyStart: Int, keyEnd: Int, escapes: Bool) -> Int {
        let length = keyEnd &- keyStart
        let key = cursor.base + keyStart
        if escapes { return findEscapedChild(n, key: key, length: length) }
        var i = Int(n.firstChild)
        let last = i &+ Int(n.childCount)
        while i < last {
            let candidate = nodes[i]
            if Int(candidate.keyCount) == length,
               length == 0 || (keys[Int(candidate.keyStart)] == key[0]
                               && _jsonBytesEqual(keys + Int(candidate.keyStart), key, length)) {
                return i
            }
            i &+= 1
        }
        return -1
    }

    @usableFromInline
    func findEscapedChild(_ n: _TrieNode, key: UnsafePointer<UInt8>, length: Int) -> Int {
        _jsonWithUnescaped(key, length, hasEscapes: true) { u in
            var i = Int(n.firstChild)
            let last = i &+ Int(n.childCount)
            while i < last {
                let candidate = nodes[i]
                if Int(candidate.keyCount) == u.count,
                   u.count == 0 || _jsonBytesEqual(keys + Int(candidate.keyStart), u.baseAddress!, u.count) {
                    return i
                }
                i &+= 1
            }
            return -1
        }
    }
}
