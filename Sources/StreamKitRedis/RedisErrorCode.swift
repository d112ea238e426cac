public import StreamKit

/// A hiredis error code (`redisContext.err`, the `REDIS_ERR_*` constants) without the C type.
/// Replies the server sends as errors (`-ERR …`) are not hiredis errors and carry no code.
public struct RedisErrorCode: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Read or write failed (errno in the message): retriable after a reconnect.
    public static let io = RedisErrorCode(rawValue: 1)
    /// Anything else hiredis reports (e.g. cannot resolve the host): retriable.
    public static let other = RedisErrorCode(rawValue: 2)
    /// The server closed the connection: retriable after a reconnect.
    public static let eof = RedisErrorCode(rawValue: 3)
    /// A reply could not be parsed: not retriable.
    public static let `protocol` = RedisErrorCode(rawValue: 4)
    /// hiredis ran out of memory: not retriable.
    public static let outOfMemory = RedisErrorCode(rawValue: 5)
    /// A socket time-out (hiredis 1.1+; older versions report `io`): retriable.
    public static let timeout = RedisErrorCode(rawValue: 6)

    /// The hiredis name, e.g. `REDIS_ERR_IO`.
    public var name: String {
        switch self {
        case .io: "REDIS_ERR_IO"
        case .other: "REDIS_ERR_OTHER"
        case .eof: "REDIS_ERR_EOF"
        case .protocol: "REDIS_ERR_PROTOCOL"
        case .outOfMemory: "REDIS_ERR_OOM"
        case .timeout: "REDIS_ERR_TIMEOUT"
        default: "REDIS_ERR_\(rawValue)"
        }
    }
    public var description: String { "\(name) (\(rawValue))" }

    /// Whether the same operation may succeed later (after a reconnect).
    public var isRetriable: Bool { self == .io || self == .eof || self == .timeout || self == .other }

    /// As the library code a ``StreamKitError`` carries.
    var libraryCode: StreamKitError.LibraryCode { .init(library: Self.library, value: rawValue, name: name) }
    static let library = "hiredis"
}

extension StreamKitError {
    /// The hiredis code of a Redis connector failure, if it has one.
    public var redisCode: RedisErrorCode? {
        guard let c = libraryCode, c.library == RedisErrorCode.library else { return nil }
        return RedisErrorCode(rawValue: c.value)
    }
}
