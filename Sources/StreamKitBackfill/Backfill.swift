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
/// Memory: the job's state (windows, the join's newest row per labelled entity) and the labels —
/// the history itself streams. Labels are read first, sorted by time and shared by the join's
/// subtasks; the rows are returned (and written) in label-time order.
public struct Backfill<J: BackfillableJob>: Sendable {
    /// Where the history comes from.
    public enum Input: Sendable {
        /// An NDJSON file of the job's input events (what it reads from Kafka, one per line).
        case file(String)
        /// A Kafka topic, read to its end: each partition from its first record whose Kafka
        /// timestamp is at or after `from` (ms; nil: the beginning), keeping events whose event
        /// time is ≤ `to` (nil: all).
        case kafka(topic: String, configuration: KafkaConfiguration, from: EventTime? = nil, to: EventTime? = nil)
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

    /// The training rows of a backfill, in label-time order.
    public struct Result: Sendable {
        public var rows: [TrainingRow]
        /// Events of the history the job read.
        public var events: Int64
        /// Input lines that could not be decoded (events and labels), with the reason.
        public var deadLetters: [DeadLetter<String>]
        public var seconds: Double
        public var eventsPerSecond: Double { seconds > 0 ? Double(events) / seconds : 0 }
    }

    /// Runs the backfill with `parallelism` splits (byte ranges of a file, Kafka readers) and
    /// keyed subtasks; `progress` is called every ``progressInterval`` on a background task.
    public func run(input: Input, parallelism: Int = 1,
                    progress: (@Sendable (BackfillProgress) -> Void)? = nil) async throws -> Result {
        var deadLetters: [DeadLetter<String>] = []
        let labelEvents = try loadLabels(deadLetters: &deadLetters)
        let view = job.featureView
        let job = self.job
        let rows = CollectedOutput<TrainingRow>()
        let badInput = CollectedOutput<DeadLetter<String>>()
        var fileProgress: ReadProgress? = nil
        var kafkaMetrics: KafkaSourceMetrics? = nil

        let events: @Sendable (StreamEnvironment) throws -> DataStream<J.Decoder.Output>
        switch input {
        case let .file(path):
            let source = try FileRangeSource(path: path, decoder: try job.eventDecoder(), splits: parallelism)
            fileProgress = source.progress
            events = { env in
                let raw = env.source(source, name: "history")
                raw.sideOutput(DeadLetter<String>.self).collect(into: badInput, name: "history-dead-letters")
                return raw
            }
        case let .kafka(topic, configuration, from, to):
            var c = KafkaSourceConfiguration(topics: [topic], groupID: "streamkit-backfill-\(getpid())-\(UInt32.random(in: 0...UInt32.max))",
                                             startFrom: from.map { .timestamp($0) } ?? .earliest)
            c.bounded = true
            c.parallelism = parallelism
            let metrics = KafkaSourceMetrics()
            kafkaMetrics = metrics
            let source = KafkaSource(kafka: configuration, c, decoder: try job.eventDecoder(), metrics: metrics)
            events = { env in
                let raw = env.source(source, name: "history")
                raw.sideOutput(DeadLetter<String>.self).collect(into: badInput, name: "history-dead-letters")
                guard let to else { return raw }
                return raw.filter("until") { job.eventTime($0) <= to }
            }
        }

        let index = LabelIndex(labelEvents)
        let graph = Job("backfill-\(view.name)") { env in
            job.features(try events(env), idleness: nil)
                .transform("point-in-time-join") { PointInTimeJoin(labels: index, view: view) }
                .collect(into: rows, name: "training-rows")
        }
        var options = Job.RunOptions(parallelism: parallelism)
        options.logger = logger
        let started = MonotonicClock.nanos()
        let running = try graph.start(options)
        let reporter: Task<Void, Never>? = progress.map { report in
            let interval = progressInterval
            let fileProgress = fileProgress, kafkaMetrics = kafkaMetrics
            return Task { @Sendable in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    if Task.isCancelled || running.isFinished { return }
                    let seconds = Double(MonotonicClock.nanos() &- started) / 1e9
                    let read = Int64(running.metrics.sourceRecords.current)
                    var fraction: Double? = nil
                    if let p = fileProgress, p.total > 0 { fraction = Double(p.completed) / Double(p.total) }
                    if let m = kafkaMetrics {
                        let lags = m.partitionLags
                        let end = lags.reduce(Int64(0)) { $0 + $1.highWatermark }
                        if end > 0 { fraction = 1 - Double(lags.reduce(Int64(0)) { $0 + $1.lag }) / Double(end) }
                    }
                    report(BackfillProgress(events: read, fraction: fraction, seconds: seconds))
                }
            }
        }
        defer { reporter?.cancel() }
        let result = try await running.result()
        let seconds = Double(MonotonicClock.nanos() &- started) / 1e9
        // Labels of entities that never produced a row were not answered by the join: missing.
        var answered = [Bool](repeating: false, count: labelEvents.count)
        var all = rows.values
        for r in all { answered[Int(r.label.sequence)] = true }
        for (i, l) in labelEvents.enumerated() where !answered[i] { all.append(TrainingRow(label: l, features: nil, featureEventTime: nil)) }
        let sorted = all.sorted(by: TrainingRow.precedes)
        deadLetters += badInput.values
        let read = Int64(result.metrics.sourceRecords.current)
        return Result(rows: sorted, events: read, deadLetters: deadLetters, seconds: seconds)
    }

