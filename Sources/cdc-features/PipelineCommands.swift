import ArgumentParser
import Foundation
import StreamKit
import StreamKitJobs
import FeatureJobs
import StreamKitDebezium
import StreamKitKafka
import StreamKitRedis
import StreamKitWorkload
import Logging
import ServiceLifecycle

func stderr(_ text: String) { FileHandle.standardError.write((text + "\n").data(using: .utf8)!) }

struct Kafka: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Kafka helpers.", subcommands: [ProduceWorkload.self, ReadHeaders.self, DeleteTopics.self])

    /// `kafka read-headers`: one header's values over a whole topic (the chaos harness compares inference request ids).
    struct ReadHeaders: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "read-headers",
            abstract: "Print the value of one header of every record of a topic (read_committed, up to its current end), one per line.")
        @Option(help: "Topic.") var topic: String
        @Option(help: "Header name.") var header: String = "streamkit.request.id"
        @Option(help: "Longest time to reach the topic's end.") var timeout: Duration = .seconds(120)
        @OptionGroup var kafkaOptions: KafkaOptions

        func run() throws {
            let records = try KafkaTopicReader.readAll(topic: topic, configuration: try kafkaOptions.configuration(), timeout: timeout)
            var out = ""
            out.reserveCapacity(records.count * 34)
            for r in records {
                out += r.headers.first { $0.name == header }?.stringValue ?? "-"
                out += "\n"
            }
            FileHandle.standardOutput.write(out.data(using: .utf8)!)
        }
    }

    /// `kafka delete-topics`: removes topics (harness clean-up).
    struct DeleteTopics: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete-topics", abstract: "Delete topics (missing ones are ignored).")
        @Argument(help: "Topics.") var topics: [String]
        @OptionGroup var kafkaOptions: KafkaOptions
        func run() throws { try KafkaAdmin(configuration: try kafkaOptions.configuration()).deleteTopics(topics) }
    }

    struct ProduceWorkload: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "produce-workload",
            abstract: "Create a topic and produce the standard workload to it (key = user_id).")
        @Option(help: "Number of events.") var events: Int
        @Option(help: "Topic.") var topic: String
        @Option(help: "Partitions of the topic.") var partitions: Int = 4
        @OptionGroup var kafkaOptions: KafkaOptions
        @Option(help: "PRNG seed.") var seed: UInt64 = 42

        func run() throws {
            let kafka = try kafkaOptions.configuration()
            let rate = try produceWorkload(kafka: kafka, topic: topic, partitions: partitions, events: events, seed: seed)
            stderr("produced \(events) events to \(topic) (\(partitions) partitions) at \(Int(rate)) msg/s")
        }
    }
}

/// Creates `topic` and produces the standard workload (value = the NDJSON line, key = user_id); returns msg/s.
func produceWorkload(kafka: KafkaConfiguration, topic: String, partitions: Int, events: Int, seed: UInt64) throws -> Double {
    let admin = try KafkaAdmin(configuration: kafka)
    try admin.createTopics([KafkaTopicSpec(name: topic, partitions: partitions)])
    _ = try admin.waitForTopic(topic)
    let producer = try KafkaProducer(configuration: kafka)
    var generator = WorkloadGenerator(seed: seed, count: events)
    var line: [UInt8] = []
    let start = MonotonicClock.nanos()
    var n = 0
    while let e = generator.next() {
        line.removeAll(keepingCapacity: true)
        WorkloadGenerator.appendLine(of: e, to: &line)
        line.removeLast()   // the newline
        try producer.send(topic: topic, key: Array(String(e.userId).utf8), value: line)
        n += 1
        if n % 10_000 == 0 { producer.poll() }
    }
    try producer.flush()
    return Double(events) / (Double(MonotonicClock.nanos() - start) / 1e9)
}

