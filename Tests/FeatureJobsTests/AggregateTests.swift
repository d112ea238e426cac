import Foundation
import Testing
import FeatureJobs
import StreamKit

/// A seeded SplitMix64 generator: tests are deterministic.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
    /// A standard normal variate (Box–Muller).
    mutating func normal() -> Double {
        let u1 = Double.random(in: Double.ulpOfOne ..< 1, using: &self)
        let u2 = Double.random(in: 0 ..< 1, using: &self)
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }
}

/// Folds `values` with `function` in one accumulator, and again by splitting them randomly into `parts`
/// accumulators that are merged in a random order (as a window merges its panes). Both results, plus the
/// merged accumulator.
func wholeAndMerged<A: AggregateFunction>(_ function: A, _ values: [A.Input], parts: Int, seed: UInt64)
-> (whole: A.Accumulator, merged: A.Accumulator) {
    var whole = function.makeAccumulator()
    for v in values { function.add(v, to: &whole) }
    var rng = SeededGenerator(seed: seed)
    var partials = (0 ..< parts).map { _ in function.makeAccumulator() }
    for v in values { function.add(v, to: &partials[Int.random(in: 0 ..< parts, using: &rng)]) }
    partials.shuffle(using: &rng)
    // Merge as a tree half of the time and left to right otherwise: associativity.
    var merged = function.makeAccumulator()
    if seed % 2 == 0 {
        for p in partials { function.merge(p, into: &merged) }
    } else {
        while partials.count > 1 {
            var next: [A.Accumulator] = []
            for i in stride(from: 0, to: partials.count, by: 2) {
                var a = partials[i]
                if i + 1 < partials.count { function.merge(partials[i + 1], into: &a) }
                next.append(a)
            }
            partials = next
        }
        function.merge(partials[0], into: &merged)
    }
    return (whole, merged)
}

/// Encodes and decodes a state value.
func roundTrip<S: StateCodable>(_ value: S) throws -> S { try S(stateBytes: value.encodedStateBytes()) }

func relativeError(_ a: Double, _ b: Double) -> Double { abs(a - b) / Swift.max(abs(b), .leastNormalMagnitude) }

@Suite struct AggregateTests {
    struct Event: Sendable {
        var type: String
        var amount: Double
        var ts: Int64
    }

    static func events(_ n: Int, seed: UInt64) -> [Event] {
        var rng = SeededGenerator(seed: seed)
        let types = ["click", "view", "purchase"]
        return (0 ..< n).map { _ in
            Event(type: types.randomElement(using: &rng)!, amount: Double(Int.random(in: 0 ..< 1000, using: &rng)) / 4,
                  ts: Int64.random(in: 0 ..< 500, using: &rng))   // many equal timestamps on purpose
        }
    }

    @Test(arguments: [2, 7, 64])
    func countIfMatchesFilterCountAndMerges(parts: Int) throws {
        let data = Self.events(10_000, seed: 1)
        let f = CountIfAggregate<Event> { $0.type == "click" }
        let expected = Int64(data.filter { $0.type == "click" }.count)
        let (whole, merged) = wholeAndMerged(f, data, parts: parts, seed: UInt64(parts))
        #expect(f.result(whole) == expected)
        #expect(f.result(merged) == expected)
        #expect(f.result(try roundTrip(merged)) == expected)
        #expect(f.result(f.makeAccumulator()) == 0)
    }

    /// Values `1e9 + ((i·7919) mod 1000) / 8` for i in 0..<10000 (exact in binary floating point).
    /// The reference values were produced with numpy 1.x and confirmed with exact rational arithmetic:
    /// ```
    /// i = np.arange(10000); x = 1e9 + ((i*7919) % 1000) / 8.0
    /// np.var(x, ddof=1), np.var(x), np.std(x, ddof=1), np.std(x)
    /// # 1302.2122524752476, 1302.08203125, 36.08617813616797, 36.08437378215119
    /// ```
    /// The naive `mean(x²) − mean(x)²` gives 1280.0 here: all but two digits lost.
    static let offsetData: [Double] = (0 ..< 10_000).map { 1e9 + Double((($0 * 7919) % 1000)) / 8 }

    @Test(arguments: [1, 3, 16, 250])
    func varianceIsStableWithLargeOffsetAndMergesLikeNumpy(parts: Int) throws {
        let sample = VarianceAggregate<Double>(.sample) { $0 }
        let population = VarianceAggregate<Double>(.population) { $0 }
        let sd = StandardDeviationAggregate<Double>(.sample) { $0 }
        let sdPopulation = StandardDeviationAggregate<Double>(.population) { $0 }
        let (whole, merged) = wholeAndMerged(sample, Self.offsetData, parts: parts, seed: UInt64(parts))
        let decoded = try roundTrip(merged)
        #expect(decoded == merged)
        for acc in [whole, merged, decoded] {
            #expect(acc.count == 10_000)
            #expect(relativeError(sample.result(acc), 1302.2122524752476) < 1e-9)
            #expect(relativeError(population.result(acc), 1302.08203125) < 1e-9)
            #expect(relativeError(sd.result(acc), 36.08617813616797) < 1e-9)
            #expect(relativeError(sdPopulation.result(acc), 36.08437378215119) < 1e-9)
            #expect(relativeError(acc.mean, 1e9 + 62.4375) < 1e-14)   // a few ulps of 1e9
        }
    }

