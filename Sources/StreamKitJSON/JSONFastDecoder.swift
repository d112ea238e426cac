public import StreamKit

/// A fast `Decodable` decoder for JSON that does not use Foundation.
///
/// Each call makes one validating pass over the document that records a compact tape of value
/// positions, then runs the type's `init(from:)` against the tape; strings and numbers are only
/// converted when a property asks for them. The tape and bookkeeping buffers are kept between
/// calls, so create one decoder per thread/stream and reuse it for every record. A decoder is not
/// thread-safe.
///
/// Behaviour:
/// - Supports all standard integer and floating-point types, `Bool`, `String`, optionals, arrays,
///   nested types and dictionaries keyed by `String` (or `Int`), `decodeIfPresent`, custom
///   `CodingKeys`, and `keyDecodingStrategy`.
/// - Integers must be JSON numbers: `"42"` (a string) is a type mismatch, never silently
///   converted. A number with a fraction or exponent decodes into an integer type only if its
///   value is exactly integral and in range (`1e3` → 1000, `1.5` fails).
/// - Every failure is thrown as `StreamKitError(.malformedInput, ...)`: syntax errors as
///   "<reason> at byte N", decoding errors naming the coding path, e.g.
///   `type mismatch at after.user_id: expected Int64, found string`.
/// - With `treatsDebeziumUnavailableValueAsAbsent` (used by `DebeziumDecoder`) a string equal to
///   Debezium's `__debezium_unavailable_value` placeholder is treated as absent wherever absence is
///   representable: optional properties decode as `nil`. A non-optional `String` property receives
///   the placeholder text itself; any other non-optional property fails with a message naming the
///   column.
public final class FastJSONDecoder {
    /// How JSON object keys are matched to `CodingKey`s.
    public enum KeyDecodingStrategy: Sendable, Hashable {
        /// Keys must equal the coding keys' `stringValue`.
        case useDefaultKeys
        /// JSON keys are converted from snake_case to camelCase before matching
        /// (`user_id` → `userId`, `_ts_ms_` → `_tsMs_`): each word after an underscore is
        /// capitalised and the rest of the word lowercased (ASCII), underscores removed, leading
        /// and trailing underscores kept. If no converted key matches, an exact match of the raw
        /// key is accepted as well, so types with explicit snake_case `CodingKeys` still decode.
        case convertFromSnakeCase
    }

    /// The key strategy; default `.useDefaultKeys`.
    public var keyDecodingStrategy: KeyDecodingStrategy {
        get { state.snakeCase ? .convertFromSnakeCase : .useDefaultKeys }
        set { state.snakeCase = newValue == .convertFromSnakeCase }
    }

    /// Treat Debezium's `__debezium_unavailable_value` placeholder as an absent value (see the type
    /// documentation). Default `false`.
    public var treatsDebeziumUnavailableValueAsAbsent: Bool {
        get { state.placeholderIsAbsent }
        set { state.placeholderIsAbsent = newValue }
    }

