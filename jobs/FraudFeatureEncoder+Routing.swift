public import StreamKit
public import FeatureJobs
import Glibc

extension FraudFeatureEncoder {
    /// The features a `fraud-scoring --route` rule can name, with their units.
    public static let routableFeatures = [
        "amount (currency units)", "amount_ratio_1h (amount / the user's 1 h mean, clamped to 0.05…50)",
        "count_5m (the user's transactions in the last 5 min, capped at 10)", "new_merchant (0 or 1)",
    ]

    /// A routing rule from `FEATURE OP NUMBER:VERSION` (OP one of `>=`, `>`, `<=`, `<`; VERSION a
    /// model version or the alias `champion` / `challenger`), e.g. `amount_ratio_1h>=3:champion`.
    ///
    /// The threshold is given in the feature's own units and compared with the encoded slot value
    /// (each encoding is monotone, so the comparison means the same): `amount` in currency units
    /// (to the cent), `amount_ratio_1h` as a ratio (> 0), `count_5m` as a count, `new_merchant` 0/1.
    /// - Throws: `StreamKitError(.configuration)` naming `flag` and the rule.
    public static func routingRule(_ text: String, flag: String = "--route") throws -> TrafficSplit.Rule {
        func fail(_ problem: String) -> StreamKitError {
            StreamKitError(.configuration, "\(flag) '\(text)': \(problem); expected FEATURE>=NUMBER:VERSION (operators >=, >, <=, <; FEATURE one of \(routableFeatures.joined(separator: ", ")); VERSION a version or champion/challenger)")
        }
        guard let colon = text.lastIndex(of: ":") else { throw fail("no ':VERSION'") }
        let version = text[text.index(after: colon)...].trimmingWhitespace()
        guard !version.isEmpty, !version.contains(where: \.isWhitespace) else { throw fail("no version after ':'") }
        let condition = text[..<colon]
        guard let o = condition.firstIndex(where: { $0 == "<" || $0 == ">" }) else { throw fail("no comparison operator") }
        let afterOperator = condition.index(after: o)
        let orEqual = afterOperator < condition.endIndex && condition[afterOperator] == "="
        let comparison: TrafficSplit.Rule.Comparison = switch (condition[o], orEqual) {
        case (">", true): .atLeast
        case (">", false): .greaterThan
        case (_, true): .atMost
        case (_, false): .lessThan
        }
        let feature = condition[..<o].trimmingWhitespace()
        let numberText = condition[(orEqual ? condition.index(after: afterOperator) : afterOperator)...].trimmingWhitespace()
        guard let number = Double(numberText), number.isFinite else { throw fail("'\(numberText)' is not a number") }
        let slot: UInt32, threshold: Double
        switch feature {
        case "amount":
            guard number > 0 else { throw fail("amount must be positive") }
            slot = 4; threshold = (log(Double(Swift.max(Int64((number * 100).rounded()), 1))) - 8) / 2
        case "amount_ratio_1h":
            guard number > 0 else { throw fail("amount_ratio_1h must be positive") }
            slot = 1; threshold = log(number)
        case "count_5m":
            slot = 2; threshold = number / 5
        case "new_merchant":
            slot = 3; threshold = number
        default:
            throw fail("unknown feature '\(feature)'")
        }
        return TrafficSplit.Rule(slot: slot, comparison, threshold, version: version)
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