    @Test func varianceOfRandomDataMatchesTwoPassReference() {
        var rng = SeededGenerator(seed: 42)
        let data = (0 ..< 50_000).map { _ in 1e9 + 1000 * rng.normal() }
        let mean = data.reduce(0, +) / Double(data.count)
        let m2 = data.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        let f = VarianceAggregate<Double>(.sample) { $0 }
        for parts in [1, 5, 1000] {
            let (_, merged) = wholeAndMerged(f, data, parts: parts, seed: UInt64(parts) + 7)
            #expect(relativeError(f.result(merged), m2 / Double(data.count - 1)) < 1e-9)
        }
    }

    @Test func varianceEdgeCases() {
        let sample = VarianceAggregate<Double>(.sample) { $0 }
        let population = VarianceAggregate<Double>(.population) { $0 }
        var a = sample.makeAccumulator()
        #expect(sample.result(a).isNaN && population.result(a).isNaN)
        sample.add(5, to: &a)
        #expect(sample.result(a).isNaN)
        #expect(population.result(a) == 0)
        var b = sample.makeAccumulator()
        sample.merge(a, into: &b)          // identity on the left
        sample.merge(sample.makeAccumulator(), into: &b) // and on the right
        #expect(b == a)
        for _ in 0 ..< 1000 { sample.add(1e15 + 0.125, to: &b) }
        #expect(sample.result(b) >= 0)
    }

    @Test(arguments: [1, 4, 33])
    func lastValueTakesLatestEventTimeWithDeterministicTies(parts: Int) throws {
        let data = Self.events(5_000, seed: 9)
        let f = LastValueAggregate<Event, Double>(time: { $0.ts }, field: { $0.amount })
        // Reference: the maximum by (ts, amount).
        let expected = data.max { ($0.ts, $0.amount) < ($1.ts, $1.amount) }!.amount
        let (whole, merged) = wholeAndMerged(f, data, parts: parts, seed: UInt64(parts))
        #expect(f.result(whole) == expected)
        #expect(f.result(merged) == expected)
        #expect(f.result(try roundTrip(merged)) == expected)
        #expect(f.result(f.makeAccumulator()) == nil)
        // Arrival order does not matter.
        var reversed = f.makeAccumulator()
        for e in data.reversed() { f.add(e, to: &reversed) }
        #expect(f.result(reversed) == expected)
    }

    @Test func lastValueOfNonComparableValuesBreaksTiesByEncoding() throws {
        // [Int64] is not Comparable: ties go to the lexicographically greater encoding.
        let data: [(Int64, [Int64])] = [(5, [1, 2]), (7, [3]), (7, [2, 9]), (7, [3, 1]), (6, [100])]
        let f = LastValueAggregate<(Int64, [Int64]), [Int64]>(time: { $0.0 }, encodedTieBreak: { $0.1 })
        for permutation in [data, data.reversed(), [data[3], data[0], data[2], data[4], data[1]]] {
            var a = f.makeAccumulator()
            for e in permutation { f.add(e, to: &a) }
            #expect(f.result(a) == [3, 1])  // encoding starts with the count: 2 elements > 1 element
            #expect(f.result(try roundTrip(a)) == [3, 1])
        }
        let strings = LastValueAggregate<(Int64, String), String>(time: { $0.0 }, field: { $0.1 })
        var s = strings.makeAccumulator()
        for e in [(Int64(1), "b"), (1, "a"), (0, "z")] { strings.add(e, to: &s) }
        #expect(strings.result(s) == "b")
    }

    @Test func ratePerSecondDividesByWindowLength() throws {
        let data = Self.events(3_000, seed: 3)
        let all = RatePerSecondAggregate<Event>(window: .minutes(5), where: nil)
        let clicks = RatePerSecondAggregate<Event>(window: .milliseconds(1500)) { $0.type == "click" }
        let (whole, merged) = wholeAndMerged(all, data, parts: 5, seed: 5)
        #expect(all.result(whole) == 3_000.0 / 300)
        #expect(all.result(merged) == 10)
        let (c, _) = wholeAndMerged(clicks, data, parts: 2, seed: 2)
        #expect(clicks.result(c) == Double(data.filter { $0.type == "click" }.count) / 1.5)
        #expect(all.result(try roundTrip(merged)) == 10)
    }
}
