import Foundation
import Testing
import FeatureJobs
import StreamKit

/// Drift statistics against hand computations and scipy 1.17.1.
///
/// Reference values were computed with (numpy 2, scipy 1.17.1):
/// ```python
/// from scipy import stats; from scipy.spatial.distance import jensenshannon
/// r = stats.ks_2samp(a, b, method='asymp')            # D = r.statistic, p = r.pvalue
/// stats.kstwobign.sf(math.sqrt(n*m/(n+m)) * D)         # limiting p-value
/// stats.kstwo.sf(d, n)                                 # one-sample Kolmogorov survival
/// jensenshannon(p, q, base=2)                          # JS distance
/// z = (b.mean()-a.mean())/sqrt(b.var(ddof=1)/len(b)+a.var(ddof=1)/len(a)); 2*stats.norm.sf(abs(z))
/// ```
/// on the datasets built by the `ds…` functions below (same formulas in Python, so bit-identical inputs).
@Suite struct DriftStatisticsTests {
    static func ds1() -> ([Double], [Double]) { ([1, 2, 2, 3, 3, 3, 4, 5, 5, 6], [2, 3, 3, 4, 4, 4, 5, 6, 7, 8, 8, 9]) }
    /// `[(i*37%101)/10 for i in range(60)], [(j*53%89)/10+0.8 for j in range(45)]`
    static func ds2() -> ([Double], [Double]) {
        let a: [Double] = (0..<60).map { (i: Int) -> Double in Double(i * 37 % 101) / 10 }
        let b: [Double] = (0..<45).map { (j: Int) -> Double in Double(j * 53 % 89) / 10 + 0.8 }
        return (a, b)
    }
    /// `[(i*7919%1000)/100 for i in range(300)], [(j*104729%1009)/100*1.1+0.3 for j in range(500)]`
    static func ds3() -> ([Double], [Double]) {
        let a: [Double] = (0..<300).map { (i: Int) -> Double in Double(i * 7919 % 1000) / 100 }
        let b: [Double] = (0..<500).map { (j: Int) -> Double in Double(j * 104729 % 1009) / 100 * 1.1 + 0.3 }
        return (a, b)
    }
    /// `[(i*7919%1000)/100 for i in range(2000)], [(j*104729%1009)/100+0.05 for j in range(3000)]`
    static func ds4() -> ([Double], [Double]) {
        let a: [Double] = (0..<2000).map { (i: Int) -> Double in Double(i * 7919 % 1000) / 100 }
        let b: [Double] = (0..<3000).map { (j: Int) -> Double in Double(j * 104729 % 1009) / 100 + 0.05 }
        return (a, b)
    }

    static func close(_ a: Double, _ b: Double, rel: Double = 1e-9, abs: Double = 1e-14) -> Bool {
        Swift.abs(a - b) <= Swift.max(abs, rel * Swift.abs(b))
    }

    // MARK: PSI

    @Test func psiHandComputed() {
        // ref 25/25/25/25 %, cur 10/20/30/40 %:
        // (0.1−0.25)ln(0.4) + (0.2−0.25)ln(0.8) + (0.3−0.25)ln(1.2) + (0.4−0.25)ln(1.6)
        let expected = -0.15 * log(0.4) - 0.05 * log(0.8) + 0.05 * log(1.2) + 0.15 * log(1.6)
        let psi = DriftStatistics.populationStabilityIndex(reference: [25, 25, 25, 25], current: [10, 20, 30, 40])
        #expect(Self.close(psi, expected, rel: 1e-12))
        #expect(Self.close(psi, 0.22821740957339182, rel: 1e-12))
        #expect(DriftVerdict(psi: psi) == .moderate)
        // Symmetric.
        #expect(Self.close(DriftStatistics.populationStabilityIndex(reference: [10, 20, 30, 40], current: [25, 25, 25, 25]), psi, rel: 1e-12))
    }

