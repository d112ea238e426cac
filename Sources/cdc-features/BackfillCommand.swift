import ArgumentParser
import Foundation
import StreamKit
import StreamKitBackfill
import StreamKitJobs
import StreamKitKafka

/// `cdc-features backfill <job> (--input FILE | --topic T [--from TS --to TS --stop-after TS]) --labels FILE|--labels-topic T --out FILE`
struct BackfillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backfill",
        abstract: "Write a point-in-time-correct training set: the job's own features over history, one row per label, as the online job would have served them at the label's time.",
        discussion: """
            Labels are NDJSON lines {"entity": "42", "label_time": <ms>, "label": <any JSON>}. Each output row is \
            (entity, label_time, label, <the view's features…>, feature_event_time); features are null (CSV: empty) when \
            nothing was servable at label_time or the newest servable row is older than the view's TTL. \
            Job parameters follow as --name value (or --param name=value), e.g. --allowed-lateness 10s --ttl 30m. \
            Progress with an ETA goes to stderr every --progress-interval. \
            Memory holds the job's state, not the input: labels are sorted in runs of --label-buffer spilled to \
            temporary files ($TMPDIR) and rows are written as they are produced.
            """)
    @Argument(help: "Job name (see `cdc-features jobs`).") var job: String
    @Option(help: "History: an NDJSON file of the job's input events.") var input: String?
    @Option(help: "History: a Kafka topic, read to its end.") var topic: String?
    @Option(help: "With --topic: start each partition at its first record whose Kafka timestamp is at or after this time (ms since the epoch or ISO-8601).") var from: String?
    @Option(help: "With --topic: keep events whose event time is at or before this time (ms since the epoch or ISO-8601).") var to: String?
    @Option(name: .customLong("stop-after"), help: "With --topic: end each partition at its first record whose Kafka timestamp is after this time (ms since the epoch or ISO-8601) instead of reading to the topic's end. Give it at least --to plus the capture's delay: a record written later than this is not read.") var stopAfter: String?
    @Option(help: "Labels: an NDJSON file.") var labels: String?
    @Option(name: .customLong("labels-topic"), help: "Labels: a Kafka topic (read to its end).") var labelsTopic: String?
    @Option(help: "Training set file (- for standard output).") var out: String
    @Option(help: "ndjson or csv.") var format: String = "ndjson"
    @Option(help: "Parallel splits (file byte ranges, Kafka readers) and keyed subtasks.") var parallelism: Int = 1
    @Option(name: .customLong("progress-interval"), help: "How often progress goes to stderr (0s: only at the end).") var progressInterval: Duration = .seconds(2)
    @Option(name: .customLong("label-buffer"), help: "Labels held in memory: as many as fit stay there, sorted, for the whole run; more are spilled to sorted runs on disk.") var labelBuffer: Int = 1 << 18
    @OptionGroup var kafkaOptions: KafkaOptions
    @Option(name: .customLong("param"), help: "A job parameter as name=value (repeatable).") var params: [String] = []
    @Argument(parsing: .allUnrecognized, help: "Job parameters as --name value.") var jobArguments: [String] = []

    func run() async throws {
        guard let example = ExampleJobs.named(job) else {
            throw ValidationError("unknown job '\(job)'; known: \(ExampleJobs.names.joined(separator: ", "))")
        }
        guard let format = TrainingSetFormat(rawValue: format) else { throw ValidationError("--format must be ndjson or csv") }
        guard parallelism >= 1 else { throw ValidationError("--parallelism must be at least 1") }
        guard labelBuffer >= 1 else { throw ValidationError("--label-buffer must be at least 1") }
        let arguments = try Run.arguments(params: params, passThrough: jobArguments)
        let instance: any ExampleJob
        do { instance = try example.init(arguments: JobArguments(arguments, parameters: example.parameters, job: example.name)) }
        catch let e as StreamKitError { throw ValidationError(e.description) }
        guard let definition = instance as? any BackfillableJob else {
            throw ValidationError("\(job) has no backfillable feature definition (its type does not conform to BackfillableJob)")
        }
        let labelSource: LabelSource
        switch (labels, labelsTopic) {
        case let (path?, nil): labelSource = .file(path)
        case let (nil, t?): labelSource = .topic(t)
        default: throw ValidationError("give exactly one of --labels FILE or --labels-topic TOPIC")
        }
        let historySource: HistorySource
        switch (input, topic) {
        case let (path?, nil):
            if from != nil || to != nil || stopAfter != nil { throw ValidationError("--from/--to/--stop-after apply to --topic") }
            historySource = .file(path)
        case let (nil, t?):
            historySource = .topic(t, from: try from.map { try Self.parseTime($0, flag: "--from") }, to: try to.map { try Self.parseTime($0, flag: "--to") },
                                   stopAfter: try stopAfter.map { try Self.parseTime($0, flag: "--stop-after") })
        default: throw ValidationError("give exactly one of --input FILE or --topic TOPIC")
        }
        try await definition.runBackfill(self, history: historySource, labels: labelSource, format: format)
    }

    enum LabelSource { case file(String), topic(String) }
    enum HistorySource { case file(String), topic(String, from: Int64?, to: Int64?, stopAfter: Int64?) }

}