struct Pipeline: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the user-activity feature pipeline: Kafka (Debezium events) → 5 min/1 min windows per user → Redis features (+ inference requests).",
        discussion: "SIGTERM/SIGINT stop it gracefully (a final checkpoint when checkpointing is on). \(durationHelp)")
    @Option(help: "Input topic.") var topic: String
    @Option(help: "Consumer group.") var group: String = "user-activity-features"
    @OptionGroup var kafkaOptions: KafkaOptions
    @OptionGroup var redisOptions: RedisOptions
    @Option(name: .customLong("inference-topic"), help: "Produce inference requests to this topic.") var inferenceTopic: String?
    @Option(help: "Model whose registered version (Redis key model_registry:<model>) inference requests carry.") var model: String = "fraud-scorer"
    @Option(name: .customLong("dead-letter-topic"), help: "Send bad events to this topic (reason code in the streamkit.dlq.reason header, original value, source topic/partition/offset headers).") var deadLetterTopic: String?
    @Option(name: .customLong("max-record-bytes"), help: "Dead-letter values larger than this many bytes without parsing them (0: no limit).") var maxRecordBytes: Int = 1_048_576
    @Option(name: .customLong("max-future-skew"), help: "Dead-letter events whose time is further ahead of the processing time (0s: no check).") var maxFutureSkew: Duration = .hours(1)
    @Option(name: .customLong("dedup-by"), help: "Comma-separated paths identifying an event (e.g. source.lsn): repeats are dead-lettered as duplicates.") var dedupBy: String?
    @Option(name: .customLong("dedup-capacity"), help: "Recent event identities each reader remembers for --dedup-by.") var dedupCapacity: Int = 100_000
    @Option(name: .customLong("allowed-lateness"), help: "Keep windows open this long after the watermark passed them.") var allowedLateness: Duration = .zero
    @Option(help: "Redis key namespace of the feature view.") var namespace: String = "feature"
    @Option(name: .customLong("late-topic"), help: "Send events later than the allowed lateness here (default: the dead-letter topic).") var lateTopic: String?
    @Option(help: "Kafka readers.") var readers: Int = 1
    @Option(help: "Window subtasks.") var parallelism: Int = 1
    @Option(help: "A partition that delivers nothing for this long stops holding the watermark back (0s: never). Under back-pressure or fetch imbalance a partition can fall silent longer than this while it still has data; its records then arrive late.") var idleness: Duration = .seconds(10)
    @Option(help: "earliest, latest or committed.") var from: String = "committed"
    @Flag(help: "Stop at the end of the topic.") var bounded = false
    @Option(name: .customLong("checkpoint-dir"), help: "Checkpoint directory (offsets are committed when checkpoints complete).") var checkpointDir: String?
    @Option(name: .customLong("checkpoint-interval"), help: "Time between checkpoints.") var checkpointInterval: Duration = .seconds(5)
    @Flag(help: "Resume from the latest checkpoint.") var restore = false
    @Option(name: .customLong("restart-strategy"), help: ArgumentHelp(restartStrategyHelp, valueName: "strategy"),
            transform: parseRestartStrategy) var restartStrategy: RestartStrategy = .longRunningDefault
    @Option(name: .customLong("progress-every"), help: "Print throughput and consumer lag this often (0s: never).") var progressEvery: Duration = .seconds(1)
    @OptionGroup var observability: ObservabilityOptions

    func run() async throws {
        let obs = try observability.start(command: "pipeline")
        defer { obs.stop() }
        var kafka = try kafkaOptions.configuration()
        kafka.logger = obs.logger
        let redisURL = redisOptions.address
        var o = UserActivityFeatures.Options(kafka: kafka, topic: topic, groupID: group, redis: try RedisFeatureSinkConfiguration(url: redisURL))
        o.redis.redis.logger = obs.logger
        switch from {
        case "earliest": o.startFrom = .earliest
        case "latest": o.startFrom = .latest
        case "committed": o.startFrom = .committed
        default: throw ValidationError("--from must be earliest, latest or committed")
        }
        o.bounded = bounded
        o.namespace = namespace
        o.idleness = idleness > .zero ? idleness : nil
        o.sourceParallelism = readers
        o.inferenceTopic = inferenceTopic
        o.deadLetterTopic = deadLetterTopic
        o.maxRecordBytes = maxRecordBytes > 0 ? maxRecordBytes : nil
        o.validation.maxFutureSkew = maxFutureSkew > .zero ? maxFutureSkew : nil
        if let dedupBy { o.validation.identityPaths = dedupBy.split(separator: ",").map { String($0) } }
        guard dedupCapacity > 0 else { throw ValidationError("--dedup-capacity must be positive") }
        o.validation.identityCapacity = dedupCapacity
        o.allowedLateness = allowedLateness
        o.lateTopic = lateTopic
        if inferenceTopic != nil {
            o.modelVersion = try ModelRegistry.currentVersion(of: model, redis: try RedisConfiguration(url: redisURL), fallback: "unregistered")
        }
        let metrics = UserActivityFeatures.Metrics()
        var options = Job.RunOptions(parallelism: parallelism)
        options.logger = obs.logger
        if let dir = checkpointDir {
            options.checkpoints = CheckpointConfiguration(directory: dir, interval: checkpointInterval)
            options.restore = restore
        }
        options.restartStrategy = restartStrategy
        let job = try UserActivityFeatures.job(o, metrics: metrics)
        let progress = ProgressPrinter(every: progressEvery)
        let service = JobService(job, options: options) { running in
            progress.start(running.metrics) { elapsed, events, delta in
                "[\(String(format: "%6.1f", elapsed)) s] events \(events) (\(Int(delta))/s)  consumer lag \(metrics.source.totalLag)  redis writes \(metrics.redis.written.current)  late \(running.metrics.lateRecords)"
            }
        }
        defer { progress.stop() }
        let result = try await runJobService(service, logger: obs.logger)
        stderr("done: \(result.metrics.sourceRecords.current) events in \(String(format: "%.2f", result.seconds)) s, redis writes \(metrics.redis.written.current) (stale skipped \(metrics.redis.skippedStale.current)), inference requests \(metrics.inference.delivered.current), dead letters \(metrics.source.deadLetters.current)\(metrics.deadLetters.total > 0 ? " \(metrics.deadLetters.byReason.sorted { $0.key < $1.key })" : ""), late \(result.metrics.lateRecords)\(result.restarts > 0 ? ", restarts \(result.restarts)" : "")")
    }
}

