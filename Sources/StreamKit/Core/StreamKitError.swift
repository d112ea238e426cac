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
    /// The error code of the C library behind a connector failure, when one is known: librdkafka's
    /// `rd_kafka_resp_err_t` or hiredis' `REDIS_ERR_*`, as a number and a name (the C types stay
    /// inside the connectors). The connector modules read it typed: `error.kafkaCode`, `error.redisCode`.
    public struct LibraryCode: Hashable, Sendable, CustomStringConvertible {
        /// The library, e.g. `"librdkafka"` or `"hiredis"`.
        public let library: String
        /// The library's numeric code.
        public let value: Int32
        /// The library's name of the code, e.g. `"_QUEUE_FULL"` or `"REDIS_ERR_IO"`.
        public let name: String
        public init(library: String, value: Int32, name: String) {
            self.library = library; self.value = value; self.name = name
        }
        public var description: String { "\(library) \(name) (\(value))" }
    }

    public var code: Code
    public var message: String
    public var isRetriable: Bool
    /// The C library's code behind a connector failure, if any.
    public var libraryCode: LibraryCode?
    public init(_ code: Code, _ message: String, retriable: Bool = false, libraryCode: LibraryCode? = nil) {
        self.code = code; self.message = message; self.isRetriable = retriable; self.libraryCode = libraryCode
    }
    public var description: String { "\(code): \(message)" }
}
