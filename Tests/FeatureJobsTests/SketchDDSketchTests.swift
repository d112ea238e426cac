import Foundation
import Testing
import FeatureJobs
import StreamKit

@Suite struct SketchDDSketchTests {
    static let qs: [Double] = [0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1]

    /// numpy's `np.quantile(x, q, method="lower")`: the element of rank ⌊q·(n−1)⌋.
    static func lowerQuantile(_ sorted: [Double], _ q: Double) -> Double { sorted[Int((q * Double(sorted.count - 1)).rounded(.down))] }

    static func lognormal(_ n: Int, seed: UInt64, sigma: Double = 1.5) -> [Double] {
        var rng = SeededGenerator(seed: seed)
        return (0 ..< n).map { _ in Foundation.exp(3 + sigma * rng.normal()) }
    }

    static func expectWithinAlpha(_ sketch: DDSketch, _ data: [Double], alpha: Double, _ comment: String = "") {
        let sorted = data.sorted()
        for q in qs {
            let exact = lowerQuantile(sorted, q)
            let estimate = sketch.quantile(q)
            #expect(abs(estimate - exact) <= alpha * abs(exact) * (1 + 1e-9), "\(comment) q=\(q): \(estimate) vs \(exact)")
        }
    }

    @Test(arguments: [0.01, 0.02, 0.001])
    func quantilesOfLognormalDataAreWithinRelativeAccuracy(alpha: Double) throws {
        let data = Self.lognormal(100_000, seed: 11)
        // The data span ~13 e-folds: ln(γ) ≈ 2α, so α = 0.001 needs ~6500 buckets (the default 2048 would
        // collapse the lower part); α = 0.01 needs ~650.
        var sketch = DDSketch(relativeAccuracy: alpha, maxBuckets: alpha < 0.01 ? 10_000 : DDSketch.defaultMaxBuckets)
        for x in data { sketch.add(x) }
        #expect(sketch.count == 100_000)
        Self.expectWithinAlpha(sketch, data, alpha: alpha)
        Self.expectWithinAlpha(try roundTrip(sketch), data, alpha: alpha, "decoded")
    }

    @Test func negativesAndZerosAreHandled() {
        var rng = SeededGenerator(seed: 5)
        var data = Self.lognormal(20_000, seed: 6).map { Bool.random(using: &rng) ? -$0 : $0 }
        data += Array(repeating: 0, count: 3_000) + [Double.leastNonzeroMagnitude * 1000, -Double.leastNonzeroMagnitude * 1000]   // subnormals count as zero
        data.shuffle(using: &rng)
        var sketch = DDSketch()
        for x in data { sketch.add(x) }
        sketch.add(.nan); sketch.add(.infinity)
        #expect(sketch.count == UInt64(data.count))
        #expect(sketch.zeroCount == 3_002)
        let sorted = data.sorted()
        for q in stride(from: 0.0, through: 1.0, by: 0.01) {
            let exact = Self.lowerQuantile(sorted, q), estimate = sketch.quantile(q)
            // Subnormals are reported as 0: an absolute error of 1e-320.
            #expect(abs(estimate - exact) <= 0.01 * abs(exact) * (1 + 1e-9) + 1e-300, "q=\(q): \(estimate) vs \(exact)")
        }
    }

    @Test(arguments: [2, 10, 97])
    func mergingRandomSplitsEqualsTheWholeSketch(parts: Int) throws {
        let data = Self.lognormal(50_000, seed: 21).enumerated().map { $0.offset % 3 == 0 ? -$0.element : $0.element }
        let f = QuantileSketchAggregate<Double>(relativeAccuracy: DDSketch.defaultRelativeAccuracy) { $0 }
        let (whole, merged) = wholeAndMerged(f, data, parts: parts, seed: UInt64(parts))
        // Equal counts per bucket: the canonical encodings (non-empty ranges only) agree byte for byte.
        #expect(merged.encodedStateBytes() == whole.encodedStateBytes())
        #expect(merged == whole)
        Self.expectWithinAlpha(merged, data, alpha: 0.01, "merged")
        let summary = QuantilesAggregate<Double> { $0 }.result(merged)
        #expect(summary.count == 50_000)
        #expect(summary.p99 == merged.quantile(0.99))
    }

    @Test func collapsingKeepsTheUpperQuantilesAccurate() {
        // 10 orders of magnitude need ~1150 buckets at α = 1 %; allow only 256.
        var rng = SeededGenerator(seed: 8)
        let data = (0 ..< 50_000).map { _ in Foundation.pow(10, Double.random(in: -5 ..< 5, using: &rng)) }
        var sketch = DDSketch(relativeAccuracy: 0.01, maxBuckets: 256)
        var parts = [DDSketch](repeating: DDSketch(relativeAccuracy: 0.01, maxBuckets: 256), count: 4)
        for (i, x) in data.enumerated() { sketch.add(x); parts[i % 4].add(x) }
        var merged = parts[0]
        for p in parts.dropFirst() { merged.merge(p) }
        let sorted = data.sorted()
        // 256 buckets span a factor γ^256 ≈ 167 below the maximum 1e5: quantiles above ~600 are exact to α.
        for q in [0.8, 0.9, 0.99, 0.999, 1] {
            let exact = Self.lowerQuantile(sorted, q)
            #expect(abs(sketch.quantile(q) - exact) <= 0.01 * exact * (1 + 1e-9), "q=\(q)")
            #expect(abs(merged.quantile(q) - exact) <= 0.01 * exact * (1 + 1e-9), "merged q=\(q)")
        }
        #expect(sketch.encodedStateBytes().count < 256 * 4)
    }

    @Test func emptyAndSingleValue() throws {
        var s = DDSketch()
        #expect(s.quantile(0.5).isNaN)
        #expect(try roundTrip(s) == s)
        s.add(42)
        #expect(s.quantile(0) == 42 && s.quantile(0.5) == 42 && s.quantile(1) == 42)
        #expect(QuantileSummary(s) == QuantileSummary(count: 1, p50: 42, p90: 42, p99: 42))
        #expect(throws: (any Error).self) { try DDSketch(stateBytes: Array(s.encodedStateBytes().dropLast())) }
    }
}