    /// Contextual information handed to `init(from:)` implementations via `Decoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: Any] {
        get { state.userInfo }
        set { state.userInfo = newValue }
    }

    /// Maximum nesting depth accepted before a document is rejected. Default 512.
    public var maxDepth: Int = 512

    package let state: _TapeDecoder

    /// Creates a reusable decoder.
    public init(keyDecodingStrategy: KeyDecodingStrategy = .useDefaultKeys) {
        state = _TapeDecoder()
        self.keyDecodingStrategy = keyDecodingStrategy
    }

    /// Decodes a value of type `T` from one JSON document.
    /// - Throws: `StreamKitError` (`.malformedInput`) for malformed JSON or a shape mismatch.
    public func decode<T: Decodable>(_ type: T.Type, from json: UnsafeRawBufferPointer) throws(StreamKitError) -> T {
        try load(json)
        defer { unload() }
        return try decodeLoaded(T.self, at: 0)
    }

    /// Decodes a value of type `T` from one JSON document held in a byte array.
    public func decode<T: Decodable>(_ type: T.Type, from json: [UInt8]) throws(StreamKitError) -> T {
        try json.withUnsafeBufferPointer { (b) throws(StreamKitError) in
            try decode(T.self, from: UnsafeRawBufferPointer(b))
        }
    }

    /// Decodes a value of type `T` from the UTF-8 view of a substring (e.g. one line of a file).
    public func decode<T: Decodable>(_ type: T.Type, from json: Substring.UTF8View) throws(StreamKitError) -> T {
        let result: Result<T, StreamKitError>? = json.withContiguousStorageIfAvailable { b in
            do throws(StreamKitError) {
                return .success(try decode(T.self, from: UnsafeRawBufferPointer(b)))
            } catch {
                return .failure(error)
            }
        }
        if let result { return try result.get() }
        return try decode(T.self, from: Array(json))
    }

    /// Decodes a value of type `T` from a JSON string.
    public func decode<T: Decodable>(_ type: T.Type, from json: String) throws(StreamKitError) -> T {
        var text = json
        let result: Result<T, StreamKitError> = text.withUTF8 { b in
            do throws(StreamKitError) {
                return .success(try decode(T.self, from: UnsafeRawBufferPointer(b)))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    // MARK: Internal two-step API (used by the Debezium helpers)

    /// Parses `json` into the tape. `json` must stay valid until `unload()`.
    package func load(_ json: UnsafeRawBufferPointer) throws(StreamKitError) {
        guard let raw = json.baseAddress, json.count > 0 else { throw _jsonSyntaxError(.emptyDocument, at: 0).streamKitError }
        let s = state
        s.reset()
        var builder = _TapeBuilder(base: raw.assumingMemoryBound(to: UInt8.self), count: json.count,
                                   tape: s.tape, maxDepth: maxDepth)
        defer { s.tape = builder.tape } // the storage may have been reallocated while growing
        do {
            try builder.parseDocument()
        } catch {
            throw error.streamKitError
        }
        s.base = builder.cursor.base
    }

    /// Forgets the loaded document.
    package func unload() {
        state.base = _TapeDecoder.noDocument
    }

    /// Decodes the value at tape index `index` of the loaded document.
    package func decodeLoaded<T: Decodable>(_ type: T.Type, at index: Int) throws(StreamKitError) -> T {
        let s = state
        s.path.removeAll(keepingCapacity: true)
        s.current = index
        do {
            return try T(from: s)
        } catch {
            s.path.removeAll(keepingCapacity: true)
            throw _TapeDecoder.streamKitError(from: error)
        }
    }
}

// MARK: - Decoder state

/// The `Decoder` implementation: one instance per `FastJSONDecoder`, positioned on a tape entry.
package final class _TapeDecoder: Decoder {
    static var noDocument: UnsafePointer<UInt8> { UnsafePointer<UInt8>(bitPattern: 1)! }
    static let placeholder: StaticString = "__debezium_unavailable_value"

    /// All mutable state lives behind a pointer owned by this object: accesses through it are not
    /// subject to the runtime exclusivity checks that class stored properties incur.
    private let storage: UnsafeMutablePointer<State>

    struct State {
        var base: UnsafePointer<UInt8> = _TapeDecoder.noDocument
        var tape = _TapeStorage()
        /// Whether this decoder owns (and must free) `tape`; `superDecoder` children do not.
        var ownsTape = true
        var current = 0
        var path: [any CodingKey] = []
        /// Per depth (up to `hintDepth`): the object and the member at which the next key search
        /// starts, so properties decoded in document order are found in O(1).
        var hints = UnsafeMutablePointer<(owner: Int, member: Int)>.allocate(capacity: _TapeDecoder.hintDepth)
        var snakeCase = false
        var placeholderIsAbsent = false
        var userInfo: [CodingUserInfoKey: Any] = [:]
    }

    init() {
        storage = .allocate(capacity: 1)
        storage.initialize(to: State())
        storage.pointee.hints.initialize(repeating: (-1, 0), count: _TapeDecoder.hintDepth)
    }

    deinit {
        if storage.pointee.ownsTape { storage.pointee.tape.release() }
        storage.pointee.hints.deallocate()
        storage.deinitialize(count: 1)
        storage.deallocate()
    }

    /// Start of the loaded document.
    package var base: UnsafePointer<UInt8> {
        get { storage.pointee.base }
        set { storage.pointee.base = newValue }
    }
    /// The tape of the loaded document.
    package var tape: _TapeStorage {
        get { storage.pointee.tape }
        set { storage.pointee.tape = newValue }
    }
    /// Tape index of the value the next `container`/`singleValueContainer` call decodes.
    package var current: Int {
        get { storage.pointee.current }
        set { storage.pointee.current = newValue }
    }
    /// The coding path of `current` (a stack; containers remember their depth into it).
    package var path: [any CodingKey] {
        _read { yield storage.pointee.path }
        _modify { yield &storage.pointee.path }
    }
    /// Per-depth lookup hints: the object and the member at which the next key search starts, so
    /// properties decoded in document order are found in O(1).
    static var hintDepth: Int { 32 }
    var hints: UnsafeMutablePointer<(owner: Int, member: Int)> { storage.pointee.hints }
    /// Whether keys are converted from snake case (`.convertFromSnakeCase`).
    package var snakeCase: Bool {
        get { storage.pointee.snakeCase }
        set { storage.pointee.snakeCase = newValue }
    }
    var placeholderIsAbsent: Bool {
        get { storage.pointee.placeholderIsAbsent }
        set { storage.pointee.placeholderIsAbsent = newValue }
    }
    package var userInfo: [CodingUserInfoKey: Any] {
        get { storage.pointee.userInfo }
        set { storage.pointee.userInfo = newValue }
    }

    package var codingPath: [any CodingKey] { path }

    func reset() {
        tape.removeAll()
        path.removeAll(keepingCapacity: true)
        hints.update(repeating: (-1, 0), count: _TapeDecoder.hintDepth)
        current = 0
    }

    package func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard tape[current].kind == .object else {
            throw mismatch(expected: "object", at: current, depth: path.count, key: _TapeNoKey())
        }
        return KeyedDecodingContainer(_TapeKeyedContainer<Key>(decoder: self, object: current, depth: path.count))
    }

    package func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard tape[current].kind == .array else {
            throw mismatch(expected: "array", at: current, depth: path.count, key: _TapeNoKey())
        }
        return _TapeUnkeyedContainer(decoder: self, array: current, depth: path.count)
    }

    package func singleValueContainer() throws -> any SingleValueDecodingContainer {
        _TapeSingleValueContainer(decoder: self, index: current, depth: path.count)
    }

    // MARK: Paths and errors

    func codingPath<K: CodingKey>(depth: Int, appending key: K) -> [any CodingKey] {
        var result = Array(path.prefix(depth))
        if !(key is _TapeNoKey) { result.append(key) }
        return result
    }

    func codingPath(depth: Int) -> [any CodingKey] {
        Array(path.prefix(depth))
    }

    package func kindName(_ index: Int) -> String {
        switch tape[index].kind {
        case .missing: return "nothing"
        case .null: return "null"
        case .bool: return "bool"
        case .number: return "number"
        case .string: return isPlaceholder(index) ? "the Debezium unavailable-value placeholder" : "string"
        case .object: return "object"
        case .array: return "array"
        }
    }

    func mismatch<K: CodingKey>(expected: String, at index: Int, depth: Int, key: K) -> DecodingError {
        let context = DecodingError.Context(codingPath: codingPath(depth: depth, appending: key),
                                            debugDescription: "expected \(expected), found \(kindName(index))")
        if tape[index].kind == .null {
            return DecodingError.valueNotFound(Any.self, context)
        }
        return DecodingError.typeMismatch(Any.self, context)
    }

    static func pathString(_ path: [any CodingKey]) -> String {
        if path.isEmpty { return "<root>" }
        var text = ""
        for key in path {
            if key is _TapeIndexKey, let i = key.intValue {
                text += "[\(i)]"
            } else {
                if !text.isEmpty { text += "." }
                text += key.stringValue
            }
        }
        return text
    }

    static func streamKitError(from error: any Error) -> StreamKitError {
        if let e = error as? StreamKitError { return e }
        guard let e = error as? DecodingError else {
            return StreamKitError(.malformedInput, "decoding failed: \(error)")
        }
        switch e {
        case .typeMismatch(_, let context):
            return StreamKitError(.malformedInput, "type mismatch at \(pathString(context.codingPath)): \(context.debugDescription)")
        case .valueNotFound(_, let context):
            return StreamKitError(.malformedInput, "missing value at \(pathString(context.codingPath)): \(context.debugDescription)")
        case .keyNotFound(let key, let context):
            return StreamKitError(.malformedInput, "missing key at \(pathString(context.codingPath + [key]))")
        case .dataCorrupted(let context):
            return StreamKitError(.malformedInput, "invalid value at \(pathString(context.codingPath)): \(context.debugDescription)")
        @unknown default:
            return StreamKitError(.malformedInput, "decoding failed: \(e)")
        }
    }

    // MARK: Value access

    @inline(__always)
    package func isPlaceholder(_ index: Int) -> Bool {
        let e = tape[index]
        guard e.kind == .string, !e.hasEscapes,
              Int(e.end &- e.start) == _TapeDecoder.placeholder.utf8CodeUnitCount else { return false }
        return _jsonBytesEqual(base + Int(e.start), _TapeDecoder.placeholder.utf8Start, _TapeDecoder.placeholder.utf8CodeUnitCount)
    }

    /// `null`, or the unavailable placeholder when that counts as absent.
    @inline(__always)
    package func isAbsent(_ index: Int) -> Bool {
        let kind = tape[index].kind
        if kind == .null { return true }
        return placeholderIsAbsent && kind == .string && isPlaceholder(index)
    }

    // Value conversion is split into a non-generic (or concretely specialised) fast part that
    // returns nil on failure and a generic, out-of-line error builder: the hot path never boxes
    // keys or touches unspecialised generic code.

    @inline(__always)
    package func boolValue(_ index: Int) -> Bool? {
        let e = tape[index]
        guard e.kind == .bool else { return nil }
        return base[Int(e.start)] == 0x74
    }

    @inline(__always)
    package func stringValue(_ index: Int) -> String? {
        let e = tape[index]
        guard e.kind == .string else { return nil }
        return _jsonMakeString(base + Int(e.start), Int(e.end &- e.start), hasEscapes: e.hasEscapes)
    }

    @inline(__always)
    func doubleValue(_ index: Int) -> Double? {
        let e = tape[index]
        guard e.kind == .number else { return nil }
        return _parseJSONDouble(base + Int(e.start), Int(e.end &- e.start))
    }

    @inline(__always)
    func floatValue(_ index: Int) -> Float? {
        guard let d = doubleValue(index) else { return nil }
        let f = Float(d)
        return f.isInfinite && d.isFinite ? nil : f
    }

    /// The integer at `index` if it is a number whose value is exactly representable in `T`
    /// (fractions/exponents allowed only for exactly integral values); otherwise nil.
    @inline(__always)
    package func integerValue<T: FixedWidthInteger>(_ type: T.Type, _ index: Int) -> T? {
        let e = tape[index]
        guard e.kind == .number else { return nil }
        let p = base + Int(e.start)
        let n = Int(e.end &- e.start)
        if let (negative, magnitude) = _parseJSONIntegerMagnitude(p, n) {
            if !negative { return T(exactly: magnitude) }
            if magnitude == 0 { return 0 }
            guard T.isSigned, magnitude <= UInt64(Int64.max) &+ 1 else { return nil }
            return T(exactly: magnitude == UInt64(Int64.max) &+ 1 ? Int64.min : -Int64(magnitude))
        }
        return T(exactly: _parseJSONDouble(p, n))
    }

    /// The error for a value at `index` that could not be decoded as `type`.
    @inline(never)
    func valueError<K: CodingKey>(_ type: Any.Type, at index: Int, depth: Int, key: K) -> DecodingError {
        let e = tape[index]
        if e.kind == .number && type != Bool.self && type != String.self {
            let text = String(decoding: UnsafeBufferPointer(start: base + Int(e.start), count: Int(e.end &- e.start)), as: UTF8.self)
            return DecodingError.dataCorrupted(.init(codingPath: codingPath(depth: depth, appending: key),
                                                     debugDescription: "number \(text) does not fit in \(type)"))
        }
        return mismatch(expected: "\(type)", at: index, depth: depth, key: key)
    }

    @inline(__always)
    func decodeBool<K: CodingKey>(_ index: Int, depth: Int, key: K) throws -> Bool {
        if let v = boolValue(index) { return v }
        throw valueError(Bool.self, at: index, depth: depth, key: key)
    }

    @inline(__always)
    func decodeString<K: CodingKey>(_ index: Int, depth: Int, key: K) throws -> String {
        if let v = stringValue(index) { return v }
        throw valueError(String.self, at: index, depth: depth, key: key)
    }

    @inline(__always)
    func decodeDouble<K: CodingKey>(_ index: Int, depth: Int, key: K) throws -> Double {
        if let v = doubleValue(index) { return v }
        throw valueError(Double.self, at: index, depth: depth, key: key)
    }

    @inline(__always)
    func decodeFloat<K: CodingKey>(_ index: Int, depth: Int, key: K) throws -> Float {
        if let v = floatValue(index) { return v }
        throw valueError(Float.self, at: index, depth: depth, key: key)
    }

    @inline(__always)
    func decodeInteger<T: FixedWidthInteger, K: CodingKey>(_ type: T.Type, _ index: Int, depth: Int, key: K) throws -> T {
        if let v = integerValue(T.self, index) { return v }
        throw valueError(T.self, at: index, depth: depth, key: key)
    }

    /// Decodes a nested `Decodable` at `index`, extending the coding path with `key`.
    /// `depth` is the depth of the calling container; the path is reset to it first.
    func decodeValue<T: Decodable, K: CodingKey>(_ type: T.Type, at index: Int, depth: Int, key: K) throws -> T {
        let saved = current
        current = index
        if path.count > depth { path.removeLast(path.count - depth) }
        if !(key is _TapeNoKey) { path.append(key) }
        defer {
            current = saved
            if path.count > depth { path.removeLast(path.count - depth) }
        }
        return try T(from: self)
    }

    // MARK: Object member lookup

    /// Returns the tape index of the value for `key` in the object at `object`, or -1.
    package func findMember(object: Int, depth: Int, key: UnsafeBufferPointer<UInt8>) -> Int {
        let t = tape.pointer
        let header = t[object]
        guard header.count > 0 else { return -1 }
        let converting = snakeCase
        let keyCount = key.count
        // Absent keys are usually rejected by the object's key filter without scanning.
        if !converting, keyCount > 0,
           header.keyFilter & _jsonKeyFilterBit(key.baseAddress!, keyCount) == 0 {
            return -1
        }
        let first = object &+ 1
        let end = Int(header.next)
        var m = first
        if depth < _TapeDecoder.hintDepth, hints[depth].owner == object, hints[depth].member < end {
            m = hints[depth].member
        }
        let start = m
        let document = base
        repeat {
            let e = t[m]
            let matched: Bool
            if !converting && !e.hasEscapes {
                let n = Int(e.end &- e.start)
                matched = n == keyCount && (n == 0 || _jsonBytesEqual(document + Int(e.start), key.baseAddress!, n))
            } else {
                matched = keyMatches(m, key, converting: converting)
            }
            if matched {
                remember(object: object, depth: depth, member: Int(t[m &+ 1].next))
                return m &+ 1
            }
            m = Int(t[m &+ 1].next)
            if m >= end { m = first }
        } while m != start
        if converting {
            // Fallback: exact raw key (explicit snake_case CodingKeys under .convertFromSnakeCase).
            m = first
            while m < end {
                if keyMatches(m, key, converting: false) { return m &+ 1 }
                m = Int(t[m &+ 1].next)
            }
        }
        return -1
    }

    @inline(__always)
    func remember(object: Int, depth: Int, member: Int) {
        if depth < _TapeDecoder.hintDepth { hints[depth] = (object, member) }
    }

    @inline(__always)
    func keyMatches(_ keyIndex: Int, _ key: UnsafeBufferPointer<UInt8>, converting: Bool) -> Bool {
        let e = tape[keyIndex]
        let p = base + Int(e.start)
        let n = Int(e.end &- e.start)
        if !converting && !e.hasEscapes {
            return n == key.count && (n == 0 || _jsonBytesEqual(p, key.baseAddress!, n))
        }
        return _jsonWithUnescaped(p, n, hasEscapes: e.hasEscapes) { raw in
            converting ? _jsonSnakeCaseKey(raw, convertsTo: key) : (raw.count == key.count && raw.elementsEqual(key))
        }
    }

    /// All member keys of an object (converted when the strategy is snake case).
    func memberKeys(object: Int) -> [String] {
        let header = tape[object]
        var keys: [String] = []
        keys.reserveCapacity(Int(header.count))
        var m = object &+ 1
        let end = Int(header.next)
        while m < end {
            let e = tape[m]
            let raw = _jsonMakeString(base + Int(e.start), Int(e.end &- e.start), hasEscapes: e.hasEscapes)
            keys.append(snakeCase ? _jsonConvertFromSnakeCase(raw) : raw)
            m = Int(tape[m &+ 1].next)
        }
        return keys
    }
}

