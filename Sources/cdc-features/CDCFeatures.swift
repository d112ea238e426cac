import ArgumentParser
import Foundation
import StreamKit
import StreamKitJobs
import StreamKitJSON
import StreamKitDebezium
import StreamKitKafka
import StreamKitRedis
import StreamKitWorkload
import StreamKitQuery

@main
struct CDCFeatures: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cdc-features",
        abstract: "StreamKit: real-time ML features from change data capture.",
        subcommands: [Generate.self, Window.self, Run.self, Jobs.self, Pipeline.self, Features.self, Kafka.self, Capture.self, Serve.self, Bench.self, Models.self, BackfillCommand.self])
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write the standard workload (shared/WORKLOAD.md) as NDJSON, byte-exact.")
    @Option(help: "Number of events.") var events: Int
    @Option(help: "Output file.") var out: String
    @Option(help: "PRNG seed.") var seed: UInt64 = 42
    @Option(help: "standard, or fraud (transactions and delayed chargebacks with a concept drift; --events counts transactions).") var workload: String = "standard"

    func run() throws {
        let start = MonotonicClock.nanos()
        if workload == "fraud" {
            let w = try FraudWorkload.writeFile(path: out, configuration: FraudWorkload.Configuration(transactions: events, seed: seed))
            let s = Double(MonotonicClock.nanos() - start) / 1e9
            FileHandle.standardError.write("wrote \(w.transactions) transactions and \(w.chargebacks) chargebacks, \(w.bytes) bytes to \(out) in \(String(format: "%.2f", s)) s\n".data(using: .utf8)!)
            return
        }
        guard workload == "standard" else { throw ValidationError("--workload must be standard or fraud") }
        let bytes = try WorkloadGenerator.writeFile(path: out, events: events, seed: seed)
        let s = Double(MonotonicClock.nanos() - start) / 1e9
        FileHandle.standardError.write("wrote \(events) events, \(bytes) bytes to \(out) in \(String(format: "%.2f", s)) s\n".data(using: .utf8)!)
    }
}

struct Window: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ad-hoc keyed windowed aggregation over an NDJSON file of Debezium events (or plain JSON rows).",
        discussion: "SIGTERM/SIGINT stop it gracefully (a final checkpoint when checkpointing is on). \(durationHelp)")
    @Option(help: "NDJSON input file (- for stdin).") var input: String
    @Option(help: "Dotted path of the key field.") var key: String
    @Option(help: "Dotted path of the event-time field (ms since the epoch).") var time: String
    @Option(help: "hop:SIZE:SLIDE, tumble:SIZE, session:GAP or count:N (e.g. hop:5m:1m).") var window: String
    @Option(help: "Aggregates: count,sum:PATH,avg:PATH,min:PATH,max:PATH.") var agg: String
    @Option(name: .customLong("watermark-delay"), help: "Bounded out-of-orderness.") var watermarkDelay: Duration = .seconds(2)
    @Option(name: .customLong("allowed-lateness"), help: "Allowed lateness (late updates re-fire windows).") var allowedLateness: Duration = .zero
    @Option(help: "Idleness timeout of the source (e.g. 30s).") var idleness: Duration?
    @Option(name: .customLong("key-type"), help: "auto, int or string (int keys are faster; auto looks at the first rows).") var keyType: String = "auto"
    @Option(help: "Subtasks of the window operator.") var parallelism: Int = 1
    @Option(help: "Output NDJSON file (- for stdout).") var out: String
    @Option(help: "Write records later than allowed to this file.") var late: String?
    @Option(name: .customLong("dead-letters"), help: "Write malformed lines (with the reason) to this file.") var deadLetters: String?
    @Option(name: .customLong("checkpoint-dir"), help: "Checkpoint directory (enables checkpoints).") var checkpointDir: String?
    @Option(name: .customLong("checkpoint-interval"), help: "Time between checkpoints.") var checkpointInterval: Duration = .seconds(10)
    @Flag(help: "Resume from the latest complete checkpoint in --checkpoint-dir.") var restore = false
    @Flag(help: "Print the job's metrics as one JSON object on stderr at the end.") var metrics = false

    func run() async throws {
        var q = try WindowQuery(input: .file(input), keyPath: key, timePath: time, window: try WindowAssigner.parse(window), aggregates: agg)
        q.watermarkDelay = watermarkDelay
        q.allowedLateness = allowedLateness
        q.idleness = idleness
        guard let kt = WindowQuery.KeyType(rawValue: keyType) else { throw ValidationError("--key-type must be auto, int or string") }
        q.keyType = kt
        let job = try q.job(output: .file(out), late: late, deadLetters: deadLetters)
        var options = Job.RunOptions(parallelism: parallelism)
        if let dir = checkpointDir {
            options.checkpoints = CheckpointConfiguration(directory: dir, interval: checkpointInterval)
            options.restore = restore
        } else if restore {
            throw ValidationError("--restore needs --checkpoint-dir")
        }
        let result = try await runJobService(JobService(job, options: options))
        let m = result.metrics
        var summary = "read \(m.sourceRecords.current) records in \(String(format: "%.2f", result.seconds)) s"
        summary += ", late \(m.lateRecords), malformed \(m.droppedRecords)"
        if let r = result.restoredCheckpoint { summary += ", resumed from checkpoint \(r)" }
        FileHandle.standardError.write((summary + "\n").data(using: .utf8)!)
        if metrics { FileHandle.standardError.write((metricsJSON(result) + "\n").data(using: .utf8)!) }
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmarks (use a release build).", subcommands: [BenchWindow.self, BenchPipeline.self, BenchPricing.self, BenchCapture.self, BenchEncoder.self, BenchDecoder.self, BenchModel.self, BenchBackfill.self])
}

