import Testing
import StreamKitTesting
import StreamKit
import StreamKitWorkload

@Suite struct KeyGroupTests {
    @Test func rangesAndOwnersAgreeForEveryLayout() {
        for maxParallelism in 1...128 {
            let groups = KeyGroups(maxParallelism: maxParallelism)
            for parallelism in 1...min(16, maxParallelism) {
                var covered = 0
                for subtask in 0..<parallelism {
                    let range = groups.range(ofSubtask: subtask, parallelism: parallelism)
                    #expect(range.lowerBound == covered, "ranges are contiguous (mp \(maxParallelism), p \(parallelism))")
                    #expect(!range.isEmpty, "every subtask owns at least one key group")
                    for kg in range where groups.subtask(ofKeyGroup: kg, parallelism: parallelism) != subtask {
                        Issue.record("key group \(kg) is in the range of subtask \(subtask) but owned by another (mp \(maxParallelism), p \(parallelism))")
                    }
                    covered = range.upperBound
                }
                #expect(covered == maxParallelism)
            }
        }
    }

    /// Checkpoints are restored by key group in another process: these values must never change.
    @Test func stableHashIsStableAcrossRuns() {
        // Expected values computed independently (MurmurHash3 finaliser; FNV-1a for strings) in Python.
        #expect(0.stableHash == 0)
        #expect(1.stableHash == 0xb456_bcfc_34c2_cb2c)
        #expect(42.stableHash == 0x8108_7960_8e42_59cc)
        #expect(Int64(75414).stableHash == 0x2962_cbf6_5c71_f907)
        #expect(Int32(75414).stableHash == 0x2962_cbf6_5c71_f907)
        #expect((-1).stableHash == 0x64b5_720b_4b82_5f21)
        #expect("".stableHash == 0xefd0_1f60_ba99_2926)
        #expect("user-1".stableHash == 0x41a2_fca5_c684_01c5)
        #expect("Zürich".stableHash == 0x24b2_2821_293c_05d0)
        let groups = KeyGroups(maxParallelism: 128)
        #expect(groups.keyGroup(of: 75414) == 7)
        #expect(groups.keyGroup(of: "user-1") == 69)
    }
}

/// The DSL in the shape users write it, checked against a plain reference computation.
@Suite struct JobDSLTests {
    struct Purchase: Sendable {
        var user: Int
        var amount: Double
        var ts: EventTime
    }

    @Test(.timeLimit(.minutes(15)), arguments: [1, 2])
    func slidingAggregatePipeline(parallelism: Int) async throws {
        var data: [Purchase] = []
        var rng = WorkloadGenerator.SplitMix64(seed: 3)
        for i in 0..<400 {
            let ts = EventTime(i * 250) + EventTime(rng.next() % 1_500)     // out of order by < 1.5 s
            data.append(Purchase(user: Int(rng.next() % 7), amount: Double(rng.next() % 10_000) / 100, ts: ts))
        }
        let input = data
        let out = CollectedOutput<WindowResult<Int, (count: Int64, sum: Double, avg: Double, max: Double)>>()
        let job = Job("dsl") { env in
            env.fromCollection(input)
                .assignTimestamps(\.ts, watermark: .boundedOutOfOrderness(.seconds(2)))
                .keyBy(\.user)
                .window(.sliding(size: .seconds(10), slide: .seconds(5)))
                .aggregate(.count(), .sum(\.amount), .mean(\.amount), .max(\.amount)) { (count: $0, sum: $1, avg: $2, max: $3) }
                .collect(into: out)
        }
        var options = Job.RunOptions(parallelism: parallelism)
        options.batchSize = 64
        let result = try await job.run(options)
        #expect(result.metrics.lateRecords == 0)

        struct Expected: Hashable { var count: Int64; var sum: Double; var max: Double }
        var reference: [String: Expected] = [:]
        for p in data {
            let last = p.ts - p.ts % 5_000
            for start in [last, last - 5_000] {
                let k = "\(p.user)@\(start)"
                var e = reference[k] ?? Expected(count: 0, sum: 0, max: -.infinity)
                e.count += 1; e.sum += p.amount; e.max = Swift.max(e.max, p.amount)
                reference[k] = e
            }
        }
        let results = out.values
        #expect(results.count == reference.count)
        for r in results {
            let k = "\(r.key)@\(r.windowStart)"
            guard let e = reference[k] else { Issue.record("unexpected window \(k)"); continue }
            #expect(r.windowEnd == r.windowStart + 10_000)
            #expect(r.count == e.count, "\(k)")
            #expect(abs(r.sum - e.sum) < 1e-6, "\(k)")
            #expect(abs(r.avg - e.sum / Double(e.count)) < 1e-6, "\(k)")
            #expect(r.max == e.max, "\(k)")
        }
    }
}
