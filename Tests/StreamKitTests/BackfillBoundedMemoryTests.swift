import Foundation
import Synchronization
import Testing
import StreamKit
import StreamKitBackfill
import StreamKitJobs
import StreamKitRedis
import StreamKitWorkload

/// Bounded memory of the backfill: labels are sorted in runs spilled to disk (at most
/// `labelBufferSize` held), every join subtask streams them, rows are written as they are
/// produced — and the training set is the same as with everything in memory, and the same as a
/// brute-force point-in-time lookup over every row the job produced. Progress is reported with
/// an ETA and ends at 100 %.
@Suite struct BackfillBoundedMemoryTests {
    /// 20,000 standard-workload events in a temporary file and `labelCount` labels in a shuffled
    /// order (entity of an event, at a time 0–80 s after it; some for users without events).
    static func workload(labelCount: Int) throws -> (path: String, labels: [LabelEvent]) {
        var generator = WorkloadGenerator(seed: 42, count: 20_000)
        var bytes: [UInt8] = []
        var events: [(user: Int64, ts: Int64)] = []
        while let e = generator.next() {
            WorkloadGenerator.appendLine(of: e, to: &bytes)
            events.append((e.userId, e.tsMs))
        }
        let path = NSTemporaryDirectory() + "backfill-bounded-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).ndjson"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        var rng = SplitMix64(seed: 7)
        var labels: [LabelEvent] = []
        for i in 0..<labelCount {
            let e = events[Int(rng.next() % UInt64(events.count))]
            let entity = i % 50 == 0 ? "no-such-user-\(i % 3)" : String(e.user)
            labels.append(LabelEvent(entity: entity, time: e.ts + Int64(rng.next() % 80_000), label: "\(i)"))
        }
        return (path, labels)
    }

