import StreamKitJSON

/// The `row_filter` of a consumer: a small predicate language over a change's `after` and
/// `before` fields, parsed and checked when the consumer is created and then evaluated against
/// values the JSON field extractor found — never run as code.
///
/// ```
/// after.amount >= 100 and after.status in ('paid', 'shipped')
/// not (before.email is null) or after.country = 'CH'
/// ```
///
/// Grammar: `expr := and ('or' and)*`, `and := unary ('and' unary)*`, `unary := 'not' unary |
/// '(' expr ')' | comparison`, `comparison := field ('=' | '!=' | '<' | '<=' | '>' | '>=') literal
/// | field 'is' ['not'] 'null' | field ['not'] 'in' '(' literal (',' literal)* ')'`, `field :=
/// ('after' | 'before') '.' name`, literals: numbers, 'single-quoted strings', true, false.
/// A comparison with a missing or null field is false (SQL's unknown, folded to false).
struct RowFilter: Sendable, Equatable {
    enum Literal: Sendable, Equatable {
        case number(Double), string(String), bool(Bool)
    }
    enum Comparison: String, Sendable { case eq = "=", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">=" }
    indirect enum Node: Sendable, Equatable {
        case and(Node, Node), or(Node, Node), not(Node)
        case compare(field: Int, Comparison, Literal)
        case isNull(field: Int, negated: Bool)
        case isIn(field: Int, [Literal], negated: Bool)
    }

    /// The dotted paths the filter reads (`after.amount`), indexed by the nodes.
    let fields: [String]
    let root: Node
    let source: String

    static let maxLength = 4096

    init(parsing text: String) throws {
        guard text.utf8.count <= Self.maxLength else { throw ServerError.invalid("row_filter", "longer than \(Self.maxLength) bytes") }
        var p = Parser(tokens: try Self.tokenize(text))
        let root = try p.expression(depth: 0)
        guard p.index == p.tokens.count else { throw ServerError.invalid("row_filter", "unexpected '\(p.tokens[p.index].text)' after the expression") }
        self.root = root; fields = p.fields; source = text
    }

    // MARK: Evaluation

    /// Whether a change matches; `values[i]` is what the extractor found for `fields[i]` in `doc`.
    func matches(_ values: ArraySlice<JSONScalar>, in doc: UnsafeRawBufferPointer) -> Bool {
        Self.evaluate(root, values, doc)
    }

    private static func evaluate(_ node: Node, _ v: ArraySlice<JSONScalar>, _ doc: UnsafeRawBufferPointer) -> Bool {
        switch node {
        case let .and(a, b): return evaluate(a, v, doc) && evaluate(b, v, doc)
        case let .or(a, b): return evaluate(a, v, doc) || evaluate(b, v, doc)
        case let .not(a): return !evaluate(a, v, doc)
        case let .isNull(f, negated): return v[v.startIndex + f].isMissingOrNull != negated
        case let .compare(f, op, literal):
            guard let order = compare(v[v.startIndex + f], literal, doc) else { return false }
            switch op {
            case .eq: return order == 0
            case .ne: return order != 0
            case .lt: return order < 0
            case .le: return order <= 0
            case .gt: return order > 0
            case .ge: return order >= 0
            }
        case let .isIn(f, literals, negated):
            let value = v[v.startIndex + f]
            if value.isMissingOrNull { return false }
            return literals.contains { compare(value, $0, doc) == 0 } != negated
        }
    }

    /// -1, 0, 1, or nil when the value is missing, null, or of another type than the literal.
    private static func compare(_ value: JSONScalar, _ literal: Literal, _ doc: UnsafeRawBufferPointer) -> Int? {
        switch literal {
        case let .number(n):
            // Numbers may arrive as JSON strings (Debezium's decimal handling "string").
            let d = value.double(in: doc) ?? (value.kind == .string ? value.string(in: doc).flatMap(Double.init) : nil)
            guard let d else { return nil }
            return d < n ? -1 : (d > n ? 1 : 0)
        case let .string(s):
            guard value.kind == .string, let x = value.string(in: doc) else { return nil }
            return x < s ? -1 : (x > s ? 1 : 0)
        case let .bool(b):
            guard let x = value.bool(in: doc) else { return nil }
            return x == b ? 0 : (x ? 1 : -1)
        }
    }

    // MARK: Parsing

    struct Token: Equatable {
        enum Kind: Equatable { case word, number, string, symbol }
        var kind: Kind
        var text: String
    }