// MARK: - Snake case

@inline(__always) private func _asciiUpper(_ c: UInt8) -> UInt8 { c &- 0x61 < 26 ? c &- 0x20 : c }
@inline(__always) private func _asciiLower(_ c: UInt8) -> UInt8 { c &- 0x41 < 26 ? c &+ 0x20 : c }

/// Streams the snake_case → camelCase conversion of `json`, calling `emit` per output byte;
/// stops early when `emit` returns false.
@inline(__always)
private func _forEachConvertedByte(_ json: UnsafeBufferPointer<UInt8>, _ emit: (UInt8) -> Bool) -> Bool {
    let n = json.count
    var lead = 0
    while lead < n, json[lead] == 0x5F { lead += 1 }
    var trail = n
    while trail > lead, json[trail - 1] == 0x5F { trail -= 1 }
    var hasInnerUnderscore = false
    for i in lead..<trail where json[i] == 0x5F { hasInnerUnderscore = true; break }
    if !hasInnerUnderscore {
        for c in json where !emit(c) { return false }
        return true
    }
    for _ in 0..<lead where !emit(0x5F) { return false }
    var firstWord = true
    var wordStart = false
    for i in lead..<trail {
        let c = json[i]
        if c == 0x5F { firstWord = false; wordStart = true; continue }
        let out = firstWord ? c : (wordStart ? _asciiUpper(c) : _asciiLower(c))
        wordStart = false
        if !emit(out) { return false }
    }
    for _ in trail..<n where !emit(0x5F) { return false }
    return true
}

