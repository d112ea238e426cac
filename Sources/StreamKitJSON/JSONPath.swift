import StreamKit

/// A path to a field inside nested JSON objects, e.g. `after.user_id`.
///
/// Components are object member names; array indexing is not supported. Use
/// `init(components:)` for member names that themselves contain a dot.
public struct JSONPath: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The member names from the outermost object inward. Empty means the whole document.
    public var components: [String]

    /// Creates a path from explicit member names.
    public init(components: [String]) {
        self.components = components
    }

    /// Creates a path by splitting `dotted` on `.` (`"after.user_id"` → `["after", "user_id"]`).
    /// An empty string denotes the document root.
    public init(dotted: String) {
        self.components = dotted.isEmpty ? [] : dotted.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    }

    /// Creates a path from a dotted string literal.
    public init(stringLiteral value: String) {
        self.init(dotted: value)
    }

    /// The dotted form of the path.
    public var description: String { components.joined(separator: ".") }
}
