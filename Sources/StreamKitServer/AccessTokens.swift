import Foundation

/// The bearer tokens of the API, read from a token file: one `<token> <role>` per line, roles
/// `admin` (everything) and `read` (no mutating route); blank lines and `#` comments are skipped.
/// Lookups compare in constant time (every token, every byte), and nothing here ever logs or
/// prints a token: errors name the line, not its content.
public struct AccessTokens: Sendable {
    public enum Role: String, Sendable, CaseIterable {
        case admin, read
    }

    private let entries: [(token: [UInt8], role: Role)]

    /// The tokens of `text` (the token file's content).
    public init(parsing text: String) throws {
        var entries: [(token: [UInt8], role: Role)] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count == 2 else {
                throw ServerError(.configuration, "token file line \(index + 1): expected '<token> <role>'")
            }
            guard let role = Role(rawValue: String(parts[1])) else {
                throw ServerError(.configuration, "token file line \(index + 1): role must be admin or read")
            }
            guard parts[0].utf8.count >= 16 else {
                throw ServerError(.configuration, "token file line \(index + 1): tokens must have at least 16 characters")
            }
            entries.append((Array(parts[0].utf8), role))
        }
        guard !entries.isEmpty else { throw ServerError(.configuration, "the token file holds no token") }
        self.entries = entries
    }

    /// The tokens of the file at `path`.
    public init(contentsOfFile path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ServerError(.configuration, "cannot read the token file \(path)")
        }
        try self.init(parsing: String(decoding: data, as: UTF8.self))
    }

    public var count: Int { entries.count }

    /// The role of `presented`, nil when it is no token of the file. The time taken depends only
    /// on the lengths of the tokens, never on where a guess first differs.
    public func role(of presented: some Collection<UInt8>) -> Role? {
        let given = Array(presented)
        var found: Role? = nil
        for entry in entries {
            if Self.constantTimeEquals(entry.token, given) { found = entry.role }
        }
        return found
    }

    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(truncatingIfNeeded: a.count ^ b.count) | UInt8(truncatingIfNeeded: (a.count ^ b.count) >> 8)
        let n = max(a.count, b.count)
        for i in 0..<n {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            diff |= x ^ y
        }
        return diff == 0 && a.count == b.count
    }
}