/// Whether the camelCase conversion of the JSON key `json` equals `target`.
package func _jsonSnakeCaseKey(_ json: UnsafeBufferPointer<UInt8>, convertsTo target: UnsafeBufferPointer<UInt8>) -> Bool {
    var t = 0
    let ok = _forEachConvertedByte(json) { c in
        guard t < target.count, target[t] == c else { return false }
        t += 1
        return true
    }
    return ok && t == target.count
}

/// The camelCase form of a snake_case key (see `FastJSONDecoder.KeyDecodingStrategy`).
package func _jsonConvertFromSnakeCase(_ key: String) -> String {
    var bytes: [UInt8] = []
    var text = key
    text.withUTF8 { u in
        _ = _forEachConvertedByte(u) { bytes.append($0); return true }
    }
    return String(decoding: bytes, as: UTF8.self)
}

// MARK: - Containers

/// Marker key for calls without a key (single-value containers, the root); never part of a path.
package struct _TapeNoKey: CodingKey {
    package var stringValue: String { "" }
    package var intValue: Int? { nil }
    init() {}
    package init?(stringValue: String) { return nil }
    package init?(intValue: Int) { return nil }
}

/// Coding key for array positions.
package struct _TapeIndexKey: CodingKey {
    package let intValue: Int?
    package var stringValue: String { "Index \(intValue ?? 0)" }
    init(index: Int) { intValue = index }
    package init?(stringValue: String) { return nil }
    package init?(intValue: Int) { self.intValue = intValue }
}

