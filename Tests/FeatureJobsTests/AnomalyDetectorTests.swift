import Testing
import FeatureJobs
import StreamKitTesting
import StreamKit

/// ``EWMAAnomalyDetector`` against a straightforward reference loop, and across a checkpoint.
@Suite struct AnomalyDetectorTests {
    struct Reading: Sendable {
        var sensor: String; var value: Double; var time: Int64
    }

    /// The textbook loop: state before x gives z; then μ, var updated by the EW recursions.
    static func reference(_ xs: [Double], alpha: Double, threshold: Double, warmUp: Int) -> [(mean: Double, sd: Double, z: Double, outlier: Bool)] {
        var mu = 0.0, v = 0.0, n = 0
        var out: [(Double, Double, Double, Bool)] = []
        for x in xs {
            if n == 0 {
                out.append((x, 0, 0, false)); mu = x; v = 0; n = 1; continue
            }
            let sd = v.squareRoot()
            let z = sd > 0 ? (x - mu) / sd : (x == mu ? 0 : (x > mu ? Double.infinity : -Double.infinity))
            out.append((mu, sd, z, n >= warmUp && abs(z) > threshold))
            let diff = x - mu, incr = alpha * diff
            mu += incr
            v = (1 - alpha) * (v + diff * incr)
            n += 1
        }
        return out
    }

    static func readings() -> [Reading] {
        var rng = SplitMix64(seed: 7)
        var out: [Reading] = []
        for i in 0..<600 {
            let sensor = ["a", "b", "c"][i % 3]
            var x = Double(rng.next() % 1_000) / 100 + (sensor == "b" ? 50 : 0)
            if i == 301 || i == 452 { x += 40 }   // spikes on sensor b (301 % 3 == 1) and c (452 % 3 == 2)
            out.append(Reading(sensor: sensor, value: x, time: Int64(i * 10)))
        }
        return out
    }

    static func make() -> KeyedProcessOperator<EWMAAnomalyDetector<Reading, String>> {
        KeyedProcessOperator(EWMAAnomalyDetector(alpha: 0.05, threshold: 4, warmUp: 30) { $0.value }, key: { $0.sensor })
    }

    @Test func matchesTheReferenceLoopPerKey() throws {
        let data = Self.readings()
        let h = try OperatorTestHarness(Self.make())
        for r in data { try h.processElement(r, timestamp: r.time) }
        let scores = h.outputValues
        #expect(scores.count == data.count)
        for sensor in ["a", "b", "c"] {
            let xs = data.filter { $0.sensor == sensor }
            let got = scores.filter { $0.key == sensor }
            let want = Self.reference(xs.map(\.value), alpha: 0.05, threshold: 4, warmUp: 30)
            for (g, (w, r)) in zip(got, zip(want, xs)) {
                #expect(abs(g.mean - w.mean) <= 1e-12 * max(1, abs(w.mean)))
                #expect(abs(g.stddev - w.sd) <= 1e-12 * max(1, w.sd))
                #expect(g.z == w.z || abs(g.z - w.z) <= 1e-9 * max(1, abs(w.z)))
                #expect(g.isOutlier == w.outlier && g.value == r.value && g.eventTime == r.time)
            }
        }
        // The two spikes are flagged, nothing else is.
        #expect(scores.filter(\.isOutlier).map(\.eventTime) == [3_010, 4_520])
    }

    @Test func warmUpSuppressesEarlyFlags() throws {
        let h = try OperatorTestHarness(KeyedProcessOperator(
            EWMAAnomalyDetector<Reading, String>(alpha: 0.5, threshold: 2, warmUp: 3) { $0.value }, key: { $0.sensor }))
        for (i, x) in [10.0, 10, 50, 10, 10, 10, 100].enumerated() { try h.processElement(Reading(sensor: "s", value: x, time: Int64(i)), timestamp: Int64(i)) }
        let s = h.outputValues
        #expect(s[0].z == 0 && s[0].mean == 10 && s[0].stddev == 0)
        #expect(s[1].z == 0)                          // equals a constant history
        #expect(s[2].z == .infinity && !s[2].isOutlier)   // only 2 earlier values: still warming up
        #expect(s[6].isOutlier && s[6].z > 2)
        // NaN is scored NaN and leaves the state alone.
        try h.processElement(Reading(sensor: "s", value: .nan, time: 7), timestamp: 7)
        try h.processElement(Reading(sensor: "s", value: 100, time: 8), timestamp: 8)
        let tail = h.outputValues.suffix(2)
        #expect(tail.first!.z.isNaN && !tail.first!.isOutlier)
        #expect(tail.last!.mean != s[6].mean)   // 100 from record 6 was folded in, NaN was not
    }

    @Test func snapshotRestoreContinuesIdentically() throws {
        let data = Self.readings()
        let straight = try OperatorTestHarness(Self.make())
        for r in data { try straight.processElement(r, timestamp: r.time) }

        let first = try OperatorTestHarness(Self.make())
        for r in data[..<250] { try first.processElement(r, timestamp: r.time) }
        let before = first.takeOutput().map(\.value)
        let bytes = try first.snapshot()
        // Restored with a different parallelism: each subtask gets the keys it now owns.
        var after: [AnomalyScore<String>] = []
        for subtask in 0..<2 {
            let h = try OperatorTestHarness.restore(from: [bytes], subtask: subtask, parallelism: 2, Self.make)
            for r in data[250...] where h.owns(r.sensor) { try h.processElement(r, timestamp: r.time) }
            after += h.outputValues
        }
        let expected = straight.outputValues
        #expect(before == Array(expected[..<250]))
        let tail = Array(expected[250...])
        #expect(after.count == tail.count)
        for sensor in ["a", "b", "c"] {
            #expect(after.filter { $0.key == sensor } == tail.filter { $0.key == sensor }, "bit-identical continuation for \(sensor)")
        }
    }

    @Test func stateExpiresWithTTL() throws {
        let h = try OperatorTestHarness(KeyedProcessOperator(
            EWMAAnomalyDetector<Reading, String>(alpha: 0.5, warmUp: 0, ttl: StateTTL(.seconds(10))) { $0.value }, key: { $0.sensor }))
        try h.processElement(Reading(sensor: "s", value: 1, time: 0), timestamp: 0)
        try h.processElement(Reading(sensor: "s", value: 3, time: 1), timestamp: 1)
        try h.setProcessingTime(60_000)
        try h.processElement(Reading(sensor: "s", value: 7, time: 2), timestamp: 2)
        let last = h.outputValues.last!
        #expect(last.mean == 7 && last.stddev == 0 && last.z == 0, "expired state starts over")
    }
}
