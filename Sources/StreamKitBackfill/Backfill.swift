public import StreamKit
public import StreamKitKafka
public import StreamKitRedis
public import Logging
import Glibc

/// Point-in-time-correct training sets from a feature job's own definition.
///
/// `Backfill` runs the job's feature definition (``BackfillableJob/features(_:idleness:)``, the
/// code the online job runs) over history — a file read in parallel byte ranges, or a Kafka topic
/// read per partition — and joins its output with labels: one ``TrainingRow`` per label, with the
/// vector the online job would have served for the label's entity at the label's time (the rule
/// is ``PointInTimeJoin``'s), never anything computed from later events.
///
/// ```swift
/// let backfill = Backfill(job: try UserActivityFeatures(), labels: .file("labels.ndjson"))
/// let result = try await backfill.run(input: .file("events.ndjson"), parallelism: 2)
/// for row in result.rows { print(row.label.entity, row.label.time, row.features ?? []) }
/// // or straight to a file:
/// try await backfill.write(input: .file("events.ndjson"), to: "train.csv", format: .csv, parallelism: 2)
/// ```
///
/// Memory: the job's state (windows, the join's newest rows per entity) and fixed-size buffers —
/// neither the history nor the labels nor the output is held. Labels are sorted by time in
/// bounded memory (``ExternalLabelSort``: runs of ``labelBufferSize`` spilled to temporary files
/// and merged; labels that fit in that buffer stay there, sorted) and streamed by every join
/// subtask; each subtask writes its answers to a temporary file as it produces them, and a final merge (``TrainingSetMerge``) streams the
/// training set out in label-time order. ``run(input:parallelism:progress:)`` collects that
/// stream in memory (for small sets); ``write(input:to:format:parallelism:progress:)`` and
/// ``forEachRow(input:parallelism:progress:_:)`` do not.
public struct Backfill<J: BackfillableJob>: Sendable {
    /// Where the history comes from.
    public enum Input: Sendable {
        /// An NDJSON file of the job's input events (what it reads from Kafka, one per line).
        case file(String)
        /// A Kafka topic: each partition from its first record whose Kafka timestamp is at or
        /// after `from` (ms; nil: the beginning) to its end — or, with `stopAfter`, to its first
        /// record whose Kafka timestamp is after that (``KafkaSourceConfiguration/stopAfterTimestamp``)
        /// — keeping events whose event time is ≤ `to` (nil: all). `stopAfter` must allow for the
        /// delay between an event and its record's write (at least `to` plus the capture's lag).
        case kafka(topic: String, configuration: KafkaConfiguration, from: EventTime? = nil, to: EventTime? = nil,
                   stopAfter: EventTime? = nil)
    }

    /// Where the labels come from (see ``LabelDecoder`` for the line format).
    public enum Labels: Sendable {
        case file(String)
        case kafka(topic: String, configuration: KafkaConfiguration)
        case events([LabelEvent])
    }

    public let job: J
    public let labels: Labels
    /// How often `progress` is called. Default: 2 s.
    public var progressInterval: Duration = .seconds(2)
    public var logger: Logger = Logger(label: "streamkit.backfill", factory: { _ in SwiftLogNoOpLogHandler() })

    public init(job: J, labels: Labels) { self.job = job; self.labels = labels }

    /// Labels held in memory at most: when all of them fit, they stay there, sorted, for the whole
    /// run (the join and the merge read them there); more are spilled to sorted runs on disk.
    public var labelBufferSize: Int = 1 << 18
    /// Where temporary files go (sorted label runs, the join's answers); default `$TMPDIR` or `/tmp`.
    public var temporaryDirectory: String? = nil
    /// Labels per chunk of the final merge (at parallelism > 1, chunks are put together at once).
    public var mergeChunkSize: Int = SortedLabels.defaultChunkSize
    /// Where input lines that cannot be decoded (events and labels) are appended as they are
    /// found, as NDJSON with the reason (``DeadLetterLog``); nil: only the first
    /// ``deadLettersKept`` are kept (in ``Result/deadLetters``) and the rest counted.
    public var deadLetterPath: String? = nil
    /// Dead letters held in ``Result/deadLetters`` at most (the first ones; all go to ``deadLetterPath``).
    public var deadLettersKept: Int = 1000