/// Coding key for `superDecoder()`.
package struct _TapeSuperKey: CodingKey {
    package var stringValue: String { "super" }
    package var intValue: Int? { nil }
    init() {}
    package init?(stringValue: String) { }
    package init?(intValue: Int) { return nil }
}

package struct _TapeKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: _TapeDecoder
    let object: Int
    let depth: Int

    package var codingPath: [any CodingKey] { decoder.codingPath(depth: depth) }

    package var allKeys: [Key] { decoder.memberKeys(object: object).compactMap { Key(stringValue: $0) } }

    @inline(__always)
    func find(_ key: Key) -> Int {
        var name = key.stringValue
        return name.withUTF8 { decoder.findMember(object: object, depth: depth, key: $0) }
    }

    @inline(__always)
    func require(_ key: Key) throws -> Int {
        let index = find(key)
        if index < 0 {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath,
                                                       debugDescription: "no value for key '\(key.stringValue)'"))
        }
        return index
    }

    /// Index of the value for `key`, or nil when the key is missing or the value is absent.
    @inline(__always)
    func present(_ key: Key) -> Int? {
        let index = find(key)
        return index < 0 || decoder.isAbsent(index) ? nil : index
    }

    package func contains(_ key: Key) -> Bool { find(key) >= 0 }

    package func decodeNil(forKey key: Key) throws -> Bool { decoder.isAbsent(try require(key)) }

    package func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try decoder.decodeBool(require(key), depth: depth, key: key) }
    package func decode(_ type: String.Type, forKey key: Key) throws -> String { try decoder.decodeString(require(key), depth: depth, key: key) }
    package func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try decoder.decodeDouble(require(key), depth: depth, key: key) }
    package func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try decoder.decodeFloat(require(key), depth: depth, key: key) }
    package func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try decoder.decodeInteger(Int.self, require(key), depth: depth, key: key) }
    package func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try decoder.decodeInteger(Int8.self, require(key), depth: depth, key: key) }
    package func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try decoder.decodeInteger(Int16.self, require(key), depth: depth, key: key) }
    package func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try decoder.decodeInteger(Int32.self, require(key), depth: depth, key: key) }
    package func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try decoder.decodeInteger(Int64.self, require(key), depth: depth, key: key) }
    package func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try decoder.decodeInteger(UInt.self, require(key), depth: depth, key: key) }
    package func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try decoder.decodeInteger(UInt8.self, require(key), depth: depth, key: key) }
    package func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try decoder.decodeInteger(UInt16.self, require(key), depth: depth, key: key) }
    package func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try decoder.decodeInteger(UInt32.self, require(key), depth: depth, key: key) }
    package func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try decoder.decodeInteger(UInt64.self, require(key), depth: depth, key: key) }
    package func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try decoder.decodeValue(T.self, at: require(key), depth: depth, key: key) }

    package func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
        guard let i = present(key) else { return nil }
        return try decoder.decodeBool(i, depth: depth, key: key)
    }
    package func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        guard let i = present(key) else { return nil }
        return try decoder.decodeString(i, depth: depth, key: key)
    }
    package func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
        guard let i = present(key) else { return nil }
        return try decoder.decodeDouble(i, depth: depth, key: key)
    }
    package func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? {
        guard let i = present(key) else { return nil }
        return try decoder.decodeFloat(i, depth: depth, key: key)
    }
    package func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try integerIfPresent(Int.self, key) }
    package func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try integerIfPresent(Int8.self, key) }
    package func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try integerIfPresent(Int16.self, key) }
    package func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try integerIfPresent(Int32.self, key) }
    package func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try integerIfPresent(Int64.self, key) }
    package func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try integerIfPresent(UInt.self, key) }
    package func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try integerIfPresent(UInt8.self, key) }
    package func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try integerIfPresent(UInt16.self, key) }
    package func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try integerIfPresent(UInt32.self, key) }
    package func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try integerIfPresent(UInt64.self, key) }
    package func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let i = present(key) else { return nil }
        return try decoder.decodeValue(T.self, at: i, depth: depth, key: key)
    }

    @inline(__always)
    func integerIfPresent<T: FixedWidthInteger>(_ type: T.Type, _ key: Key) throws -> T? {
        guard let i = present(key) else { return nil }
        return try decoder.decodeInteger(T.self, i, depth: depth, key: key)
    }

    package func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        let i = try require(key)
        guard decoder.tape[i].kind == .object else { throw decoder.mismatch(expected: "object", at: i, depth: depth, key: key) }
        if decoder.path.count > depth { decoder.path.removeLast(decoder.path.count - depth) }
        decoder.path.append(key)
        return KeyedDecodingContainer(_TapeKeyedContainer<NestedKey>(decoder: decoder, object: i, depth: depth + 1))
    }

    package func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        let i = try require(key)
        guard decoder.tape[i].kind == .array else { throw decoder.mismatch(expected: "array", at: i, depth: depth, key: key) }
        if decoder.path.count > depth { decoder.path.removeLast(decoder.path.count - depth) }
        decoder.path.append(key)
        return _TapeUnkeyedContainer(decoder: decoder, array: i, depth: depth + 1)
    }

    package func superDecoder() throws -> any Decoder {
        let i = find(Key(stringValue: "super") ?? Key(intValue: 0)!)
        return decoder.child(at: i < 0 ? object : i, path: codingPath(appending: _TapeSuperKey()))
    }

    package func superDecoder(forKey key: Key) throws -> any Decoder {
        decoder.child(at: try require(key), path: codingPath(appending: key))
    }

    private func codingPath(appending key: any CodingKey) -> [any CodingKey] {
        decoder.codingPath(depth: depth, appending: key)
    }
}

