/// One-pass member access for hand-written `Decodable` initialisers on the tape decoder: instead
/// of one keyed lookup (and `Codable`'s generic dispatch) per property, a type reads every member
/// of its object once (values with `stringValue`, `integerValue`, `boolValue`, `isAbsent`), and
/// falls back to its `Codable` path whenever something is not plain.
extension _TapeDecoder {
    /// Calls `body` with each member of the object at ``current`` — its key's bytes as written
    /// (not converted: under ``snakeCase`` the caller maps them the way ``findMember(object:depth:key:)``
    /// would) and its value's tape index — in document order, until `body` returns false. Returns
    /// false, having called `body` for none or only some members, when the value is not an object,
    /// a key has escape sequences, or `body` returned false: the caller then decodes through
    /// `Codable`, which gives the exact errors and key semantics.
    package func forEachPlainMember(_ body: (UnsafeBufferPointer<UInt8>, Int) -> Bool) -> Bool {
        let t = tape.pointer
        let object = current
        guard t[object].kind == .object else { return false }
        let end = Int(t[object].next)
        let document = base
        var m = object &+ 1
        while m < end {
            let k = t[m]
            if k.hasEscapes { return false }
            if !body(UnsafeBufferPointer(start: document + Int(k.start), count: Int(k.end &- k.start)), m &+ 1) { return false }
            m = Int(t[m &+ 1].next)
        }
        return true
    }
}