    /// What a backfill produced.
    public struct Result: Sendable {
        /// The training rows in label-time order — only from ``Backfill/run(input:parallelism:progress:)``
        /// (empty from `write` and `forEachRow`, which stream them).
        public var rows: [TrainingRow]
        /// Rows produced (one per label) and those with missing features.
        public var rowCount: Int
        public var missing: Int
        /// Events of the history the job read.
        public var events: Int64
        /// Input lines that could not be decoded (events and labels), with the reason: the first
        /// ``Backfill/deadLettersKept`` of them (all of them are in ``Backfill/deadLetterPath``).
        public var deadLetters: [DeadLetter<String>]
        /// Input lines that could not be decoded, all of them.
        public var deadLetterCount: Int = 0
        /// Seconds of the whole backfill (sorting the labels, the history, the training set).
        public var seconds: Double
        /// Seconds of the history pass alone (the job and the join).
        public var historySeconds: Double
        /// Seconds spent reading and sorting the labels before the history (the rest of
        /// ``seconds`` after the history is the merge into the training set).
        public var labelSeconds: Double = 0
        /// Seconds spent merging the labels with the join's answers into the training set (after
        /// the history; at parallelism > 1 in chunks at once).
        public var mergeSeconds: Double = 0
        /// Sorted label runs spilled to disk (0: the labels fitted in ``Backfill/labelBufferSize``)
        /// and the most labels held in memory at once.
        public var labelRuns: Int
        public var peakLabelsInMemory: Int
        public var eventsPerSecond: Double { seconds > 0 ? Double(events) / seconds : 0 }
    }

    /// Runs the backfill with `parallelism` splits (byte ranges of a file, Kafka readers) and
    /// keyed subtasks and returns the rows in memory; `progress` is called every
    /// ``progressInterval`` while the history is read and once at the end (``BackfillProgress/finished``).
    public func run(input: Input, parallelism: Int = 1,
                    progress: (@Sendable (BackfillProgress) -> Void)? = nil) async throws -> Result {
        let rows = TrainingSetMerge.Collected()
        var result = try await produce(input: input, parallelism: parallelism, progress: progress, into: .collect(rows))
        result.rows = rows.rows
        return result
    }

    /// Runs the backfill and writes the training set to `path` (`-`: standard output, see
    /// ``TrainingSetFormat``) as it is produced.
    @discardableResult
    public func write(input: Input, to path: String, format: TrainingSetFormat = .ndjson, parallelism: Int = 1,
                      progress: (@Sendable (BackfillProgress) -> Void)? = nil) async throws -> Result {
        let writer = try TrainingSetWriter(path: path, view: job.featureView, format: format)
        let result = try await produce(input: input, parallelism: parallelism, progress: progress, into: .writer(writer))
        try writer.close()
        return result
    }

    /// Writes rows to `path` (`-`: standard output).
    public static func write(_ rows: [TrainingRow], view: FeatureView, to path: String, format: TrainingSetFormat) throws {
        let writer = try TrainingSetWriter(path: path, view: view, format: format)
        for row in rows { try writer.write(row) }
        try writer.close()
    }

    /// Runs the backfill and hands each training row to `body` in label-time order, holding
    /// none of them (see the memory note on ``Backfill``).
    public func forEachRow(input: Input, parallelism: Int = 1,
                           progress: (@Sendable (BackfillProgress) -> Void)? = nil,
                           _ body: (TrainingRow) throws -> Void) async throws -> Result {
        try await withoutActuallyEscaping(body) { body in
            try await produce(input: input, parallelism: parallelism, progress: progress, into: .rows(body))
        }
    }

