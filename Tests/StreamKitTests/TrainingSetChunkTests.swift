import Foundation
import Testing
import StreamKit
import StreamKitBackfill
import StreamKitRedis

/// The backfill's serial phases run in parts at parallelism > 1: the label buffer is sorted in
/// parts merged as it is written, and the training set is put together in chunks of labels
/// (each answer file read from its index's offset for the chunk) and handed on in order. Both
/// must give exactly what the one-thread versions give: the same label order and numbers, the
/// same rows, the same bytes in the file.
@Suite struct TrainingSetChunkTests {
    static func temporaryDirectory() throws -> String {
        let dir = NSTemporaryDirectory() + "training-chunks-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Labels with many ties of time and of (time, entity), in a shuffled order.
    static func labels(_ n: Int, seed: UInt64) -> [LabelEvent] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { i in
            LabelEvent(entity: "e\(rng.next() % 300)", time: Int64(rng.next() % UInt64(max(1, n / 40))), label: "\(i)")
        }
    }

    static func read(_ sorted: SortedLabels) throws -> [LabelEvent] {
        var reader = try sorted.makeReader()
        var out: [LabelEvent] = []
        while let l = try reader.next() { out.append(l) }
        return out
    }

    @Test func labelsSortedInPartsComeOutAsSortedInOne() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = Self.labels(40_000, seed: 5)
        var outputs: [[LabelEvent]] = []
        // In memory (one run) and through spilled runs of 20,000 (each sorted in parts).
        for (parallelism, runSize) in [(1, 1 << 20), (2, 1 << 20), (3, 1 << 20), (3, 20_000)] {
            let sub = dir + "/\(parallelism)-\(runSize)"
            try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
            let sorter = ExternalLabelSort(directory: sub, runSize: runSize)
            sorter.parallelism = parallelism
            for l in input { try sorter.add(l) }
            let sorted = try sorter.finish(chunkSize: 999)
            #expect(sorted.count == input.count && sorted.chunkCount == 41 && sorted.chunkOffsets.count == 41)
            // Labels that fit in the buffer stay in memory; spilled runs are merged into a file.
            #expect(sorted.inMemory == (runSize >= input.count), "p\(parallelism) run \(runSize)")
            #expect(FileManager.default.fileExists(atPath: sub + "/labels-sorted") == !sorted.inMemory)
            outputs.append(try Self.read(sorted))
            // Each chunk's reader starts at its first label.
            for k in [0, 1, 17, 40] {
                var reader = try sorted.makeReader(chunk: k)
                #expect(try reader.next()?.sequence == Int64(k * 999), "chunk \(k)")
            }
        }
        let expected = input.enumerated().sorted { a, b in
            (a.element.time, a.element.entity, a.offset) < (b.element.time, b.element.entity, b.offset)
        }
        #expect(outputs[0].map(\.label) == expected.map(\.element.label))
        for out in outputs.dropFirst() { #expect(out == outputs[0]) }
    }

    /// Answer files as the join's subtasks write them, then the training set put together at
    /// parallelism 1 (one streamed merge) and 2 and 3 (chunks at once), as rows and as text.
    @Test func chunkedMergeGivesTheStreamedTrainingSet() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sorter = ExternalLabelSort(directory: dir)
        for l in Self.labels(5_000, seed: 9) { try sorter.add(l) }
        let sorted = try sorter.finish(chunkSize: 64)
        let labels = try Self.read(sorted)
        let view = FeatureView(name: "v", entityKey: "e", features: [.int("n"), .double("x"), .string("s")], ttl: .seconds(60))

