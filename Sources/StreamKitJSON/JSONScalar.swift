import StreamKit

/// The location and kind of one JSON value inside a document, as found by `JSONFieldExtractor`.
///
/// A `JSONScalar` holds no copy of the value: `start`/`end` are byte offsets into the document it
/// was extracted from, and the typed accessors (`int64(in:)`, `double(in:)`, `string(in:)`, ...)
/// must be given that same document. Offsets cover:
/// - strings: the bytes between the quotes (still escaped if `hasEscapes`);
/// - numbers, `true`/`false`/`null`: the literal token;
/// - objects and arrays: everything from the opening to the closing bracket inclusive.
public struct JSONScalar: Sendable, Equatable, Hashable {
    /// What kind of value was found.
    public enum Kind: UInt8, Sendable, Hashable {
        /// The path was not present in the document (or a parent was not an object, e.g. null).
        case missing
        /// JSON `null`.
        case null
        /// JSON `true` or `false`.
        case bool
        /// A JSON number.
        case number
        /// A JSON string.
        case string
        /// A JSON object.
        case object
        /// A JSON array.
        case array
    }

    /// The kind of the value.
    public var kind: Kind
    /// For strings: whether the raw bytes contain backslash escapes (so they must be unescaped).
    public var hasEscapes: Bool
    /// Byte offset where the value starts (see the type documentation).
    public var start: Int
    /// Byte offset one past the end of the value.
    public var end: Int

    /// Creates a scalar description.
    @inlinable
    public init(kind: Kind, start: Int, end: Int, hasEscapes: Bool = false) {
        self.kind = kind
        self.start = start
        self.end = end
        self.hasEscapes = hasEscapes
    }

    /// The value of a path that was not found.
    @inlinable
    public static var missing: JSONScalar { JSONScalar(kind: .missing, start: 0, end: 0) }

    /// `true` when the path was not found.
    @inlinable public var isMissing: Bool { kind == .missing }
    /// `true` when the value is JSON `null`.
    @inlinable public var isNull: Bool { kind == .null }
    /// `true` when the value is absent or JSON `null`.
    @inlinable public var isMissingOrNull: Bool { kind == .missing || kind == .null }
    /// Length in bytes of the value's raw span.
    @inlinable public var byteCount: Int { end - start }

    @inlinable @inline(__always)
    func _pointer(_ doc: UnsafeRawBufferPointer) -> UnsafePointer<UInt8>? {
        guard let base = doc.baseAddress, end <= doc.count, start <= end else { return nil }
        return base.assumingMemoryBound(to: UInt8.self) + start
    }

    /// The raw bytes of the value's span in `doc` (see the type documentation for what is covered).
    @inlinable
    public func rawBytes(in doc: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        guard kind != .missing, let p = _pointer(doc) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: p, count: end - start)
    }

    /// The value as an `Int64` if it is a number written in integer form (no fraction or exponent)
    /// that fits; otherwise `nil`.
    @inlinable
    public func int64(in doc: UnsafeRawBufferPointer) -> Int64? {
        guard kind == .number, let p = _pointer(doc) else { return nil }
        return _parseJSONInt64(p, end - start)
    }

    /// The value as a correctly rounded `Double` if it is a number; otherwise `nil`.
    @inlinable
    public func double(in doc: UnsafeRawBufferPointer) -> Double? {
        guard kind == .number, let p = _pointer(doc) else { return nil }
        return _parseJSONDouble(p, end - start)
    }

    /// The value as a `Bool` if it is `true` or `false`; otherwise `nil`.
    @inlinable
    public func bool(in doc: UnsafeRawBufferPointer) -> Bool? {
        guard kind == .bool, let p = _pointer(doc) else { return nil }
        return p[0] == 0x74
    }

    /// The unescaped value if it is a string; otherwise `nil`. Allocates the `String`.
    @inlinable
    public func string(in doc: UnsafeRawBufferPointer) -> String? {
        guard kind == .string, let p = _pointer(doc) else { return nil }
        return _jsonMakeString(p, end - start, hasEscapes: hasEscapes)
    }

    /// Calls `body` with the unescaped UTF-8 bytes of a string value without heap allocation
    /// (escaped strings are unescaped into stack memory). Returns `nil` if the value is not a string.
    @inlinable
    public func withUTF8<R>(in doc: UnsafeRawBufferPointer, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R? {
        guard kind == .string, let p = _pointer(doc) else { return nil }
        return _jsonWithUnescaped(p, end - start, hasEscapes: hasEscapes, body)
    }

    /// Whether the value is a string equal to `bytes` (compared after unescaping), without allocating.
    @inlinable
    public func equals(_ bytes: UnsafeRawBufferPointer, in doc: UnsafeRawBufferPointer) -> Bool {
        guard kind == .string, let p = _pointer(doc) else { return false }
        let n = end - start
        if !hasEscapes {
            guard n == bytes.count else { return false }
            guard n > 0 else { return true }
            return _jsonBytesEqual(p, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), n)
        }
        return _jsonWithUnescaped(p, n, hasEscapes: true) { u in
            guard u.count == bytes.count else { return false }
            guard u.count > 0 else { return true }
            return _jsonBytesEqual(u.baseAddress!, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), u.count)
        }
    }

    /// Whether the value is a string equal to `string` (compared after unescaping), without allocating.
    @inlinable
    public func equals(_ string: StaticString, in doc: UnsafeRawBufferPointer) -> Bool {
        guard string.hasPointerRepresentation else {
            // A single-scalar StaticString: compare through its UTF-8 bytes.
            return string.withUTF8Buffer { equals(UnsafeRawBufferPointer($0), in: doc) }
        }
        return equals(UnsafeRawBufferPointer(start: string.utf8Start, count: string.utf8CodeUnitCount), in: doc)
    }

    /// Whether the value is a string equal to `string` (compared after unescaping). Named
    /// differently from the `StaticString` overload so string literals pick the faster one.
    @inlinable
    public func equals(text string: String, in doc: UnsafeRawBufferPointer) -> Bool {
        var s = string
        return s.withUTF8 { equals(UnsafeRawBufferPointer($0), in: doc) }
    }
}
