public import Foundation
public import StreamKit

/// A fixed reference distribution of one numeric feature, with everything the drift statistics
/// need precomputed once: sorted values (exact KS), moments (z-test) and quantile cut points with
/// the baseline's own histogram (PSI, Jensen–Shannon).
///
/// **File format** (``load(contentsOf:bins:)``): UTF-8 text that is either
/// - a JSON array of numbers: `[0.5, 1.25, 3, null]`, or
/// - NDJSON: one JSON number per line (`1.5`), blank lines ignored.
///
/// `null` is a missing value (skipped). Numeric strings (`"1.5"`) are accepted, since CSV-to-JSON
/// exports often quote numbers. Anything else (`true`, objects, nested arrays) is an error naming the line (NDJSON) or the array.
///
/// ```swift
/// let baseline = try DriftBaseline.load(contentsOf: URL(fileURLWithPath: "baselines/amount.ndjson"))
/// ```
public struct DriftBaseline: Sendable, Hashable {
    /// The baseline values, sorted ascending, NaN removed.
    public let sortedValues: [Double]
    public let moments: RunningMoments
    /// Cut points of the monitor's histograms: the baseline's quantiles (deciles by default) unless given.
    public let cutPoints: [Double]
    /// The baseline's histogram over ``cutPoints``.
    public let histogram: Histogram

    /// A baseline from values; cut points at the `bins`-quantiles of the values unless `cutPoints` is given.
    public init(values: [Double], bins: Int = 10, cutPoints: [Double]? = nil) {
        sortedValues = values.filter { !$0.isNaN }.sorted()
        moments = RunningMoments(sortedValues)
        self.cutPoints = cutPoints ?? Histogram.quantileCutPoints(of: sortedValues, bins: bins)
        histogram = Histogram(cutPoints: self.cutPoints, values: sortedValues)
    }

    /// Reads a baseline file (see the type's documentation for the format).
    /// - Throws: `StreamKitError(.malformedInput, …)` naming the offending line or index.
    public static func load(contentsOf url: URL, bins: Int = 10, cutPoints: [Double]? = nil) throws -> DriftBaseline {
        let data = try Data(contentsOf: url)
        return DriftBaseline(values: try parseNumbers(data), bins: bins, cutPoints: cutPoints)
    }

    /// Parses the baseline file format into numbers (NaN for `null`).
    public static func parseNumbers(_ data: Data) throws -> [Double] {
        try parseValues(data).enumerated().map { i, v in
            switch v {
            case .none: return .nan
            case .number(let d): return d
            case .string(let s):
                guard let d = Double(s.trimmingCharacters(in: .whitespaces)) else {
                    throw StreamKitError(.malformedInput, "baseline value #\(i + 1) is the string \"\(s)\", not a number")
                }
                return d
            }
        }
    }

    /// Parses the baseline file format into categories (`null` skipped; numbers become their decimal text).
    public static func parseCategories(_ data: Data) throws -> [String] {
        try parseValues(data).compactMap { v in
            switch v {
            case .none: return nil
            case .number(let d): return d == d.rounded() && Swift.abs(d) < 1e15 ? String(Int64(d)) : String(d)
            case .string(let s): return s
            }
        }
    }

    enum Scalar: Decodable {
        case none, number(Double), string(String)
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .none }
            else if let d = try? c.decode(Double.self) { self = .number(d) }
            else if let s = try? c.decode(String.self) { self = .string(s) }
            else { throw StreamKitError(.malformedInput, "not a number, string or null") }
        }
    }

    static func parseValues(_ data: Data) throws -> [Scalar] {
        guard let text = String(data: data, encoding: .utf8) else {
            throw StreamKitError(.malformedInput, "baseline file is not UTF-8")
        }
        let decoder = JSONDecoder()
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("[") {
            do { return try decoder.decode([Scalar].self, from: Data(trimmed.utf8)) } catch {
                throw StreamKitError(.malformedInput, "baseline file starts with '[' but is not a JSON array of numbers, strings or null: \(error)")
            }
        }
        var out: [Scalar] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let l = line.trimmingCharacters(in: .whitespaces)
            if l.isEmpty { continue }
            guard let v = try? decoder.decode(Scalar.self, from: Data(l.utf8)) else {
                throw StreamKitError(.malformedInput, "baseline line \(i + 1) is not a JSON number, string or null: \(l.prefix(80))")
            }
            out.append(v)
        }
        return out
    }
}