extension BackfillableJob {
    /// The command's run with the job's concrete type (opens the existential).
    func runBackfill(_ command: BackfillCommand, history: BackfillCommand.HistorySource, labels: BackfillCommand.LabelSource,
                     format: TrainingSetFormat) async throws {
        let job = self, kafkaOptions = command.kafkaOptions, out = command.out, parallelism = command.parallelism
        let needsKafka: Bool
        if case .topic = history { needsKafka = true } else if case .topic = labels { needsKafka = true } else { needsKafka = false }
        let kafka = needsKafka ? try kafkaOptions.configuration() : KafkaConfiguration(bootstrapServers: kafkaOptions.address)
        let labelInput: Backfill<Self>.Labels
        switch labels {
        case let .file(p): labelInput = .file(p)
        case let .topic(t): labelInput = .kafka(topic: t, configuration: kafka)
        }
        let input: Backfill<Self>.Input
        switch history {
        case let .file(p): input = .file(p)
        case let .topic(t, from, to, stopAfter): input = .kafka(topic: t, configuration: kafka, from: from, to: to, stopAfter: stopAfter)
        }
        var backfill = Backfill(job: job, labels: labelInput)
        backfill.labelBufferSize = command.labelBuffer
        // Bad lines go to the file as they are found (created only when there is one).
        let deadLetterPath = out == "-" ? "backfill-dead-letters.ndjson" : out + ".dead-letters.ndjson"
        backfill.deadLetterPath = deadLetterPath
        unlink(deadLetterPath)   // a previous run's, next to the --out this run replaces
        let everyInterval = command.progressInterval > .zero
        if everyInterval { backfill.progressInterval = command.progressInterval }
        let result: Backfill<Self>.Result
        do {
            result = try await backfill.write(input: input, to: out, format: format, parallelism: parallelism) { p in
                if everyInterval && !p.finished { FileHandle.standardError.write((p.line + "\n").data(using: .utf8)!) }
            }
        } catch let e as StreamKitError { throw ValidationError(e.description) }
        var summary = "backfill: \(result.rowCount) rows (\(result.missing) with missing features) from \(result.events) events in "
            + String(format: "%.2f s (%.0f events/s)", result.seconds, result.eventsPerSecond)
        if result.deadLetterCount > 0 {
            summary += "; \(result.deadLetterCount) bad input lines in \(deadLetterPath)"
        }
        FileHandle.standardError.write((summary + "\n").data(using: .utf8)!)
    }

}

extension BackfillCommand {
    /// Milliseconds since the epoch, or an ISO-8601 date-time.
    static func parseTime(_ text: String, flag: String) throws -> Int64 {
        if let ms = Int64(text) { return ms }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: text) { return Int64((d.timeIntervalSince1970 * 1000).rounded()) }
        f.formatOptions = [.withInternetDateTime]
        if let d = f.date(from: text) { return Int64((d.timeIntervalSince1970 * 1000).rounded()) }
        throw ValidationError("\(flag) '\(text)' is neither ms since the epoch nor an ISO-8601 time (2023-11-14T22:13:20Z)")
    }
}
