import StreamKit

/// The error of every capture (the core and its database plug-ins): a stable ``code`` to match
/// on, the database's SQLSTATE when it reported one, a message a person can act on, and whether
/// retrying (reconnecting) may succeed.
///
/// ```swift
/// do { try capture.run(until: { false }) } catch let e as CaptureError where e.code == .connectionFailed { ... }
/// ```
public struct CaptureError: Error, CustomStringConvertible, Sendable {
    /// A stable, matchable code: a `rawValue` struct (not an enum), so new codes are not breaking.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
        /// The database could not be reached or refused the login.
        public static let connectionFailed = Code("capture.connection_failed")
        /// An established connection (or the change stream) went away.
        public static let connectionLost = Code("capture.connection_lost")
        /// A statement failed (see ``CaptureError/sqlState``).
        public static let query = Code("capture.query")
        /// The replication protocol failed (slot, START_REPLICATION, the stream itself).
        public static let replication = Code("capture.replication")
        /// Kafka did not acknowledge events: the durable position stays before them.
        public static let delivery = Code("capture.delivery")
        /// The capture's state file could not be written.
        public static let stateFile = Code("capture.state_file")
        /// The settings cannot work (no tables, no key, wrong column type, ...).
        public static let configuration = Code("capture.configuration")
        /// The change log carried something the plug-in cannot decode.
        public static let malformedLog = Code("capture.malformed_log")
        /// A captured value the type mapping cannot represent (the message names the column).
        public static let unrepresentableValue = Code("capture.unrepresentable_value")
        /// A client-side failure (out of memory, a socket error).
        public static let client = Code("capture.client")
    }

    public var code: Code
    /// The database's SQLSTATE (`08006`, `57P01`, ...) when it reported one.
    public var sqlState: String?
    public var message: String
    /// Whether a reconnect may succeed (connection lost, server restarting, out of resources).
    public var isRetriable: Bool

    public init(_ code: Code, _ message: String, sqlState: String? = nil, retriable: Bool = false) {
        self.code = code; self.message = message; self.sqlState = sqlState; self.isRetriable = retriable
    }

    public var description: String {
        "\(code)\(sqlState.map { " (SQLSTATE \($0))" } ?? ""): \(message)"
    }
}

extension Error {
    /// Whether a capture should reconnect after this error: a retriable ``CaptureError`` or
    /// `StreamKitError` (Kafka, the runtime).
    package var isRetriableCaptureFailure: Bool {
        if let e = self as? CaptureError { return e.isRetriable }
        if let e = self as? StreamKitError { return e.isRetriable }
        return false
    }

    /// The message of a capture or StreamKit error, else its description.
    package var captureMessage: String {
        if let e = self as? CaptureError { return e.message }
        if let e = self as? StreamKitError { return e.message }
        return "\(self)"
    }

    /// The stable code of a capture or StreamKit error (for the `error.code` log metadata).
    package var captureCode: String {
        if let e = self as? CaptureError { return e.code.rawValue }
        if let e = self as? StreamKitError { return e.code.rawValue }
        return "unknown"
    }
}
