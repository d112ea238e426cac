/// An error of the control plane: the HTTP status it maps to, a stable code, and a message a
/// person can act on (never a secret: connection strings are redacted before they get here).
public struct ServerError: Error, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// A bad request body or parameter (400); the message names the field.
        public static let invalidRequest = Code(rawValue: "invalid_request")
        /// No or a wrong bearer token (401).
        public static let unauthorized = Code(rawValue: "unauthorized")
        /// The token's role may not do this (403).
        public static let forbidden = Code(rawValue: "forbidden")
        public static let notFound = Code(rawValue: "not_found")
        /// The resource is not in a state that allows this (409), e.g. starting what runs.
        public static let conflict = Code(rawValue: "conflict")
        public static let methodNotAllowed = Code(rawValue: "method_not_allowed")
        public static let payloadTooLarge = Code(rawValue: "payload_too_large")
        /// Kafka, Redis or PostgreSQL did not answer as needed (502).
        public static let upstream = Code(rawValue: "upstream_error")
        /// A bad server configuration (token file, data dir): not an HTTP error.
        public static let configuration = Code(rawValue: "configuration")
        public static let `internal` = Code(rawValue: "internal")
    }

    public let code: Code
    public let message: String
    /// The field of the request the error is about, if any.
    public let field: String?

    public init(_ code: Code, _ message: String, field: String? = nil) {
        self.code = code; self.message = message; self.field = field
    }

    /// A 400 about `field`: the message starts with the field's name.
    public static func invalid(_ field: String, _ problem: String) -> ServerError {
        ServerError(.invalidRequest, "\(field): \(problem)", field: field)
    }

    public static func notFound(_ what: String, _ id: String) -> ServerError {
        ServerError(.notFound, "no \(what) '\(id)'")
    }

    public var status: Int {
        switch code {
        case .invalidRequest: 400
        case .unauthorized: 401
        case .forbidden: 403
        case .notFound: 404
        case .methodNotAllowed: 405
        case .conflict: 409
        case .payloadTooLarge: 413
        case .upstream: 502
        default: 500
        }
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