    @Test func psiEmptyBinUsesEpsilon() {
        // ref 50/50/0 %, cur 40/40/20 %: the empty reference bin counts as 1e-4.
        let expected = 2 * (-0.1 * log(0.8)) + (0.2 - 1e-4) * log(0.2 / 1e-4)
        let psi = DriftStatistics.populationStabilityIndex(reference: [50, 50, 0], current: [40, 40, 20])
        #expect(Self.close(psi, expected, rel: 1e-12))
        #expect(psi.isFinite && DriftVerdict(psi: psi) == .significant)
        // Bins empty on both sides contribute nothing; identical distributions give 0.
        #expect(DriftStatistics.populationStabilityIndex(reference: [30, 0, 70], current: [3, 0, 7]) == 0)
        #expect(DriftStatistics.populationStabilityIndex(reference: [0, 0], current: [1, 2]).isNaN)
        #expect(DriftVerdict(psi: 0.05) == .none && DriftVerdict(psi: 0.1) == .moderate && DriftVerdict(psi: 0.25) == .moderate)
        #expect(DriftVerdict(psi: 0.2501) == .significant)
    }

    @Test func psiOfCategories() {
        let ref = CategoryCounts(["a", "a", "b", "b"]), cur = CategoryCounts(["a", "b", "c", "c"])
        // aligned over [a, b, c]: ref 0.5/0.5/0, cur 0.25/0.25/0.5
        let expected = 2 * (-0.25 * log(0.5)) + (0.5 - 1e-4) * log(0.5 / 1e-4)
        #expect(Self.close(DriftStatistics.populationStabilityIndex(reference: ref, current: cur), expected, rel: 1e-12))
    }

    // MARK: Histograms and categories

    @Test func histogramBinsAndMerge() throws {
        var h = Histogram(cutPoints: [1, 2, 3])
        for x in [0.5, 1, 1.5, 2, 3, 3.5, 100, -100, .nan] { h.add(x) }
        #expect(h.counts == [2, 2, 1, 3])   // (−∞,1) [1,2) [2,3) [3,∞)
        #expect(h.missing == 1 && h.total == 8)
        var other = Histogram(cutPoints: [1, 2, 3], values: [2.5, 2.5, 0])
        other.merge(h)
        #expect(other.counts == [3, 2, 3, 3])
        // Merge equals counting everything at once, in either order.
        let all = Histogram(cutPoints: [1, 2, 3], values: [0.5, 1, 1.5, 2, 3, 3.5, 100, -100, .nan, 2.5, 2.5, 0])
        #expect(other == all)
        var rev = h; rev.merge(Histogram(cutPoints: [1, 2, 3], values: [2.5, 2.5, 0]))
        #expect(rev == all)
        // State round trip, and through the aggregate-function protocol.
        #expect(try Histogram(stateBytes: all.encodedStateBytes()) == all)
        let agg = HistogramAggregate<Double>(cutPoints: [1, 2, 3]) { $0 }
        var acc = agg.makeAccumulator()
        for x in [0.5, 2.5] { agg.add(x, to: &acc) }
        agg.merge(Histogram(cutPoints: [1, 2, 3], values: [3]), into: &acc)
        #expect(agg.result(acc).counts == [1, 0, 1, 1])
    }