/// Prints one progress line every `every` while a job runs. After a restart (a new attempt with
/// its own metrics) `start` again only switches the metrics the one printer thread reads.
final class ProgressPrinter: @unchecked Sendable {
    // @unchecked: `stopped`, `metrics` and `line` are only touched under `lock`.
    let every: Duration
    private let lock = NSLock()
    private var stopped = false
    private var metrics: JobMetrics?
    private var line: (@Sendable (Double, UInt64, Double) -> String)?
    init(every: Duration) { self.every = every }
    func start(_ metrics: JobMetrics, line: @escaping @Sendable (Double, UInt64, Double) -> String) {
        guard every > .zero else { return }
        let first = lock.withLock { () -> Bool in
            defer { self.metrics = metrics; self.line = line }
            return self.metrics == nil
        }
        guard first else { return }
        Thread.detachNewThread { [self] in
            let start = MonotonicClock.nanos()
            var last: UInt64 = 0
            var lastT = start
            var shown: JobMetrics? = nil
            while true {
                Thread.sleep(forTimeInterval: Double(every.milliseconds) / 1000)
                guard let (metrics, line) = lock.withLock({ stopped ? nil : (self.metrics!, self.line!) }) else { return }
                if shown !== metrics { shown = metrics; last = 0 }
                let now = MonotonicClock.nanos()
                let n = metrics.sourceRecords.current
                stderr(line(Double(now - start) / 1e9, n, Double(n &- last) / (Double(now - lastT) / 1e9)))
                last = n; lastT = now
            }
        }
    }
    func stop() { lock.withLock { stopped = true } }
}

/// Runs a job as the service of a `ServiceGroup` that shuts down gracefully on SIGTERM/SIGINT
/// (the job then takes a final checkpoint when checkpointing is on) and returns its result.
/// `services` run next to the job (e.g. a metrics endpoint); the group ends when the job does.
func runJobService(_ service: JobService, alongside services: [any Service] = [],
                   logger: Logger = Logger(label: "cdc-features")) async throws -> JobResult {
    let group = ServiceGroup(configuration: ServiceGroupConfiguration(
        services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) } + [
            .init(service: service, successTerminationBehavior: .gracefullyShutdownGroup,
                  failureTerminationBehavior: .gracefullyShutdownGroup),
        ],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger))
    try await group.run()
    guard let outcome = service.result else { throw StreamKitError(.cancelled, "the job did not run") }
    let result = try outcome.get()
    if result.stopped {
        stderr("stopped on signal (graceful shutdown)\(result.finalCheckpoint.map { ", final checkpoint \($0)" } ?? "")")
    }
    return result
}

