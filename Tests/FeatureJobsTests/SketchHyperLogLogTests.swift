import Testing
import FeatureJobs
import StreamKit

@Suite struct SketchHyperLogLogTests {
    @Test(arguments: [0, 1, 2, 10, 1000, 2048])
    func smallSetsAreExactInSparseMode(n: Int) throws {
        var hll = HyperLogLog()
        for i in 0 ..< n { hll.insert(Int64(i) * 1_000_003); hll.insert(Int64(i) * 1_000_003) }  // duplicates too
        #expect(!hll.isDense)
        #expect(hll.cardinality == Double(n))
        let bytes = hll.encodedStateBytes()
        #expect(bytes.count <= 2 + 2 + 8 * n, "sparse state is 8 bytes per distinct item")
        #expect(try HyperLogLog(stateBytes: bytes) == hll)
    }

    @Test func stringsAreHashedStably() {
        var a = HyperLogLog(), b = HyperLogLog()
        for i in 0 ..< 500 { a.insert("user-\(i)"); b.insert("user-\(499 - i)") }
        #expect(a == b)
        #expect(a.cardinality == 500)
        // The hash is fixed by the format (checkpoints restored by another process): pin one value.
        #expect(HyperLogLog.hash(Int64(42)) == HyperLogLog.mixHash(Int64(42).stableHash))
    }

    /// Within 3 standard errors (1.04/sqrt(m)) — a false failure has probability ≈ 0.3 % per case, and
    /// the data are fixed, so the test is deterministic.
    @Test(arguments: [(14, 30_000), (14, 100_000), (14, 1_000_000), (12, 100_000), (10, 1_000_000), (16, 100_000)])
    func largeSetsAreWithinThreeStandardErrors(precision: Int, n: Int) {
        var hll = HyperLogLog(precision: precision)
        for i in 0 ..< n { hll.insert(Int64(i)) }
        #expect(hll.isDense)
        let error = relativeError(hll.cardinality, Double(n))
        #expect(error < 3 * hll.standardError, "p=\(precision) n=\(n): estimate \(hll.cardinality), error \(error)")
    }

    @Test(arguments: [2, 9, 100])
    func mergingRandomSplitsEqualsTheWholeSketch(parts: Int) throws {
        let f = DistinctCountAggregate<Int64, Int64>(precision: HyperLogLog.defaultPrecision) { $0 }
        var rng = SeededGenerator(seed: 77)
        // Some parts stay sparse, some go dense: every merge combination is exercised.
        let data = (0 ..< 200_000).map { _ in Int64.random(in: 0 ..< 60_000, using: &rng) }
        let (whole, merged) = wholeAndMerged(f, data, parts: parts, seed: UInt64(parts))
        #expect(merged == whole)
        #expect(try roundTrip(merged) == whole)
        let exact = Double(Set(data).count)
        #expect(relativeError(Double(f.result(merged)), exact) < 3 * whole.standardError)
    }

    @Test func mergingSparseSketchesThatOverflowTurnsDense() {
        var a = HyperLogLog(precision: 10), b = HyperLogLog(precision: 10)   // sparse limit 128
        for i in 0 ..< 100 { a.insert(Int64(i)) }
        for i in 50 ..< 150 { b.insert(Int64(i)) }
        #expect(!a.isDense && !b.isDense)
        var ab = a; ab.merge(b)
        #expect(ab.isDense)
        var direct = HyperLogLog(precision: 10)
        for i in 0 ..< 150 { direct.insert(Int64(i)) }
        #expect(ab == direct)
        var small = HyperLogLog(precision: 10), small2 = HyperLogLog(precision: 10)
        for i in 0 ..< 30 { small.insert(Int64(i)); small2.insert(Int64(i + 20)) }
        small.merge(small2)
        #expect(!small.isDense && small.cardinality == 50)
    }

    @Test func corruptStateIsRejected() throws {
        var hll = HyperLogLog(precision: 8)
        for i in 0 ..< 5 { hll.insert(Int64(i)) }
        var bytes = hll.encodedStateBytes()
        #expect(throws: (any Error).self) { try HyperLogLog(stateBytes: Array(bytes.dropLast())) }
        bytes[0] = 30
        #expect(throws: (any Error).self) { try HyperLogLog(stateBytes: bytes) }
        for i in 0 ..< 1000 { hll.insert(Int64(i)) }
        var dense = hll.encodedStateBytes()
        dense[dense.count - 1] = 200
        #expect(throws: (any Error).self) { try HyperLogLog(stateBytes: dense) }
    }
}
