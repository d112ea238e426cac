import StreamKit

/// A decoded Redis reply (RESP2). Bulk strings keep their raw bytes.
public enum RedisReply: Sendable, Equatable, CustomStringConvertible {
    /// A simple status such as `OK` or `QUEUED`.
    case status(String)
    /// An error reply, e.g. `NOSCRIPT No matching script`.
    case error(String)
    case integer(Int64)
    /// A bulk string.
    case bulk([UInt8])
    /// A nil bulk string or nil array (missing key).
    case null
    case array([RedisReply])

    /// The reply as text: status, error or bulk string (UTF-8), or an integer's digits.
    public var string: String? {
        switch self {
        case .status(let s), .error(let s): return s
        case .bulk(let b): return String(decoding: b, as: UTF8.self)
        case .integer(let i): return String(i)
        default: return nil
        }
    }

    /// The reply as an integer: an integer reply or a bulk string of digits.
    public var integer: Int64? {
        switch self {
        case .integer(let i): return i
        case .bulk(let b): return Int64(String(decoding: b, as: UTF8.self))
        default: return nil
        }
    }

    /// True for an error reply.
    public var isError: Bool { if case .error = self { return true } else { return false } }

    /// The elements of an array reply (empty otherwise).
    public var elements: [RedisReply] { if case .array(let a) = self { return a } else { return [] } }

    public var description: String {
        switch self {
        case .status(let s): return "+\(s)"
        case .error(let s): return "-\(s)"
        case .integer(let i): return ":\(i)"
        case .bulk(let b): return "\"\(String(decoding: b, as: UTF8.self))\""
        case .null: return "(nil)"
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        }
    }
}
