/// The one error type of the StreamKit module. Every failure carries a code a program can match on,
/// a message a person can act on, and whether retrying the same operation may succeed.
public struct StreamKitError: Error, CustomStringConvertible, Sendable {
    /// A stable, matchable error code (a `rawValue` struct, not an enum, so new codes are not breaking).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
        public static let malformedInput = Code("malformed_input")
        public static let io = Code("io")
        public static let configuration = Code("configuration")
        public static let state = Code("state")
        public static let checkpoint = Code("checkpoint")
        public static let compression = Code("compression")
        public static let connector = Code("connector")
        public static let cancelled = Code("cancelled")
    }
    public var code: Code
    public var message: String
    public var isRetriable: Bool
    public init(_ code: Code, _ message: String, retriable: Bool = false) {
        self.code = code; self.message = message; self.isRetriable = retriable
    }
    public var description: String { "\(code): \(message)" }
}