    @Test func quantileCutPointsMatchNumpy() {
        // np.quantile(ds2 a, [0.1, …, 0.9]) (linear method)
        let expected = [0.99, 1.98, 2.9699999999999998, 3.96, 4.95, 5.94, 6.93, 7.920000000000001, 8.91]
        let cuts = Histogram.quantileCutPoints(of: Self.ds2().0, bins: 10)
        #expect(cuts.count == 9)
        for (c, e) in zip(cuts, expected) { #expect(Self.close(c, e, rel: 1e-12)) }
        // Heavy ties collapse duplicate cut points.
        // Heavy ties collapse duplicate cut points: 90 zeros and 1…10 → deciles 0 (×8) and 0.1.
        let tied = Histogram.quantileCutPoints(of: Array(repeating: 0, count: 90) + (1...10).map(Double.init), bins: 10)
        #expect(tied.count == 2 && tied[0] == 0 && Self.close(tied[1], 0.1, rel: 1e-9))
        #expect(Histogram.quantileCutPoints(of: Array(repeating: 5, count: 10), bins: 10) == [5])
        #expect(Histogram.quantileCutPoints(of: [], bins: 10) == [])
    }

    @Test func categoryCountsMergeCapAndCodec() throws {
        var a = CategoryCounts(["x", "y", "x"], maxCategories: 2)
        a.add("z")   // over the cap
        #expect(a.counts == ["x": 2, "y": 1, CategoryCounts.overflowCategory: 1])
        var b = CategoryCounts(["y", "w"], maxCategories: 2)
        b.merge(a)
        #expect(b.total == 6)
        #expect(try CategoryCounts(stateBytes: a.encodedStateBytes()) == a)
        let roundTripped = try CategoryCounts(stateBytes: a.encodedStateBytes())
        #expect(a.encodedStateBytes() == roundTripped.encodedStateBytes(), "sorted, deterministic bytes")
    }

    // MARK: Kolmogorov–Smirnov

    @Test(arguments: [
        // dataset, D, p (ks_2samp asymp), p (kstwobign at sqrt(en)·D)
        (1, 0.35, 0.46975, 0.5160715274389962),
        (2, 0.08333333333333333, 0.9867134310362531, 0.9940739728520818),
        (3, 0.13866666666666672, 0.0012910862404124557, 0.0014773290958975662),
        (4, 0.015000000000000013, 0.946227518778782, 0.9499961913574536),
    ])
    func ksMatchesScipy(dataset: Int, d: Double, p: Double, limitP: Double) {
        let (a, b) = [Self.ds1, Self.ds2, Self.ds3, Self.ds4][dataset - 1]()
        let r = KolmogorovSmirnov.twoSample(reference: a, current: b)
        #expect(Self.close(r.statistic, d, rel: 1e-12))
        #expect(Self.close(r.pValue, p, rel: 1e-8), "p \(r.pValue) vs scipy \(p)")
        #expect(Self.close(r.limitingPValue, limitP, rel: 1e-9), "limit p \(r.limitingPValue) vs \(limitP)")
        // D is symmetric; shuffled input gives the same result.
        let s = KolmogorovSmirnov.twoSample(reference: b.reversed(), current: a)
        #expect(s.statistic == r.statistic && s.pValue == r.pValue)
    }

    @Test(arguments: [
        // stats.kstwo.sf(d, n), one case per branch of the Simard–L'Ecuyer selection
        (5, 0.15, 0.9988), (5, 0.5, 0.112), (20, 0.1, 0.976255094592155), (20, 0.3, 0.04306706665851623),
        (20, 0.6, 2.0483011649719853e-07), (100, 0.05, 0.9532159710635725), (100, 0.15, 0.019839242125643017),
        (140, 0.2, 2.1981563302200222e-05), (500, 0.03, 0.7473166700457021), (500, 0.06, 0.05243463489026223),
        (500, 0.2, 5.256835361945869e-18), (5000, 0.004, 0.9999977369528622), (5000, 0.01, 0.6954557253913853),
        (5000, 0.03, 0.00024159234422666817), (200000, 0.002, 0.39995085369038097), (200000, 0.0005, 0.999999999766341),
    ])
    func kolmogorovSurvivalMatchesScipy(n: Int, d: Double, p: Double) {
        let got = KolmogorovSmirnov.survival(d, n: n)
        #expect(Self.close(got, p, rel: 1e-7, abs: 1e-300), "kstwo.sf(\(d), \(n)) = \(p), got \(got)")
    }

    @Test func limitingDistributionMatchesScipy() {
        for (l, p) in [(0.3, 0.9999906941986655), (0.8, 0.5441424115741981), (1.0, 0.26999967167735456),
                       (1.36, 0.049485876755377876), (2.0, 0.0006709252557796953)] {
            #expect(Self.close(KolmogorovSmirnov.limitingSurvival(l), p, rel: 1e-10))
        }
    }

    @Test func binnedKSIsALowerBoundOfTheExactOne() {
        let (a, b) = Self.ds3()
        let cuts = Histogram.quantileCutPoints(of: a, bins: 10)
        let binned = KolmogorovSmirnov.twoSample(reference: Histogram(cutPoints: cuts, values: a), current: Histogram(cutPoints: cuts, values: b))
        let exact = KolmogorovSmirnov.twoSample(reference: a, current: b)
        #expect(binned.isBinned && binned.statistic <= exact.statistic + 1e-12)
        let maxBin = max(Histogram(cutPoints: cuts, values: a).proportions.max()!, Histogram(cutPoints: cuts, values: b).proportions.max()!)
        #expect(exact.statistic <= binned.statistic + maxBin)
        #expect(KolmogorovSmirnov.twoSample(reference: [], current: [1]).statistic.isNaN)
    }

    // MARK: Jensen–Shannon

    @Test func jensenShannonMatchesScipy() {
        for (p, q, dist) in [([0.1, 0.4, 0.5], [0.8, 0.15, 0.05], 0.6482287947757128),
                             ([1.0, 0, 0], [0.5, 0.5, 0], 0.5579230452841438),
                             ([10.0, 20, 30, 40], [40.0, 30, 20, 10], 0.3918681606471551),
                             ([1.0, 2, 3], [1.0, 2, 3], 0.0), ([1.0, 0], [0.0, 1], 1.0)] {
            #expect(Self.close(DriftStatistics.jensenShannonDistance(p, q), dist, rel: 1e-12, abs: 1e-12))
            #expect(Self.close(DriftStatistics.jensenShannonDivergence(p, q), dist * dist, rel: 1e-12, abs: 1e-12))
        }
    }

    // MARK: Mean shift

    @Test func meanShiftMatchesDirectComputationAndScipy() {
        for (ds, zRef, pRef, fRef) in [(Self.ds2, 0.20300047067768487, 0.8391346643241654, 0.7946867032856392),
                                       (Self.ds3, 4.134108162477769, 3.5633563769157927e-05, 1.2184961112922092)] {
            let (a, b) = ds()
            let r = DriftStatistics.meanShift(reference: RunningMoments(a), current: RunningMoments(b))
            // Direct two-pass computation.
            func meanVar(_ x: [Double]) -> (Double, Double) {
                let m = x.reduce(0, +) / Double(x.count)
                return (m, x.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(x.count - 1))
            }
            let (ma, va) = meanVar(a), (mb, vb) = meanVar(b)
            let z = (mb - ma) / (vb / Double(b.count) + va / Double(a.count)).squareRoot()
            #expect(Self.close(r.z, z, rel: 1e-10))
            #expect(Self.close(r.z, zRef, rel: 1e-10))
            #expect(Self.close(r.pValue, pRef, rel: 1e-9))   // 2 * stats.norm.sf(|z|)
            #expect(Self.close(r.varianceRatio, fRef, rel: 1e-10))
        }
        let flat = DriftStatistics.meanShift(reference: RunningMoments([1, 1, 1]), current: RunningMoments([2, 2]))
        #expect(flat.z == .infinity && flat.pValue == 0)
        #expect(DriftStatistics.meanShift(reference: RunningMoments([1]), current: RunningMoments([2, 3])).z.isNaN)
    }

    @Test func runningMomentsMerge() throws {
        let (a, b) = Self.ds3()
        var m = RunningMoments(a); m.merge(RunningMoments(b))
        let all = RunningMoments(a + b)
        #expect(m.count == all.count && Self.close(m.mean, all.mean, rel: 1e-12) && Self.close(m.m2, all.m2, rel: 1e-10))
        #expect(try RunningMoments(stateBytes: m.encodedStateBytes()) == m)
    }

    // MARK: Reservoir

    @Test func reservoirIsDeterministicAndUniform() throws {
        var r1 = Reservoir(capacity: 100, seed: 42), r2 = Reservoir(capacity: 100, seed: 42), r3 = Reservoir(capacity: 100, seed: 43)
        for i in 0..<10_000 { r1.add(Double(i)); r2.add(Double(i)); r3.add(Double(i)) }
        #expect(r1 == r2 && r1.values != r3.values)
        #expect(r1.values.count == 100 && r1.seen == 10_000 && Set(r1.values).count == 100)
        // Snapshot mid-stream and continue: identical to never stopping.
        var restored = try Reservoir(stateBytes: r1.encodedStateBytes())
        for i in 10_000..<12_000 { r1.add(Double(i)); restored.add(Double(i)) }
        #expect(restored == r1)
        // Uniformity: the mean of many samples' means is close to the stream mean (4999.5 ± ~30).
        var total = 0.0
        for seed in 0..<200 as Range<UInt64> {
            var r = Reservoir(capacity: 100, seed: seed)
            for i in 0..<10_000 { r.add(Double(i)) }
            total += r.values.reduce(0, +) / 100
        }
        #expect(Swift.abs(total / 200 - 4999.5) < 100)
        // Merge keeps at most capacity values, all from the union, and is deterministic.
        var a = Reservoir(capacity: 50, seed: 1), b = Reservoir(capacity: 50, seed: 2)
        for i in 0..<300 { a.add(Double(i)) }
        for i in 1_000..<1_100 { b.add(Double(i)) }
        var m1 = a; m1.merge(b)
        var m2 = a; m2.merge(b)
        #expect(m1 == m2 && m1.values.count == 50 && m1.seen == 400)
        #expect(m1.values.allSatisfy { ($0 >= 0 && $0 < 300) || ($0 >= 1_000 && $0 < 1_100) })
    }

    @Test func prioritySampleIgnoresArrivalOrderAndIsUniform() throws {
        // The same (value, identity) pairs in three orders: the same sample.
        var rng = SplitMix64(seed: 9)
        let items = (0..<10_000).map { i in (Double(rng.next() % 1_000) / 10, Int64(i / 3)) }   // repeated values and times
        var orders = [items, items.reversed(), items]
        for i in stride(from: orders[2].count - 1, to: 0, by: -1) { orders[2].swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let samples = orders.map { order -> [Double] in
            var s = PrioritySample(capacity: 256, seed: 42)
            for (x, t) in order { s.add(x, identity: t) }
            #expect(s.seen == 10_000 && s.values.count == 256)
            return s.values.sorted()
        }
        #expect(samples[0] == samples[1] && samples[0] == samples[2])
        // Snapshot mid-stream and continue: identical to never stopping; merging halves equals the whole.
        var whole = PrioritySample(capacity: 256, seed: 42), first = PrioritySample(capacity: 256, seed: 42), second = PrioritySample(capacity: 256, seed: 42)
        for (i, (x, t)) in items.enumerated() { whole.add(x, identity: t); if i < 5_000 { first.add(x, identity: t) } else { second.add(x, identity: t) } }
        var restored = try PrioritySample(stateBytes: first.encodedStateBytes())
        restored.merge(second)
        #expect(restored.values.sorted() == whole.values.sorted() && restored.seen == whole.seen)
        // Uniformity: the mean of many samples' means is close to the stream mean (4999.5 ± ~30).
        var total = 0.0
        for seed in 0..<200 as Range<UInt64> {
            var s = PrioritySample(capacity: 100, seed: seed)
            for i in 0..<10_000 { s.add(Double(i), identity: Int64(i)) }
            total += s.values.reduce(0, +) / 100
        }
        #expect(Swift.abs(total / 200 - 4999.5) < 100)
    }

    // MARK: Baseline files

    @Test func baselineFromNDJSONAndArray() throws {
        let dir = FileManager.default.temporaryDirectory
        let nd = dir.appendingPathComponent("drift-baseline-\(UInt32.random(in: 0...UInt32.max)).ndjson")
        try "1.5\n\n2\nnull\n\"3.25\"\n-4e1\n".write(to: nd, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: nd) }
        let b = try DriftBaseline.load(contentsOf: nd, bins: 2)
        #expect(b.sortedValues == [-40, 1.5, 2, 3.25])
        #expect(b.cutPoints == [1.75] && b.histogram.counts == [2, 2])
        #expect(try DriftBaseline.parseNumbers(Data("[1, 2.5, null]".utf8)).prefix(2) == [1, 2.5])
        #expect(try DriftBaseline.parseCategories(Data("[\"a\", 3, null, \"b\"]".utf8)) == ["a", "3", "b"])
        #expect(throws: StreamKitError.self) { try DriftBaseline.parseNumbers(Data("1\n{\"x\": 1}\n".utf8)) }
        #expect(throws: StreamKitError.self) { try DriftBaseline.parseNumbers(Data("[true]".utf8)) }
    }
}