struct BenchWindow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "window",
        abstract: "The standard workload: keyed hopping (5m/1m) or tumbling (1m) windows with count, sum, avg, max of after.amount.")
    @Option(help: "Number of events.") var events: Int
    @Option(help: "hop or tumble.") var window: String = "hop"
    @Option(help: "Subtasks of the window operator.") var parallelism: Int = 1
    @Option(help: "Pre-generated NDJSON file (default: generated into data/ first, not timed).") var input: String?
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        let assigner: WindowAssigner
        switch window {
        case "hop": assigner = .sliding(size: .minutes(5), slide: .minutes(1))
        case "tumble": assigner = .tumbling(size: .minutes(1))
        default: throw ValidationError("--window must be hop or tumble")
        }
        var path = input
        if path == nil {
            let dir = "data"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let p = "\(dir)/events_\(events).jsonl"
            if !FileManager.default.fileExists(atPath: p) { try WorkloadGenerator.writeFile(path: p, events: events) }
            path = p
        }
        // Warm the page cache (the workload's measurement rule).
        if let fh = FileHandle(forReadingAtPath: path!) {
            while let d = try fh.read(upToCount: 16 << 20), !d.isEmpty {}
            try fh.close()
        }
        let q = try WindowQuery(input: .file(path!), keyPath: "after.user_id", timePath: "after.ts_ms", window: assigner,
                                aggregates: "count,sum:after.amount,avg:after.amount,max:after.amount")
        let sums = WindowChecksums()
        let job = try q.job(output: .checksums(sums))
        let result = try job.start(Job.RunOptions(parallelism: parallelism)).waitUntilFinished()
        let c = sums.value
        let lat = result.metrics.endToEndLatency
        let read = Int(result.metrics.sourceRecords.current)
        let fields: [(String, String)] = [
            ("events", "\(read)"),
            ("seconds", String(format: "%.3f", result.seconds)),
            ("events_per_s", String(format: "%.0f", Double(read) / result.seconds)),
            ("out_rows", "\(c.rows)"),
            ("sum_count", "\(c.count)"),
            ("sum_sum", String(format: "%.2f", c.sum)),
            ("sum_avg", String(format: "%.4f", c.avg)),
            ("sum_max", String(format: "%.2f", c.max)),
            ("p50_ms", String(format: "%.3f", lat.percentileMillis(50))),
            ("p99_ms", String(format: "%.3f", lat.percentileMillis(99))),
            ("peak_rss_mb", String(format: "%.1f", ProcessStats.peakRSSMegabytes() ?? 0)),
            ("window", "\"\(window)\""),
            ("parallelism", "\(parallelism)"),
            ("late", "\(result.metrics.lateRecords)"),
        ]
        printFields(fields, json: json)
    }
}

