import Glibc
import StreamKitJSON

/// Renders one entity's stored hash (its `HGETALL` reply) and version as the JSON of a feature lookup, straight from the reply's bytes. The same rules as
/// ``FeatureVector`` reads of a view known only by name: features sorted by name, each value an
/// integer if it reads as one, else a double if it reads as one and looks like one (`.`, `e`, `nan`,
/// `inf`), else a string.
enum StoredFeatureJSON {
    /// Writes `"entity","found":true,"version","event_time","age_ms","features":{…}` into the open
    /// object; false (nothing written) when the entity is missing or its hash expired.
    static func write(entity: String, version: Int64, hash: RedisReplyView, now: Int64, into w: inout JSONWriter) -> Bool {
        guard hash.isArray else { return false }
        let pairs = hash.count / 2
        var eventTime: Int64? = nil
        for p in 0..<pairs where equals(hash[2 * p].bytes, FeatureView.eventTimeField) {
            eventTime = RedisReplyView.parseInteger(hash[2 * p + 1].bytes)
        }
        // No event time: the hash expired (or was never written by the sink).
        guard let eventTime else { return false }
        w.field("entity", entity)
        w.field("found", true)
        w.field("version", version)
        w.field("event_time", eventTime)
        w.field("age_ms", now - eventTime)
        w.key("features")
        w.beginObject()
        withUnsafeTemporaryAllocation(of: Int.self, capacity: max(pairs, 1)) { order in
            // The feature pairs (not the sink's own fields), sorted by name: insertion sort of a few.
            var n = 0
            for p in 0..<pairs {
                let name = hash[2 * p].bytes
                if equals(name, FeatureView.eventTimeField) || equals(name, FeatureView.updatedField) { continue }
                var j = n
                while j > 0 && less(name, hash[2 * order[j - 1]].bytes) { order[j] = order[j - 1]; j -= 1 }
                order[j] = p
                n += 1
            }
            for k in 0..<n {
                let p = order[k]
                writeKey(hash[2 * p].bytes, into: &w)
                writeValue(hash[2 * p + 1].bytes, into: &w)
            }
        }
        w.endObject()
        return true
    }

    static func writeKey(_ name: UnsafeRawBufferPointer, into w: inout JSONWriter) {
        if isASCII(name) { w.key(utf8: name) } else { w.key(String(decoding: name, as: UTF8.self)) }
    }

    /// An integer, a double or a string, as ``FeatureValue/init(inferring:)`` reads stored text.
    static func writeValue(_ text: UnsafeRawBufferPointer, into w: inout JSONWriter) {
        if let i = integer(text) { w.value(i); return }
        if looksFractional(text), let d = double(text) { w.value(d); return }
        if isASCII(text) { w.value(utf8: text) } else { w.value(String(decoding: text, as: UTF8.self)) }
    }

    /// Swift's `Int64(String)`: an optional sign and decimal digits.
    static func integer(_ b: UnsafeRawBufferPointer) -> Int64? {
        if let first = b.first, first == UInt8(ascii: "+") {
            return b.count > 1 && b[1] != UInt8(ascii: "-") ? RedisReplyView.parseInteger(UnsafeRawBufferPointer(rebasing: b.dropFirst())) : nil
        }
        return RedisReplyView.parseInteger(b)
    }

    static func looksFractional(_ b: UnsafeRawBufferPointer) -> Bool {
        b.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") || $0 == UInt8(ascii: "n") || $0 == UInt8(ascii: "i") }
    }

    /// Swift's `Double(String)`: the whole text must parse (`strtod`, no leading space).
    static func double(_ b: UnsafeRawBufferPointer) -> Double? {
        guard !b.isEmpty, b.count < 64, let first = b.first, first > 0x20 else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: b.count + 1) { buffer -> Double? in
            let p = buffer.baseAddress!
            for i in 0..<b.count {
                guard b[i] != 0 else { return nil }
                p[i] = CChar(bitPattern: b[i])
            }
            p[b.count] = 0
            var end: UnsafeMutablePointer<CChar>? = nil
            let d = strtod(p, &end)
            guard let end, end == p + b.count else { return nil }
            return d
        }
    }

    static func isASCII(_ b: UnsafeRawBufferPointer) -> Bool { !b.contains { $0 >= 0x80 } }

    static func equals(_ b: UnsafeRawBufferPointer, _ s: String) -> Bool {
        var s = s
        return s.withUTF8 { u in u.count == b.count && (u.count == 0 || memcmp(u.baseAddress!, b.baseAddress!, u.count) == 0) }
    }

    /// Byte order (code point order for UTF-8; `String`'s order for ASCII names).
    static func less(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        let n = min(a.count, b.count)
        if n > 0 {
            let c = memcmp(a.baseAddress!, b.baseAddress!, n)
            if c != 0 { return c < 0 }
        }
        return a.count < b.count
    }
}
