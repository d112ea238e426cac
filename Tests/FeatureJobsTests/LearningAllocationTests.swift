import Testing
import CAllocationCounter
import FeatureJobs

/// Scoring and updating are allocation-free on the hot path: the calling thread's heap
/// allocations are counted (malloc & co. are wrapped in the test binary, see
/// `CAllocationCounter`) while models predict and learn, features are hashed into a reused
/// vector and the prequential window takes scores.
@Suite struct LearningAllocationTests {
    /// Allocations made by `body` on this thread.
    static func allocations(_ body: () -> Void) -> Int {
        streamkit_allocations_start()
        body()
        return streamkit_allocations_stop()
    }

    /// The counter sees allocations at all (a test of zero must be able to fail).
    @Test func theCounterSeesAnArrayAllocation() {
        var sink = 0
        let n = Self.allocations {
            let a = [Int](repeating: 7, count: 1000 + sink)
            sink &+= a.count
        }
        #expect(n >= 1)
        #expect(sink == 1000)
    }

    static let hasher = FeatureHasher(bits: 18, numericSlots: 8)
    static let merchantField = FeatureHasher.fieldID("merchant")
    static let hourField = FeatureHasher.fieldID("hour")

    /// Fills `x` (reused) with 4 numeric slots and 2 hashed categorical features for example `i`.
    static func features(_ i: Int, into x: inout SparseFeatures) {
        x.removeAll()
        x.append(0, 1)
        x.append(1, Double(i % 97) / 97)
        x.append(2, Double(i % 13))
        x.append(3, i % 5 == 0 ? 1 : 0)
        x.append(hasher.index(field: merchantField, value: UInt64(i % 5_000)), 1)
        x.append(hasher.index(field: hourField, value: UInt64(i % 24)), 1)
    }

    @Test func ftrlPredictAndLearnDoNotAllocate() {
        var model = FTRLLogisticRegression(dimension: Self.hasher.dimension)
        var x = SparseFeatures(capacity: 16)
        Self.features(0, into: &x)
        model.learn(x, label: 1)    // the state is uniquely referenced from here on
        var checksum = 0.0
        let n = Self.allocations {
            for i in 1...20_000 {
                Self.features(i, into: &x)
                checksum += model.predict(x)
                checksum += model.learn(x, label: i % 7 == 0 ? 1 : 0)
            }
        }
        #expect(n == 0)
        #expect(checksum.isFinite && model.updates == 20_001)
    }

    @Test func adaGradPredictAndLearnDoNotAllocate() {
        var model = AdaGradLinearRegression(dimension: Self.hasher.dimension)
        var x = SparseFeatures(capacity: 16)
        Self.features(0, into: &x)
        model.learn(x, label: 1)
        var checksum = 0.0
        let n = Self.allocations {
            for i in 1...20_000 {
                Self.features(i, into: &x)
                checksum += model.predict(x)
                checksum += model.learn(x, label: Double(i % 11))
            }
        }
        #expect(n == 0)
        #expect(checksum.isFinite && model.updates == 20_001)
    }

    @Test func prequentialWindowAddDoesNotAllocateOnceFull() {
        var window = PrequentialWindow(capacity: 1_000)
        for i in 0..<1_000 { window.add(score: Double(i % 100) / 100, label: i % 3 == 0) }
        let n = Self.allocations {
            for i in 0..<20_000 { window.add(score: Double(i % 89) / 89, label: i % 4 == 0) }
        }
        #expect(n == 0)
        #expect(window.count == 1_000 && window.total == 21_000)
    }
}