/// The job's metrics as one JSON object (operators, channels, latency, checkpoints).
func metricsJSON(_ result: JobResult) -> String {
    let m = result.metrics
    var w = JSONWriter(capacity: 4096)
    w.beginObject()
    w.field("seconds", result.seconds)
    w.field("source_records", Int64(m.sourceRecords.current))
    w.field("events_per_s", Double(m.sourceRecords.current) / max(result.seconds, 1e-9))
    w.field("late_records", Int64(m.lateRecords))
    w.field("dropped_records", Int64(m.droppedRecords))
    w.field("checkpoints_completed", Int64(m.checkpointsCompleted.current))
    w.field("backpressure_pauses", Int64(m.backpressurePauses))
    w.field("backpressured_ms", Double(m.backpressuredNanos) / 1e6)
    w.field("latency_p50_ms", m.endToEndLatency.percentileMillis(50))
    w.field("latency_p95_ms", m.endToEndLatency.percentileMillis(95))
    w.field("latency_p99_ms", m.endToEndLatency.percentileMillis(99))
    w.key("operators"); w.beginArray()
    for op in m.allOperators {
        w.beginObject()
        w.field("name", op.name)
        w.field("records_in", Int64(op.recordsIn.current))
        w.field("records_out", Int64(op.recordsOut.current))
        w.field("late", Int64(op.lateRecords.current))
        w.field("dropped", Int64(op.droppedRecords.current))
        if op.watermark.current != Int64.min { w.field("watermark", op.watermark.current) }
        w.endObject()
    }
    w.endArray()
    w.key("channels"); w.beginArray()
    for (name, c) in m.allChannels {
        w.beginObject()
        w.field("name", name)
        w.field("peak_batches", c.peakOccupancy.current)
        w.field("pauses", Int64(c.pauses.current))
        w.field("backpressured_ms", Double(c.backpressuredNanos.current) / 1e6)
        w.endObject()
    }
    w.endArray()
    w.endObject()
    return String(decoding: w.bytes, as: UTF8.self)
}