    /// The backfill, with the training set going to `destination`.
    func produce(input: Input, parallelism: Int, progress: (@Sendable (BackfillProgress) -> Void)?,
                 into destination: TrainingSetMerge.Destination) async throws -> Result {
        let started = MonotonicClock.nanos()
        let directory = try Self.makeTemporaryDirectory(temporaryDirectory)
        defer { Self.removeTemporaryDirectory(directory) }
        let deadLetters = DeadLetterLog(path: deadLetterPath, keep: deadLettersKept)
        let sorter = ExternalLabelSort(directory: directory, runSize: labelBufferSize)
        sorter.parallelism = parallelism
        try loadLabels(into: sorter, deadLetters: deadLetters)
        let sortedLabels = try sorter.finish(chunkSize: mergeChunkSize)
        let view = job.featureView
        let job = self.job
        var fileProgress: ReadProgress? = nil
        var kafkaMetrics: KafkaSourceMetrics? = nil

        let events: @Sendable (StreamEnvironment) throws -> DataStream<J.Decoder.Output>
        switch input {
        case let .file(path):
            // Interleaved blocks, no reader more than 2 rounds ahead: the splits stay close in event
            // time, so the job's state does not grow with the file (see FileRangeSource).
            let source = try FileRangeSource(path: path, decoder: try job.eventDecoder(), splits: parallelism, maxAheadRounds: 2)
            fileProgress = source.progress
            events = { env in
                let raw = job.history(env, file: source)
                raw.sideOutput(DeadLetter<String>.self).sink("history-dead-letters") { DeadLetterLogSink(deadLetters) }
                return raw
            }
        case let .kafka(topic, configuration, from, to, stopAfter):
            var c = KafkaSourceConfiguration(topics: [topic], groupID: "streamkit-backfill-\(getpid())-\(UInt32.random(in: 0...UInt32.max))",
                                             startFrom: from.map { .timestamp($0) } ?? .earliest)
            c.bounded = true
            c.stopAfterTimestamp = stopAfter
            c.parallelism = parallelism
            let metrics = KafkaSourceMetrics()
            kafkaMetrics = metrics
            let source = KafkaSource(kafka: configuration, c, decoder: try job.eventDecoder(), metrics: metrics)
            events = { env in
                let raw = job.history(env, kafka: source)
                raw.sideOutput(DeadLetter<String>.self).sink("history-dead-letters") { DeadLetterLogSink(deadLetters) }
                guard let to else { return raw }
                return raw.filter("until") { job.eventTime($0) <= to }
            }
        }

        let graph = Job("backfill-\(view.name)") { env in
            job.features(try events(env), idleness: nil)
                .transform("point-in-time-join") { PointInTimeJoin(labels: sortedLabels, view: view) }
                .sink("training-row-spill") { AnswerSpillSink(directory: directory, labels: sortedLabels) }
        }
        var options = Job.RunOptions(parallelism: parallelism)
        options.logger = logger
        let historyStarted = MonotonicClock.nanos()
        let labelSeconds = Double(historyStarted &- started) / 1e9
        let running = try graph.start(options)
        let snapshot: @Sendable () -> BackfillProgress = { [fileProgress, kafkaMetrics] in
            let seconds = Double(MonotonicClock.nanos() &- started) / 1e9
            let read = Int64(running.metrics.sourceRecords.current)
            var fraction: Double? = nil
            if let p = fileProgress, p.total > 0 { fraction = Double(p.completed) / Double(p.total) }
            if let m = kafkaMetrics {
                let lags = m.partitionLags
                let end = lags.reduce(Int64(0)) { $0 + $1.highWatermark }
                if end > 0 { fraction = 1 - Double(lags.reduce(Int64(0)) { $0 + $1.lag }) / Double(end) }
            }
            return BackfillProgress(events: read, fraction: fraction, seconds: seconds)
        }
        let reporter: Task<Void, Never>? = progress.map { report in
            let interval = progressInterval
            return Task { @Sendable in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    if Task.isCancelled || running.isFinished { return }
                    report(snapshot())
                }
            }
        }
        let result: JobResult
        do { result = try await running.result() } catch { reporter?.cancel(); throw error }
        reporter?.cancel()
        _ = await reporter?.value
        let historySeconds = Double(MonotonicClock.nanos() &- historyStarted) / 1e9