        // Three subtasks own the entities by their number; every 7th entity has no rows anywhere
        // (missing), and every 5th answer of the others has nothing servable (nil features).
        let subtasks = 3
        var answers = Array(repeating: [TrainingRow](), count: subtasks)
        for l in labels {
            let n = Int(l.entity.dropFirst())!
            if n % 7 == 0 { continue }
            let served: [FeatureValue?]? = l.sequence % 5 == 0 ? nil
                : [.int(l.sequence), .double(Double(l.sequence) / 3), l.sequence % 2 == 0 ? .string("s,\"\(n)\"") : nil]
            answers[n % subtasks].append(TrainingRow(label: l, features: served, featureEventTime: served == nil ? nil : l.time - 1))
        }
        // Subtask 2 answers nothing in chunks 10–19 (an index entry pointing at the next answer).
        answers[2].removeAll { (640..<1280).contains($0.label.sequence) }
        var files: [String] = []
        var rng = SplitMix64(seed: 1)
        for s in 0..<subtasks {
            var sink = AnswerSpillSink(directory: dir, labels: sorted)
            let context = OperatorContext(subtask: s, parallelism: subtasks, keyGroups: KeyGroups(maxParallelism: 128),
                                          metrics: OperatorMetrics(name: "spill"), jobMetrics: JobMetrics())
            try sink.open(context: context)
            var none = Batch<Never>(), side = Batch<Never>()
            var rest = answers[s][...]
            while !rest.isEmpty {
                var batch = Batch<TrainingRow>()
                for row in rest.prefix(Int(rng.next() % 200) + 1) { batch.append(row, timestamp: row.label.time, watermark: Watermark.none) }
                rest = rest.dropFirst(batch.count)
                try sink.processBatch(&batch, into: &none, side: &side, context: context)
            }
            try sink.finish(into: &none, side: &side, context: context)
            files.append(AnswerSpillSink.path(directory: dir, subtask: s))
        }

        var byLabel: [Int64: TrainingRow] = [:]
        for list in answers { for r in list { byLabel[r.label.sequence] = r } }
        let expected = labels.map { byLabel[$0.sequence] ?? TrainingRow(label: $0, features: nil, featureEventTime: nil) }
        for parallelism in [1, 2, 3] {
            var rows: [TrainingRow] = []
            let counts = try TrainingSetMerge.merge(sorted, answerFiles: files, parallelism: parallelism, view: view,
                                                    into: .rows { rows.append($0) })
            #expect(rows == expected, "p\(parallelism)")
            #expect(counts.rows == labels.count && counts.missing == expected.filter { $0.features == nil }.count)
            let collected = TrainingSetMerge.Collected()
            let collectedCounts = try TrainingSetMerge.merge(sorted, answerFiles: files, parallelism: parallelism, view: view,
                                                             into: .collect(collected))
            #expect(collected.rows == expected, "p\(parallelism), in memory")
            #expect(collectedCounts.rows == counts.rows && collectedCounts.missing == counts.missing)
        }
        // A chunk that cannot be put together fails the whole merge (and leaves nothing half-built).
        let broken = dir + "/broken"
        try FileManager.default.copyItem(atPath: files[1], toPath: broken)
        try FileManager.default.copyItem(atPath: AnswerSpillSink.indexPath(files[1]), toPath: AnswerSpillSink.indexPath(broken))
        let size = try FileManager.default.attributesOfItem(atPath: broken)[.size] as! Int
        truncate(broken, off_t(size / 2))
        for parallelism in [1, 3] {
            #expect(throws: StreamKitError.self, "p\(parallelism)") {
                _ = try TrainingSetMerge.merge(sorted, answerFiles: [files[0], broken, files[2]], parallelism: parallelism, view: view,
                                               into: .collect(TrainingSetMerge.Collected()))
            }
        }
        for format in TrainingSetFormat.allCases {
            var texts: [Data] = []
            for parallelism in [1, 3] {
                let path = dir + "/out-\(format)-\(parallelism)"
                let writer = try TrainingSetWriter(path: path, view: view, format: format)
                let counts = try TrainingSetMerge.merge(sorted, answerFiles: files, parallelism: parallelism, view: view, into: .writer(writer))
                try writer.close()
                #expect(writer.rows == labels.count && counts.rows == labels.count && writer.missing == counts.missing)
                texts.append(try Data(contentsOf: URL(fileURLWithPath: path)))
            }
            let reference = dir + "/reference-\(format)"
            let writer = try TrainingSetWriter(path: reference, view: view, format: format)
            for row in expected { try writer.write(row) }
            try writer.close()
            #expect(texts[0] == texts[1], "\(format): the chunked text equals the streamed text")
            #expect(texts[0] == (try Data(contentsOf: URL(fileURLWithPath: reference))), "\(format)")
        }
    }
}