struct Jobs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the example jobs `run` knows, with their parameters.")
    func run() throws {
        for job in ExampleJobs.all {
            print("\(job.name)\t\(job.summary)")
            for p in job.parameters {
                print("    --\(p.name)\t\(p.help)" + (p.defaultValue.map { " (default: \($0))" } ?? ""))
            }
        }
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an example job (see `cdc-features jobs`) with source/sink overrides.",
        discussion: "Job parameters follow as --name value (or --param name=value), e.g. `run drift-monitor --input F --out R --window-size 5m`. SIGTERM/SIGINT stop it gracefully (a final checkpoint when checkpointing is on). \(durationHelp)")
    @Argument(help: "Job name.") var job: String
    @Option(help: "Read an NDJSON file of Debezium change events.") var input: String?
    @Option(help: "Read a Kafka topic of Debezium change events.") var topic: String?
    @Option(help: "Write NDJSON to this file.") var out: String?
    @OptionGroup(title: "Redis (features go to Redis unless --out is given)") var redisOptions: RedisOptions
    @OptionGroup var kafkaOptions: KafkaOptions
    @Option(help: "Consumer group (default: the job name).") var group: String?
    @Option(help: "earliest, latest or committed.") var from: String = "committed"
    @Flag(help: "Stop at the end of the topic.") var bounded = false
    @Option(help: "Subtasks of keyed operators.") var parallelism: Int = 1
    @Option(name: .customLong("checkpoint-dir"), help: "Checkpoint directory (enables checkpoints).") var checkpointDir: String?
    @Option(name: .customLong("checkpoint-interval"), help: "Time between checkpoints.") var checkpointInterval: Duration = .seconds(10)
    @Flag(help: "Resume from the latest complete checkpoint.") var restore = false
    @Option(name: .customLong("restart-strategy"), help: ArgumentHelp(restartStrategyHelp, valueName: "strategy"),
            transform: parseRestartStrategy) var restartStrategy: RestartStrategy = .longRunningDefault
    @Flag(help: "Print metrics as JSON on stderr at the end.") var metrics = false
    @OptionGroup var observability: ObservabilityOptions
    @Option(name: .customLong("param"), help: "A job parameter as name=value (repeatable).") var params: [String] = []
    @Argument(parsing: .allUnrecognized, help: "Job parameters as --name value.") var jobArguments: [String] = []

    func run() async throws {
        let obs = try observability.start(command: "run")
        defer { obs.stop() }
        guard let example = ExampleJobs.named(job) else {
            throw ValidationError("unknown job '\(job)'; known: \(ExampleJobs.names.joined(separator: ", "))")
        }
        let inputSpec: JobContext.Input
        switch (input, topic) {
        case let (path?, nil): inputSpec = .file(path)
        case let (nil, t?): inputSpec = .kafka(topic: t)
        default: throw ValidationError("give exactly one of --input FILE or --topic TOPIC")
        }
        let arguments = try Self.arguments(params: params, passThrough: jobArguments)
        let outputSpec: JobContext.Output = out.map { .file($0) } ?? .redis
        let usesKafka = topic != nil || arguments.keys.contains { $0.hasSuffix("-topic") }
        var kafka = usesKafka ? try kafkaOptions.configuration() : try kafkaConfigurationUnchecked(kafkaOptions.address)
        kafka.logger = obs.logger
        var redisConfig = try redisOptions.configuration()
        redisConfig.logger = obs.logger
        var context = JobContext(input: inputSpec, output: outputSpec, kafka: kafka, redis: redisConfig, groupID: group ?? job)
        switch from {
        case "earliest": context.startFrom = .earliest
        case "latest": context.startFrom = .latest
        case "committed": context.startFrom = .committed
        default: throw ValidationError("--from must be earliest, latest or committed")
        }
        context.bounded = bounded
        context.logger = obs.logger
        let j: Job
        do {
            j = try ExampleJobs.make(example.name, arguments: arguments, context: context)
        } catch let e as StreamKitError {
            throw ValidationError(e.description)
        }
        var options = Job.RunOptions(parallelism: parallelism)
        options.logger = obs.logger
        if let dir = checkpointDir {
            options.checkpoints = CheckpointConfiguration(directory: dir, interval: checkpointInterval)
            options.restore = restore
        }
        options.restartStrategy = restartStrategy
        let result = try await runJobService(JobService(j, options: options), logger: obs.logger)
        FileHandle.standardError.write("\(job): read \(result.metrics.sourceRecords.current) events in \(String(format: "%.2f", result.seconds)) s, late \(result.metrics.lateRecords), malformed \(result.metrics.droppedRecords)\n".data(using: .utf8)!)
        if metrics { FileHandle.standardError.write((metricsJSON(result) + "\n").data(using: .utf8)!) }
    }

    /// `--param name=value` and pass-through `--name value` / `--name=value` / `--flag` as one dictionary.
    static func arguments(params: [String], passThrough: [String]) throws -> [String: String] {
        var result: [String: String] = [:]
        for p in params {
            let kv = p.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard kv.count == 2, !kv[0].isEmpty else { throw ValidationError("--param takes name=value, got '\(p)'") }
            result[String(kv[0])] = String(kv[1])
        }
        var i = 0
        while i < passThrough.count {
            let token = passThrough[i]
            guard token.hasPrefix("--"), token.count > 2 else { throw ValidationError("unexpected argument '\(token)' (job parameters are --name value)") }
            let body = token.dropFirst(2)
            // A repeated parameter (e.g. --route) keeps every value, one per line.
            func add(_ name: String, _ value: String) { result[name] = result[name].map { $0 + "\n" + value } ?? value }
            if let eq = body.firstIndex(of: "=") {
                add(String(body[..<eq]), String(body[body.index(after: eq)...]))
                i += 1
            } else if i + 1 < passThrough.count, !passThrough[i + 1].hasPrefix("--") {
                add(String(body), passThrough[i + 1])
                i += 2
            } else {
                result[String(body)] = ""      // a flag
                i += 1
            }
        }
        return result
    }
}

/// Prints benchmark results: one JSON object (values are already JSON literals) or `key: value` lines.
func printFields(_ fields: [(String, String)], json: Bool) {
    if json { print("{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}") }
    else { for (k, v) in fields { print("\(k): \(v)") } }
}