package struct _TapeUnkeyedContainer: UnkeyedDecodingContainer {
    let decoder: _TapeDecoder
    let array: Int
    let depth: Int
    package let count: Int?
    package var currentIndex = 0
    /// Tape index of the next element.
    var position: Int

    init(decoder: _TapeDecoder, array: Int, depth: Int) {
        self.decoder = decoder
        self.array = array
        self.depth = depth
        self.count = Int(decoder.tape[array].count)
        self.position = array + 1
    }

    package var codingPath: [any CodingKey] { decoder.codingPath(depth: depth) }
    package var isAtEnd: Bool { currentIndex >= count! }

    /// Returns the next element's tape index and its coding key, advancing past it.
    @inline(__always)
    mutating func next(_ type: Any.Type) throws -> (Int, _TapeIndexKey) {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(codingPath: decoder.codingPath(depth: depth, appending: _TapeIndexKey(index: currentIndex)),
                                                          debugDescription: "unkeyed container is at end"))
        }
        let index = position
        let key = _TapeIndexKey(index: currentIndex)
        position = Int(decoder.tape[index].next)
        currentIndex += 1
        return (index, key)
    }

    package mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { _ = try next(Never.self); return false }
        if decoder.isAbsent(position) {
            _ = try next(Never.self)
            return true
        }
        return false
    }

    package mutating func decode(_ type: Bool.Type) throws -> Bool { let (i, k) = try next(type); return try decoder.decodeBool(i, depth: depth, key: k) }
    package mutating func decode(_ type: String.Type) throws -> String { let (i, k) = try next(type); return try decoder.decodeString(i, depth: depth, key: k) }
    package mutating func decode(_ type: Double.Type) throws -> Double { let (i, k) = try next(type); return try decoder.decodeDouble(i, depth: depth, key: k) }
    package mutating func decode(_ type: Float.Type) throws -> Float { let (i, k) = try next(type); return try decoder.decodeFloat(i, depth: depth, key: k) }
    package mutating func decode(_ type: Int.Type) throws -> Int { try integer(Int.self) }
    package mutating func decode(_ type: Int8.Type) throws -> Int8 { try integer(Int8.self) }
    package mutating func decode(_ type: Int16.Type) throws -> Int16 { try integer(Int16.self) }
    package mutating func decode(_ type: Int32.Type) throws -> Int32 { try integer(Int32.self) }
    package mutating func decode(_ type: Int64.Type) throws -> Int64 { try integer(Int64.self) }
    package mutating func decode(_ type: UInt.Type) throws -> UInt { try integer(UInt.self) }
    package mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(UInt8.self) }
    package mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(UInt16.self) }
    package mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(UInt32.self) }
    package mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(UInt64.self) }
    package mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (i, k) = try next(type)
        return try decoder.decodeValue(T.self, at: i, depth: depth, key: k)
    }

    @inline(__always)
    mutating func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        let (i, k) = try next(type)
        return try decoder.decodeInteger(T.self, i, depth: depth, key: k)
    }

    package mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let (i, k) = try next(type)
        guard decoder.tape[i].kind == .object else { throw decoder.mismatch(expected: "object", at: i, depth: depth, key: k) }
        if decoder.path.count > depth { decoder.path.removeLast(decoder.path.count - depth) }
        decoder.path.append(k)
        return KeyedDecodingContainer(_TapeKeyedContainer<NestedKey>(decoder: decoder, object: i, depth: depth + 1))
    }

    package mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (i, k) = try next(Any.self)
        guard decoder.tape[i].kind == .array else { throw decoder.mismatch(expected: "array", at: i, depth: depth, key: k) }
        if decoder.path.count > depth { decoder.path.removeLast(decoder.path.count - depth) }
        decoder.path.append(k)
        return _TapeUnkeyedContainer(decoder: decoder, array: i, depth: depth + 1)
    }

    package mutating func superDecoder() throws -> any Decoder {
        let (i, k) = try next(Any.self)
        return decoder.child(at: i, path: decoder.codingPath(depth: depth, appending: k))
    }
}