    /// Runs the backfill and writes the training set to `path` (see ``TrainingSetFormat``).
    @discardableResult
    public func write(input: Input, to path: String, format: TrainingSetFormat = .ndjson, parallelism: Int = 1,
                      progress: (@Sendable (BackfillProgress) -> Void)? = nil) async throws -> Result {
        let result = try await run(input: input, parallelism: parallelism, progress: progress)
        try Self.write(result.rows, view: job.featureView, to: path, format: format)
        return result
    }

    /// Writes rows to `path` (`-`: standard output).
    public static func write(_ rows: [TrainingRow], view: FeatureView, to path: String, format: TrainingSetFormat) throws {
        let fd = path == "-" ? 1 : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw StreamKitError(.io, "cannot open \(path) for writing: \(String(cString: strerror(errno)))") }
        defer { if fd != 1 { close(fd) } }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        func flush() throws {
            var done = 0
            while done < buffer.count {
                let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
                if n < 0 { if errno == EINTR { continue }; throw StreamKitError(.io, "write \(path): \(String(cString: strerror(errno)))") }
                done += n
            }
            buffer.removeAll(keepingCapacity: true)
        }
        if let header = format.header(view: view) { buffer += Array(header.utf8); buffer.append(0x0A) }
        for row in rows {
            buffer += Array(format.line(row, view: view).utf8); buffer.append(0x0A)
            if buffer.count >= 1 << 20 { try flush() }
        }
        try flush()
    }

    /// The labels, sorted by time (then entity, then input order), with bad lines dead-lettered.
    func loadLabels(deadLetters: inout [DeadLetter<String>]) throws -> [LabelEvent] {
        var labels: [LabelEvent]
        switch self.labels {
        case let .events(list):
            labels = list
        case let .file(path):
            let source = try FileRangeSource(path: path, decoder: LabelDecoder(), splits: 1)
            var reader = try source.makeReader(subtask: 0)
            try reader.open(context: SourceContext(subtask: 0, parallelism: 1, metrics: OperatorMetrics(name: "labels"), jobMetrics: JobMetrics()))
            defer { reader.close() }
            var batch = Batch<LabelEvent>()
            labels = []
            while true {
                let status = try reader.poll(into: &batch, deadLetters: &deadLetters, maxRecords: 65_536)
                labels += batch.values
                batch.removeAll()
                if status == .finished { break }
            }
        case let .kafka(topic, configuration):
            var c = KafkaSourceConfiguration(topics: [topic], groupID: "streamkit-backfill-labels-\(getpid())-\(UInt32.random(in: 0...UInt32.max))",
                                             startFrom: .earliest)
            c.bounded = true
            let labelSource = KafkaSource(kafka: configuration, c, decoder: LabelDecoder())
            let collected = CollectedOutput<LabelEvent>()
            let bad = CollectedOutput<DeadLetter<String>>()
            let read = Job("backfill-labels") { env in
                let raw = env.source(labelSource, name: "labels")
                raw.sideOutput(DeadLetter<String>.self).collect(into: bad, name: "label-dead-letters")
                raw.collect(into: collected, name: "labels")
            }
            _ = try read.start(Job.RunOptions(parallelism: 1)).waitUntilFinished()
            labels = collected.values
            deadLetters += bad.values
        }
        labels.sort { a, b in
            if a.time != b.time { return a.time < b.time }
            if a.entity != b.entity { return a.entity < b.entity }
            if a.sequence != b.sequence { return a.sequence < b.sequence }
            return a.label < b.label
        }
        for i in labels.indices { labels[i].sequence = Int64(i) }     // identifies a label in the join
        return labels
    }
}