struct BenchPipeline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Kafka → hopping-window job → Redis for the standard workload against the running services, with the raw consume and raw Redis rates of the same run.")
    @Option(help: "Number of events.") var events: Int
    @OptionGroup var kafkaOptions: KafkaOptions
    @OptionGroup var redisOptions: RedisOptions
    @Option(help: "Kafka readers.") var readers: Int = 1
    @Option(help: "Window subtasks.") var parallelism: Int = 2
    @Option(name: .customLong("redis-entities"), help: "Entities for the raw Redis rate (default: the users the job writes).") var redisEntities: Int = 100_000
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        let kafka = try kafkaOptions.configuration()
        let redisConfig = try redisOptions.configuration()
        let topic = "bench-pipeline-\(UUID().uuidString.prefix(8))"
        let produceRate = try produceWorkload(kafka: kafka, topic: topic, partitions: 4, events: events, seed: 42)
        defer { _ = try? KafkaAdmin(configuration: kafka).deleteTopics([topic]) }

        // Raw consume rate of the broker in this run: the same topic through a bare source and a discarding sink.
        var raw = KafkaSourceConfiguration(topics: [topic], groupID: "raw-\(topic)", startFrom: .earliest)
        raw.bounded = true
        raw.parallelism = readers
        raw.sessionTimeout = .seconds(2); raw.heartbeatInterval = .milliseconds(500)
        let rawSource = KafkaSource(kafka: kafka, raw, decoder: ClosureLineDecoder { $0.count })
        let rawJob = Job("raw-consume") { env in
            env.source(rawSource, name: "kafka").sink("discard") {
                DiscardSink(initial: 0, observe: { (n: inout Int, _: Int) in n += 1 }, done: { _ in })
            }
        }
        let rawResult = try rawJob.start(Job.RunOptions(parallelism: 1)).waitUntilFinished()
        let rawConsume = Double(rawResult.metrics.sourceRecords.current) / rawResult.seconds

        // Raw pipelined Redis rate for the sink's command shape (the monotonic upsert script).
        let rawRedis = try RedisBench.pipelinedRate(configuration: redisConfig, shape: .upsertScript, entities: redisEntities,
                                                    features: UserActivityFeatures.view.features.count)
        // The sink alone (a job of one update per entity through RedisFeatureSink), same shape and connection count.
        let sinkAlone = try RedisBench.sinkRate(configuration: redisConfig, entities: redisEntities,
                                                features: UserActivityFeatures.view.features.count)

        // The job.
        var o = UserActivityFeatures.Options(kafka: kafka, topic: topic, groupID: "job-\(topic)", redis: RedisFeatureSinkConfiguration(redis: redisConfig))
        o.bounded = true
        o.sourceParallelism = readers
        o.sessionTimeout = .seconds(2); o.heartbeatInterval = .milliseconds(500)
        o.namespace = "bench-\(topic)"
        defer { _ = try? RedisConnection(redisConfig).deleteKeys(matching: "\(o.namespace):*") }
        let metrics = UserActivityFeatures.Metrics()
        let running = try UserActivityFeatures.job(o, metrics: metrics).start(Job.RunOptions(parallelism: parallelism))
        let lagMax = LagTracker(metrics.source)
        lagMax.start()
        let result = try running.waitUntilFinished()
        lagMax.stop()
        let read = Double(result.metrics.sourceRecords.current)
        let writes = metrics.redis.written.current
        let fields: [(String, String)] = [
            ("events", "\(Int(read))"),
            ("seconds", String(format: "%.3f", result.seconds)),
            ("events_per_s", String(format: "%.0f", read / result.seconds)),
            ("raw_consume_per_s", String(format: "%.0f", rawConsume)),
            ("raw_redis_per_s", String(format: "%.0f", rawRedis.entitiesPerSecond)),
            ("redis_writes", "\(writes)"),
            ("redis_writes_per_s", String(format: "%.0f", Double(writes) / result.seconds)),
            ("redis_sink_per_s", String(format: "%.0f", sinkAlone.rate.entitiesPerSecond)),
            ("redis_coalesced", "\(metrics.redis.coalesced.current)"),
            ("redis_stale_skipped", "\(metrics.redis.skippedStale.current)"),
            ("consumer_lag_max", "\(lagMax.max)"),
            ("produce_per_s", String(format: "%.0f", produceRate)),
            ("p50_ms", String(format: "%.3f", result.metrics.endToEndLatency.percentileMillis(50))),
            ("p99_ms", String(format: "%.3f", result.metrics.endToEndLatency.percentileMillis(99))),
            ("librdkafka", "\"\(KafkaRuntime.version)\""),
        ]
        printFields(fields, json: json)
    }
}

/// Samples the consumer lag while a job runs and keeps the maximum.
final class LagTracker: @unchecked Sendable {
    // @unchecked: the fields are only touched under `lock`.
    private let metrics: KafkaSourceMetrics
    private let lock = NSLock()
    private var running = true
    private var maxLag: Int64 = 0
    init(_ metrics: KafkaSourceMetrics) { self.metrics = metrics }
    func start() {
        Thread.detachNewThread { [self] in
            while lock.withLock({ running }) {
                let lag = metrics.totalLag
                lock.withLock { maxLag = Swift.max(maxLag, lag) }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
    }
    func stop() { lock.withLock { running = false } }
    var max: Int64 { lock.withLock { maxLag } }
}
