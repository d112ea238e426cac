import CHiredis

/// A reply read in place from hiredis (see ``RedisConnection/withReply(_:scripts:_:)``): valid only
/// inside the closure it is handed to; nothing is copied until the reader asks.
package struct RedisReplyView {
    private let reply: UnsafePointer<redisReply>

    init(_ reply: UnsafePointer<redisReply>) { self.reply = reply }

    package var isError: Bool { reply.pointee.type == REDIS_REPLY_ERROR }
    package var isNull: Bool { reply.pointee.type == REDIS_REPLY_NIL }
    package var isArray: Bool { reply.pointee.type == REDIS_REPLY_ARRAY }
    package var isString: Bool { reply.pointee.type == REDIS_REPLY_STRING }

    /// The bytes of a string, status or error reply (empty otherwise).
    package var bytes: UnsafeRawBufferPointer {
        switch reply.pointee.type {
        case REDIS_REPLY_STRING, REDIS_REPLY_STATUS, REDIS_REPLY_ERROR:
            return reply.pointee.len == 0 ? UnsafeRawBufferPointer(start: nil, count: 0)
                : UnsafeRawBufferPointer(start: reply.pointee.str, count: reply.pointee.len)
        default:
            return UnsafeRawBufferPointer(start: nil, count: 0)
        }
    }

    /// An integer reply, or a string of decimal digits.
    package var integer: Int64? {
        if reply.pointee.type == REDIS_REPLY_INTEGER { return Int64(reply.pointee.integer) }
        guard isString else { return nil }
        return RedisReplyView.parseInteger(bytes)
    }

    /// The number of elements of an array reply (0 otherwise).
    package var count: Int { isArray ? reply.pointee.elements : 0 }

    /// Element `i` of an array reply.
    package subscript(i: Int) -> RedisReplyView {
        precondition(i >= 0 && i < count, "reply element \(i) out of range")
        return RedisReplyView(UnsafePointer(reply.pointee.element[i]!))
    }

    /// The reply copied into a ``RedisReply`` (for error messages).
    package var copied: RedisReply { RedisConnection.decode(reply) }

    /// Decimal digits with an optional '-' (no other characters), without allocating.
    package static func parseInteger(_ b: UnsafeRawBufferPointer) -> Int64? {
        guard !b.isEmpty, b.count <= 20 else { return nil }
        var i = 0
        let negative = b[0] == UInt8(ascii: "-")
        if negative { i = 1; if b.count == 1 { return nil } }
        var v: Int64 = 0
        while i < b.count {
            let d = b[i] &- UInt8(ascii: "0")
            guard d <= 9 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = negative ? m.subtractingReportingOverflow(Int64(d)) : m.addingReportingOverflow(Int64(d))
            if o1 || o2 { return nil }
            v = a
            i += 1
        }
        return v
    }
}
