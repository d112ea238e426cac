import Foundation
import Testing
import FeatureJobs
import StreamKit

/// Add and merge throughput of each aggregate. Run in a release build:
/// `FEATUREJOBS_BENCH=1 swift test -c release --filter AggregateBenchTests`. Skipped otherwise.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["FEATUREJOBS_BENCH"] == "1"))
struct AggregateBenchTests {
    struct Event: Sendable {
        var user: Int64
        var item: Int64
        var amount: Double
        var ts: Int64
        var isClick: Bool
    }

    static let events: [Event] = {
        var rng = SeededGenerator(seed: 1)
        return (0 ..< 1 << 20).map { i in
            Event(user: Int64.random(in: 0 ..< 1000, using: &rng), item: Int64.random(in: 0 ..< 1 << 40, using: &rng),
                  amount: Foundation.exp(3 + rng.normal()), ts: Int64(i), isClick: Bool.random(using: &rng))
        }
    }()

    /// ns per add (one accumulator, all events) and ns per merge of `paneSize`-record accumulators.
    static func measure<A: AggregateFunction>(_ name: String, _ f: A, paneSize: Int) -> String where A.Input == Event {
        let data = events
        var acc = f.makeAccumulator()
        let clock = ContinuousClock()
        var best = Duration.seconds(1000)
        for _ in 0 ..< 3 {
            acc = f.makeAccumulator()
            let t = clock.measure { for e in data { f.add(e, to: &acc) } }
            best = Swift.min(best, t)
        }
        let addNanos = Double(best.components.attoseconds) / 1e9 / Double(data.count) + Double(best.components.seconds) * 1e9 / Double(data.count)
        // Panes of `paneSize` records merged into one window accumulator.
        let paneCount = Swift.min(data.count / paneSize, 2000)
        let panes: [A.Accumulator] = (0 ..< paneCount).map { p in
            var a = f.makeAccumulator()
            for e in data[(p * paneSize) ..< ((p + 1) * paneSize)] { f.add(e, to: &a) }
            return a
        }
        var bestMerge = Duration.seconds(1000)
        var merged = f.makeAccumulator()
        for _ in 0 ..< 3 {
            // Merge into windows of 5 panes (a 5-minute window sliding by 1 minute).
            let t = clock.measure {
                for w in stride(from: 0, to: paneCount - 4, by: 1) {
                    merged = f.makeAccumulator()
                    for p in w ..< w + 5 { f.merge(panes[p], into: &merged) }
                }
            }
            bestMerge = Swift.min(bestMerge, t)
        }
        let merges = Double((paneCount - 4) * 5)
        let mergeNanos = (Double(bestMerge.components.seconds) * 1e9 + Double(bestMerge.components.attoseconds) / 1e9) / merges
        let line = "\(name): \(String(format: "%.1f", addNanos)) ns/add, \(String(format: "%.1f", mergeNanos)) ns/merge (panes of \(paneSize)); result \(f.result(acc)) \(f.result(merged))"
        print("BENCH " + line)
        return line
    }

    @Test func addAndMergeThroughput() {
        _ = Self.measure("count (StreamKit)", CountAggregate<Event>(), paneSize: 100)
        _ = Self.measure("countIf", CountIfAggregate<Event> { $0.isClick }, paneSize: 100)
        _ = Self.measure("variance", VarianceAggregate<Event>(.sample) { $0.amount }, paneSize: 100)
        _ = Self.measure("lastValue", LastValueAggregate<Event, Double>(time: { $0.ts }, field: { $0.amount }), paneSize: 100)
        _ = Self.measure("ratePerSecond", RatePerSecondAggregate<Event>(window: .minutes(5)) { $0.isClick }, paneSize: 100)
        _ = Self.measure("distinctCount p14 (sparse panes)", DistinctCountAggregate<Event, Int64>(precision: HyperLogLog.defaultPrecision) { $0.item }, paneSize: 100)
        _ = Self.measure("distinctCount p14 (dense panes)", DistinctCountAggregate<Event, Int64>(precision: HyperLogLog.defaultPrecision) { $0.item }, paneSize: 5000)
        _ = Self.measure("distinctCount p14 String", DistinctCountAggregate<Event, String>(precision: HyperLogLog.defaultPrecision) { "item-\($0.user)" }, paneSize: 100)
        _ = Self.measure("quantiles a=0.01", QuantilesAggregate<Event>(relativeAccuracy: DDSketch.defaultRelativeAccuracy) { $0.amount }, paneSize: 100)
        _ = Self.measure("quantiles a=0.01 (big panes)", QuantilesAggregate<Event>(relativeAccuracy: DDSketch.defaultRelativeAccuracy) { $0.amount }, paneSize: 5000)
    }
}