    @Test func spilledLabelRunsGiveTheInMemoryTrainingSetAndTheBruteForceAnswer() async throws {
        let (path, labels) = try Self.workload(labelCount: 3_000)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let job = try UserActivityFeatures([:])
        var large = Backfill(job: job, labels: .events(labels))
        large.labelBufferSize = 1 << 20
        let reference = try await large.run(input: .file(path), parallelism: 1)
        #expect(reference.labelRuns == 0 && reference.peakLabelsInMemory == labels.count)

        for parallelism in [1, 2] {
            var small = Backfill(job: job, labels: .events(labels))
            small.labelBufferSize = 64
            let result = try await small.run(input: .file(path), parallelism: parallelism)
            #expect(result.labelRuns == (labels.count + 63) / 64, "p\(parallelism)")
            #expect(result.peakLabelsInMemory <= 64, "p\(parallelism): at most the buffer of labels held at once")
            #expect(result.rowCount == labels.count && result.rows.count == labels.count)
            #expect(zip(result.rows, reference.rows).allSatisfy { $0.label == $1.label && $0.featureEventTime == $1.featureEventTime })
            if parallelism == 1 { #expect(result.rows == reference.rows) }
        }

        // Output order: label time, entity, input order; every label once.
        let order = reference.rows.map { ($0.label.time, $0.label.entity, Int($0.label.label)!) }
        #expect(zip(order, order.dropFirst()).allSatisfy { $0 < $1 })
        #expect(Set(reference.rows.map(\.label.label)).count == labels.count)

        // Brute force: every row the job produced, and for each label the visible row with the
        // newest event time (PointInTimeJoin.answer over the entity's whole history).
        let produced = CollectedOutput<ServedFeatures>()
        let decoder = try job.eventDecoder()
        let source = try FileRangeSource(path: path, decoder: decoder, splits: 1)
        _ = try Job("brute-force") { env in
            job.features(env.source(source, name: "history"), idleness: nil).collect(into: produced)
        }.start(Job.RunOptions(parallelism: 1)).waitUntilFinished()
        var byEntity: [String: [ServedFeatures]] = [:]
        for r in produced.values { byEntity[r.entity, default: []].append(r) }
        var answered = 0
        for row in reference.rows {
            let expected = PointInTimeJoin.answer(row.label, rows: byEntity[row.label.entity] ?? [], ttlMillis: job.featureView.ttl.milliseconds)
            #expect(row.features == expected.features && row.featureEventTime == expected.featureEventTime, "\(row.label)")
            if row.features != nil { answered += 1 }
        }
        #expect(answered > labels.count / 2 && answered < labels.count, "both served and missing rows")
    }

    @Test func externalSortSpillsRunsAndMergesThemInOrder() throws {
        let dir = NSTemporaryDirectory() + "label-sort-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = SplitMix64(seed: 3)
        let input = (0..<10_000).map { i in
            LabelEvent(entity: String(rng.next() % 40), time: Int64(rng.next() % 500), label: "\(i)")
        }
        let sorter = ExternalLabelSort(directory: dir, runSize: 100)
        for l in input { try sorter.add(l) }
        let sorted = try sorter.finish()
        #expect(sorted.runs == 100 && sorter.peakBuffered == 100 && sorted.count == input.count)
        var reader = try sorted.makeReader()
        var out: [LabelEvent] = []
        while let l = try reader.next() { out.append(l) }
        let expected = input.enumerated().sorted { a, b in
            (a.element.time, a.element.entity, a.offset) < (b.element.time, b.element.entity, b.offset)
        }
        #expect(out.map(\.label) == expected.map(\.element.label))
        #expect(out.map(\.sequence) == (0..<Int64(input.count)).map { $0 })
        let left = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(left == ["labels-sorted"], "the runs are removed after the merge")
    }

    /// In memory and through spilled runs, the order is `precedes` order for entities that share
    /// prefixes, are prefixes of each other, hold NUL bytes, are not ASCII or are canonically
    /// equivalent but not byte-equal.
    @Test func externalSortOrderIsPrecedesOrderForAnyEntities() throws {
        let dir = NSTemporaryDirectory() + "label-sort-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let entities = ["", "a", "ab", "ab\u{0}", "ab\u{0}c", "abcdefgh", "abcdefghi", "abcdefgh\u{0}", "abcdefgg", "b",
                        "10", "9", "100000000000", "é", "e\u{301}", "abcdefghé", "abcdefghe\u{301}", "Z", "~", "\u{7F}"]
        var rng = SplitMix64(seed: 11)
        let input = (0..<4_000).map { i in
            LabelEvent(entity: entities[Int(rng.next() % UInt64(entities.count))], time: Int64(rng.next() % 7), label: "\(i)")
        }
        for runSize in [input.count, 300] {
            let sorter = ExternalLabelSort(directory: dir + "/\(runSize)", runSize: runSize)
            try FileManager.default.createDirectory(atPath: dir + "/\(runSize)", withIntermediateDirectories: true)
            for l in input { try sorter.add(l) }
            var reader = try sorter.finish().makeReader()
            var out: [String] = []
            while let l = try reader.next() { out.append(l.label) }
            let expected = input.enumerated().map { LabelEvent(entity: $1.entity, time: $1.time, label: $1.label, sequence: Int64($0)) }
                .sorted(by: ExternalLabelSort.precedes)
            #expect(out == expected.map(\.label), "run size \(runSize)")
        }
    }

    @Test func progressIsReportedWithAnETAAndEndsAtOneHundredPercent() async throws {
        let p = BackfillProgress(events: 1_000, fraction: 0.25, seconds: 10)
        #expect(p.etaSeconds == 30 && p.eventsPerSecond == 100)
        #expect(p.line == "backfill: 25.0% (1000 events, 100 events/s, ETA 30 s)")
        #expect(BackfillProgress(events: 0, fraction: nil, seconds: 1).etaSeconds == nil)

        let (path, labels) = try Self.workload(labelCount: 100)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var backfill = Backfill(job: try UserActivityFeatures([:]), labels: .events(labels))
        backfill.progressInterval = .milliseconds(1)
        let reports = Mutex<[BackfillProgress]>([])
        let result = try await backfill.run(input: .file(path), parallelism: 2) { p in reports.withLock { $0.append(p) } }
        let all = reports.withLock { $0 }
        let last = try #require(all.last)
        #expect(last.finished && last.fraction == 1 && last.events == result.events && last.events == 20_000 && last.etaSeconds == 0)
        #expect(last.line.hasPrefix("backfill: 100.0% (20000 events") && last.line.hasSuffix(", done)"))
        #expect(all.dropLast().allSatisfy { !$0.finished })
        for (a, b) in zip(all, all.dropFirst()) {
            #expect(a.events <= b.events && (a.fraction ?? 0) <= (b.fraction ?? 0) && a.seconds <= b.seconds)
        }
    }
}
