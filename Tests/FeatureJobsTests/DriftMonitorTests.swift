import Testing
import FeatureJobs
import StreamKitTesting
import StreamKit
import Glibc

/// ``DriftMonitor`` end to end through a job, and through the operator harness.
@Suite struct DriftMonitorTests {
    struct Observation: Sendable {
        var feature: String; var value: Double; var time: Int64
    }

    /// Standard normal values from a seeded generator (Box–Muller).
    static func normals(_ count: Int, seed: UInt64) -> [Double] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            let u1 = (Double(rng.next() >> 11) + 0.5) / 9_007_199_254_740_992, u2 = Double(rng.next() >> 11) / 9_007_199_254_740_992
            return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        }
    }

    /// 10 windows of 1 s with 400 values per feature each. "stationary" stays N(0, 1); "shifted"
    /// and "trailing" move to N(1.5, 1) from window 5 on.
    static func observations() -> [Observation] {
        let perWindow = 400
        var out: [Observation] = []
        for (f, feature) in ["stationary", "shifted", "trailing"].enumerated() {
            let xs = normals(10 * perWindow, seed: UInt64(f + 1))
            for (i, x) in xs.enumerated() {
                let window = i / perWindow
                let t = Int64(window * 1_000 + (i % perWindow) * 1_000 / perWindow)
                out.append(Observation(feature: feature, value: feature != "stationary" && window >= 5 ? x + 1.5 : x, time: t))
            }
        }
        return out.sorted { $0.time < $1.time }
    }

    static func configuration() -> DriftMonitor<Observation>.Configuration {
        let baseline = DriftBaseline(values: normals(5_000, seed: 99))
        var c = DriftMonitor<Observation>.Configuration(windowSize: .seconds(1),
                                                        baselines: ["stationary": baseline, "shifted": baseline])
        c.reservoirCapacity = 256
        c.thresholds.meanShiftZ = 6
        return c
    }

    @Test(arguments: [1, 2])
    func detectsAShiftInjectedHalfwayAndStaysQuietOnAStationaryStream(parallelism: Int) async throws {
        let reports = CollectedOutput<DriftReport>()
        let alerts = CollectedOutput<DriftAlert>()
        let data = Self.observations(), config = Self.configuration()
        try await Job("drift") { env in
            let r = env.fromCollection(data)
                .assignTimestamps({ $0.time }, watermark: .monotonous)
                .keyBy { $0.feature }
                .process(DriftMonitor(config) { $0.value })
            r.collect(into: reports)
            r.driftAlerts().collect(into: alerts)
        }.run(parallelism: parallelism)

        let by = Dictionary(grouping: reports.values, by: \.feature).mapValues { $0.sorted { $0.windowEnd < $1.windowEnd } }
        // Baseline features: a report per window; trailing: none for the first window.
        #expect(by["stationary"]?.count == 10 && by["shifted"]?.count == 10 && by["trailing"]?.count == 9)
        let stationary = by["stationary"] ?? []
        #expect(stationary.allSatisfy { !$0.isAlert && $0.verdict == .none && $0.reference == .baseline }, "\(stationary.map(\.psi))")
        #expect(stationary.allSatisfy { $0.currentCount == 400 && $0.referenceCount == 5_000 })

        let shifted = by["shifted"] ?? []
        #expect(shifted.map(\.isAlert) == Array(repeating: false, count: 5) + Array(repeating: true, count: 5), "\(shifted.map(\.psi))")
        #expect(shifted.suffix(5).allSatisfy { $0.verdict == .significant && $0.signals.contains(.meanShift) && $0.ks.pValue < 1e-6 })
        #expect(shifted.suffix(5).allSatisfy { abs($0.currentMean - 1.5) < 0.2 })

        // Trailing reference: only the window where the shift starts differs from its predecessor.
        let trailing = by["trailing"] ?? []
        #expect(trailing.map(\.windowEnd) == (2...10).map { Int64($0 * 1_000) })
        #expect(trailing.filter(\.isAlert).map(\.windowStart) == [5_000], "\(trailing.map(\.psi))")
        #expect(trailing.allSatisfy { $0.reference == .previousWindow && $0.referenceCount == 400 })

        #expect(alerts.values.count == 6)
        #expect(Set(alerts.values.map(\.feature)) == ["shifted", "trailing"])
    }

    @Test func snapshotAndRestoreMidWindowGivesTheSameReports() throws {
        let config = Self.configuration()
        let data = Self.observations()
        func make() -> KeyedProcessOperator<DriftMonitor<Observation>> {
            KeyedProcessOperator(DriftMonitor(config) { $0.value }, key: { $0.feature })
        }
        let straight = try OperatorTestHarness(make())
        // Same watermark progress as below: a trailing feature's cut points exist only once its
        // first window fired, which decides whether later windows count exactly or from samples.
        for o in data { try straight.processElement(o, timestamp: o.time); try straight.processWatermark(o.time) }
        try straight.processWatermark(Watermark.endOfInput - 1)

        let first = try OperatorTestHarness(make())
        let cut = data.count / 2 + 17   // mid-window
        for o in data[..<cut] { try first.processElement(o, timestamp: o.time); try first.processWatermark(o.time) }
        let before = first.takeOutput()
        let bytes = try first.snapshot()
        let second = try OperatorTestHarness.restore(from: [bytes], make)
        try second.processWatermark(data[cut - 1].time)
        for o in data[cut...] { try second.processElement(o, timestamp: o.time); try second.processWatermark(o.time) }
        try second.processWatermark(Watermark.endOfInput - 1)
        let resumed = (before + second.output).map(\.value)
        let expected = straight.outputValues
        #expect(resumed.count == expected.count)
        func keyed(_ r: [DriftReport]) -> [String: DriftReport] { Dictionary(uniqueKeysWithValues: r.map { ("\($0.feature)@\($0.windowEnd)", $0) }) }
        #expect(keyed(resumed) == keyed(expected))
    }
}