        // The training set: labels and every subtask's answers, merged in label order.
        let files = (0..<parallelism).map { AnswerSpillSink.path(directory: directory, subtask: $0) }.filter { access($0, F_OK) == 0 }
        let mergeStarted = MonotonicClock.nanos()
        let (count, missing) = try TrainingSetMerge.merge(sortedLabels, answerFiles: files, parallelism: parallelism, view: view, into: destination)
        let mergeSeconds = Double(MonotonicClock.nanos() &- mergeStarted) / 1e9
        try deadLetters.close()
        let read = Int64(result.metrics.sourceRecords.current)
        let seconds = Double(MonotonicClock.nanos() &- started) / 1e9
        if let progress {
            var last = snapshot()
            last.fraction = 1; last.events = read; last.seconds = seconds; last.finished = true
            progress(last)
        }
        return Result(rows: [], rowCount: count, missing: missing, events: read, deadLetters: deadLetters.kept,
                      deadLetterCount: deadLetters.count, seconds: seconds, historySeconds: historySeconds, labelSeconds: labelSeconds,
                      mergeSeconds: mergeSeconds, labelRuns: sortedLabels.runs, peakLabelsInMemory: sorter.peakBuffered)
    }

    static func makeTemporaryDirectory(_ parent: String?) throws -> String {
        let base = parent ?? getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array((base + "/streamkit-backfill-XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw StreamKitError(.io, "cannot create a temporary directory in \(base): \(String(cString: strerror(errno)))")
        }
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func removeTemporaryDirectory(_ path: String) {
        guard let dir = opendir(path) else { return }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { unlink(path + "/" + name) }
        }
        closedir(dir)
        rmdir(path)
    }

    /// Reads the labels into `sorter`, with bad lines dead-lettered.
    func loadLabels(into sorter: ExternalLabelSort, deadLetters: DeadLetterLog) throws {
        switch self.labels {
        case let .events(list):
            for l in list { try sorter.add(l) }
        case let .file(path):
            let source = try FileRangeSource(path: path, decoder: LabelDecoder(), splits: 1)
            var reader = try source.makeReader(subtask: 0)
            try reader.open(context: SourceContext(subtask: 0, parallelism: 1, metrics: OperatorMetrics(name: "labels"), jobMetrics: JobMetrics()))
            defer { reader.close() }
            var batch = Batch<LabelEvent>()
            var bad: [DeadLetter<String>] = []
            while true {
                let status = try reader.poll(into: &batch, deadLetters: &bad, maxRecords: 4096)
                for l in batch.values { try sorter.add(l) }
                batch.removeAll()
                try deadLetters.append(contentsOf: bad)
                bad.removeAll(keepingCapacity: true)
                if status == .finished { break }
            }
        case let .kafka(topic, configuration):
            var c = KafkaSourceConfiguration(topics: [topic], groupID: "streamkit-backfill-labels-\(getpid())-\(UInt32.random(in: 0...UInt32.max))",
                                             startFrom: .earliest)
            c.bounded = true
            let labelSource = KafkaSource(kafka: configuration, c, decoder: LabelDecoder())
            let read = Job("backfill-labels") { env in
                let raw = env.source(labelSource, name: "labels")
                raw.sideOutput(DeadLetter<String>.self).sink("label-dead-letters") { DeadLetterLogSink(deadLetters) }
                raw.sink("label-sort") { LabelSortSink(sorter) }
            }
            _ = try read.start(Job.RunOptions(parallelism: 1)).waitUntilFinished()
        }
    }
}