package struct _TapeSingleValueContainer: SingleValueDecodingContainer {
    let decoder: _TapeDecoder
    let index: Int
    let depth: Int

    package var codingPath: [any CodingKey] { decoder.codingPath(depth: depth) }

    package func decodeNil() -> Bool { decoder.isAbsent(index) }
    package func decode(_ type: Bool.Type) throws -> Bool { try decoder.decodeBool(index, depth: depth, key: _TapeNoKey()) }
    package func decode(_ type: String.Type) throws -> String { try decoder.decodeString(index, depth: depth, key: _TapeNoKey()) }
    package func decode(_ type: Double.Type) throws -> Double { try decoder.decodeDouble(index, depth: depth, key: _TapeNoKey()) }
    package func decode(_ type: Float.Type) throws -> Float { try decoder.decodeFloat(index, depth: depth, key: _TapeNoKey()) }
    package func decode(_ type: Int.Type) throws -> Int { try decoder.decodeInteger(Int.self, index, depth: depth, key: _TapeNoKey()) }
    package func decode(_ type: Int8.Type) throws -> Int8 { try decoder.decodeInteger(Int8.self, index, depth: depth, key: _TapeNoKey()) }
    package func decode(_ type: Int16.Type) throws -> Int16 { try decoder.decodeInteger(Int16.self, index, depth: depth, key: _TapeNoKey()) }
    package func decode(_ type: Int32.Type) throws -> Int32 { try decoder.decodeInteger(Int32.self, index, depth: depth, key: _TapeNoKey()) }
    package func decode(_ type: Int64.Type) throws -> Int64 { try decoder.decodeInteger(Int64.self, index, depth: depth, key: _TapeNoKey()) }
    package func decode(_ type: UInt.Type) throws -> UInt { try decoder.decodeInteger(UInt.self, index, depth: depth, key: _TapeNoKey()) }
    package func decode(_ type: UInt8.Type) throws -> UInt8 { try decoder.decodeInteger(UInt8.self, index, depth: depth, key: _TapeNoKey()) }
    package func decode(_ type: UInt16.Type) throws -> UInt16 { try decoder.decodeInteger(UInt16.self, index, depth: depth, key: _TapeNoKey()) }
    package func decode(_ type: UInt32.Type) throws -> UInt32 { try decoder.decodeInteger(UInt32.self, index, depth: depth, key: _TapeNoKey()) }
    package func decode(_ type: UInt64.Type) throws -> UInt64 { try decoder.decodeInteger(UInt64.self, index, depth: depth, key: _TapeNoKey()) }
    package func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try decoder.decodeValue(T.self, at: index, depth: depth, key: _TapeNoKey())
    }
}

extension _TapeDecoder {
    /// A detached decoder for `superDecoder` calls, sharing the loaded document.
    func child(at index: Int, path: [any CodingKey]) -> _TapeDecoder {
        let d = _TapeDecoder()
        d.base = base
        d.tape.release() // share the parent's tape instead of the child's own empty one
        d.tape = tape
        d.storage.pointee.ownsTape = false
        d.current = index
        d.path = path
        d.snakeCase = snakeCase
        d.placeholderIsAbsent = placeholderIsAbsent
        d.userInfo = userInfo
        return d
    }
}