    static func tokenize(_ text: String) throws -> [Token] {
        var tokens: [Token] = []
        let chars = Array(text.unicodeScalars)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == " " || c == "\t" || c == "\n" || c == "\r" { i += 1; continue }
            if c == "'" {
                var s = ""
                i += 1
                while true {
                    guard i < chars.count else { throw ServerError.invalid("row_filter", "unterminated string literal") }
                    if chars[i] == "'" {
                        if i + 1 < chars.count, chars[i + 1] == "'" { s.unicodeScalars.append("'"); i += 2; continue }   // '' escapes '
                        i += 1; break
                    }
                    s.unicodeScalars.append(chars[i]); i += 1
                }
                tokens.append(Token(kind: .string, text: s))
            } else if c.properties.isAlphabetic || c == "_" {
                var s = ""
                while i < chars.count, chars[i].properties.isAlphabetic || chars[i] == "_" || ("0"..."9").contains(chars[i]) || chars[i] == "." {
                    s.unicodeScalars.append(chars[i]); i += 1
                }
                tokens.append(Token(kind: .word, text: s))
            } else if ("0"..."9").contains(c) || (c == "-" && i + 1 < chars.count && ("0"..."9").contains(chars[i + 1])) {
                var s = String(c)
                i += 1
                while i < chars.count, ("0"..."9").contains(chars[i]) || chars[i] == "." || chars[i] == "e" || chars[i] == "E"
                        || ((chars[i] == "-" || chars[i] == "+") && (s.hasSuffix("e") || s.hasSuffix("E"))) {
                    s.unicodeScalars.append(chars[i]); i += 1
                }
                guard Double(s) != nil else { throw ServerError.invalid("row_filter", "'\(s)' is not a number") }
                tokens.append(Token(kind: .number, text: s))
            } else {
                let two = i + 1 < chars.count ? String(c) + String(chars[i + 1]) : ""
                if ["!=", "<=", ">=", "<>"].contains(two) {
                    tokens.append(Token(kind: .symbol, text: two == "<>" ? "!=" : two)); i += 2
                } else if ["=", "<", ">", "(", ")", ","].contains(String(c)) {
                    tokens.append(Token(kind: .symbol, text: String(c))); i += 1
                } else {
                    throw ServerError.invalid("row_filter", "unexpected character '\(c)'")
                }
            }
        }
        guard !tokens.isEmpty else { throw ServerError.invalid("row_filter", "is empty") }
        return tokens
    }

    struct Parser {
        let tokens: [Token]
        var index = 0
        var fields: [String] = []
        static let maxDepth = 64

        init(tokens: [Token]) { self.tokens = tokens }

        var peek: Token? { index < tokens.count ? tokens[index] : nil }

        func isKeyword(_ t: Token?, _ word: String) -> Bool { t?.kind == .word && t?.text.lowercased() == word }

        mutating func expect(symbol: String) throws {
            guard let t = peek, t.kind == .symbol, t.text == symbol else {
                throw ServerError.invalid("row_filter", "expected '\(symbol)'" + (peek.map { " before '\($0.text)'" } ?? " at the end"))
            }
            index += 1
        }

        mutating func expression(depth: Int) throws -> Node {
            guard depth < Self.maxDepth else { throw ServerError.invalid("row_filter", "nested deeper than \(Self.maxDepth)") }
            var node = try conjunction(depth: depth)
            while isKeyword(peek, "or") { index += 1; node = .or(node, try conjunction(depth: depth)) }
            return node
        }

        mutating func conjunction(depth: Int) throws -> Node {
            var node = try unary(depth: depth)
            while isKeyword(peek, "and") { index += 1; node = .and(node, try unary(depth: depth)) }
            return node
        }

        mutating func unary(depth: Int) throws -> Node {
            guard depth < Self.maxDepth else { throw ServerError.invalid("row_filter", "nested deeper than \(Self.maxDepth)") }
            if isKeyword(peek, "not") { index += 1; return .not(try unary(depth: depth + 1)) }
            if peek?.kind == .symbol, peek?.text == "(" {
                index += 1
                let node = try expression(depth: depth + 1)
                try expect(symbol: ")")
                return node
            }
            return try comparison()
        }

        mutating func field() throws -> Int {
            guard let t = peek, t.kind == .word else {
                throw ServerError.invalid("row_filter", "expected a field (after.name or before.name)" + (peek.map { ", found '\($0.text)'" } ?? " at the end"))
            }
            let parts = t.text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == "after" || parts[0] == "before", !parts[1].isEmpty, parts[1].count <= 63 else {
                throw ServerError.invalid("row_filter", "'\(t.text)' is not a field: use after.<column> or before.<column>")
            }
            index += 1
            if let i = fields.firstIndex(of: t.text) { return i }
            fields.append(t.text)
            return fields.count - 1
        }

        mutating func literal() throws -> Literal {
            guard let t = peek else { throw ServerError.invalid("row_filter", "expected a value at the end") }
            index += 1
            switch t.kind {
            case .number: return .number(Double(t.text)!)
            case .string: return .string(t.text)
            case .word where t.text.lowercased() == "true": return .bool(true)
            case .word where t.text.lowercased() == "false": return .bool(false)
            default: throw ServerError.invalid("row_filter", "expected a number, 'string', true or false, found '\(t.text)'")
            }
        }

        mutating func comparison() throws -> Node {
            let f = try field()
            guard let t = peek else { throw ServerError.invalid("row_filter", "expected an operator after \(fields[f])") }
            if isKeyword(t, "is") {
                index += 1
                let negated = isKeyword(peek, "not")
                if negated { index += 1 }
                guard isKeyword(peek, "null") else { throw ServerError.invalid("row_filter", "expected null after 'is'") }
                index += 1
                return .isNull(field: f, negated: negated)
            }
            var negated = false
            if isKeyword(t, "not") { negated = true; index += 1 }
            if isKeyword(peek, "in") {
                index += 1
                try expect(symbol: "(")
                var values = [try literal()]
                while peek?.kind == .symbol, peek?.text == "," { index += 1; values.append(try literal()) }
                try expect(symbol: ")")
                return .isIn(field: f, values, negated: negated)
            }
            guard !negated else { throw ServerError.invalid("row_filter", "expected 'in' after 'not'") }
            guard t.kind == .symbol, let op = Comparison(rawValue: t.text) else {
                throw ServerError.invalid("row_filter", "expected =, !=, <, <=, >, >=, is or in after \(fields[f]), found '\(t.text)'")
            }
            index += 1
            return .compare(field: f, op, try literal())
        }
    }
}
