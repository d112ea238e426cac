import Foundation
import Testing
import FeatureJobs
import StreamKit

/// The FeatureJobs aggregates through the job DSL on the runtime, against a brute-force computation
/// of every sliding window.
@Suite struct AggregateWindowTests {
    struct Purchase: Sendable {
        var user: Int64
        var item: Int64
        var amount: Double
        var ts: Int64
    }

    static let size: Int64 = 60_000, slide: Int64 = 20_000

    static func purchases() -> [Purchase] {
        var rng = SeededGenerator(seed: 2024)
        return (0 ..< 6_000).map { _ in
            Purchase(user: Int64.random(in: 0 ..< 7, using: &rng), item: Int64.random(in: 0 ..< 300, using: &rng),
                     amount: 1e6 + Foundation.exp(2 + rng.normal()), ts: Int64.random(in: 0 ..< 600_000, using: &rng))
        }
    }

    struct Expected { var variance: Double; var distinct: Int64; var sorted: [Double] }

    /// Every window `[start, start + size)` with `start` a multiple of the slide, per user.
    static func bruteForce(_ data: [Purchase]) -> [String: Expected] {
        var out: [String: Expected] = [:]
        let users = Set(data.map(\.user))
        for user in users {
            for start in stride(from: -size + slide, to: 600_000, by: Int(slide)) {
                let inWindow = data.filter { $0.user == user && $0.ts >= start && $0.ts < start + size }
                guard !inWindow.isEmpty else { continue }
                let xs = inWindow.map(\.amount)
                let mean = xs.reduce(0, +) / Double(xs.count)
                let m2 = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
                out["\(user)@\(start)"] = Expected(variance: xs.count > 1 ? m2 / Double(xs.count - 1) : .nan,
                                                   distinct: Int64(Set(inWindow.map(\.item)).count), sorted: xs.sorted())
            }
        }
        return out
    }

    @Test(arguments: [1, 2])
    func slidingWindowVarianceDistinctCountAndQuantiles(parallelism: Int) async throws {
        let data = Self.purchases()
        let out = CollectedOutput<WindowResult<Int64, (variance: Double, distinct: Int64, amount: QuantileSummary)>>()
        try await Job("feature-aggregates") { env in
            env.fromCollection(data)
                .assignTimestamps({ $0.ts }, watermark: .boundedOutOfOrderness(.seconds(700)))
                .keyBy { $0.user }
                .window(.sliding(size: .seconds(60), slide: .seconds(20)))
                .aggregate(.variance(\.amount), .distinctCount(\.item), .quantiles(\.amount)) { (variance: $0, distinct: $1, amount: $2) }
                .collect(into: out)
        }.run(parallelism: parallelism)

        let expected = Self.bruteForce(data)
        #expect(out.count == expected.count)
        var checked = 0
        for r in out.values {
            #expect(r.windowEnd - r.windowStart == Self.size)
            guard let e = expected["\(r.key)@\(r.windowStart)"] else {
                Issue.record("unexpected window \(r.key)@\(r.windowStart)"); continue
            }
            let (v, distinct, q) = (r.variance, r.distinct, r.amount)
            if e.variance.isNaN { #expect(v.isNaN) } else { #expect(relativeError(v, e.variance) < 1e-8) }
            #expect(distinct == e.distinct, "sparse HyperLogLog is exact for small windows")
            #expect(q.count == Int64(e.sorted.count))
            for (estimate, quantile) in [(q.p50, 0.5), (q.p90, 0.9), (q.p99, 0.99)] {
                let exact = SketchDDSketchTests.lowerQuantile(e.sorted, quantile)
                #expect(abs(estimate - exact) <= 0.01 * exact * (1 + 1e-9))
            }
            checked += 1
        }
        #expect(checked > 150)
    }
}
