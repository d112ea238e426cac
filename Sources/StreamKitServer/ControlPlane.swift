import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import StreamKit
import StreamKitJSON
import StreamKitKafka
import StreamKitRedis
import StreamKitPostgres
import StreamKitJobs

/// The state behind the API: the ``Registry`` and the supervised captures and jobs. A `Service`:
/// its `run()` resumes what the registry says was running, samples rates every tick, and on
/// graceful shutdown (SIGTERM) stops every capture (each confirms its position) and every job
/// (each takes a final checkpoint) without changing what the registry says should run, so the
/// next start resumes them.
final class ControlPlane: Service, Sendable {
    let configuration: ServerConfiguration
    let registry: Registry
    let logger: Logger
    let features: FeatureClient
    let models: ModelRegistryAccess
    private let sources = Mutex<[String: SupervisedCapture]>([:])
    private let jobs = Mutex<[String: SupervisedJob]>([:])
    private let consumers = Mutex<[String: SupervisedJob]>([:])
    private let replays = Mutex<[String: SupervisedJob]>([:])
    /// Replays that finished while this server ran: their read counts.
    private let finishedReplays = Mutex<[String: Int]>([:])
    /// Serializes start/stop/delete of one resource against another of the same id.
    private let transitions = Mutex<Set<String>>([])
    private let ready = Atomic<Bool>(false)

    init(configuration: ServerConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        registry = try Registry(directory: configuration.dataDirectory)
        features = FeatureClient(configuration: configuration.redis)
        models = ModelRegistryAccess(redis: configuration.redis, kafka: configuration.kafka,
                                     prefix: configuration.modelRegistryPrefix, eventsTopic: configuration.modelEventsTopic,
                                     commandsTopic: configuration.modelCommandsTopic)
    }

    var isReady: Bool { ready.load(ordering: .relaxed) }

    func run() async throws {
        try await resume()
        ready.store(true, ordering: .relaxed)
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            sample()
            try? await Task.sleep(for: configuration.sampleInterval)
        }
        ready.store(false, ordering: .relaxed)
        await shutdown()
    }

    /// Starts every source and job the registry says should run.
    func resume() async throws {
        for entry in try await registry.entries(.source) where entry.desiredState == .running {
            let spec = try JSONDecoder().decode(SourceSpec.self, from: entry.spec)
            startCapture(id: entry.id, spec: spec)
            logger.info("source resumed", metadata: ["source.id": "\(entry.id)"])
        }
        for entry in try await registry.entries(.job) where entry.desiredState == .running {
            let spec = try JSONDecoder().decode(JobSpec.self, from: entry.spec)
            startJob(id: entry.id, spec: spec)
            logger.info("job resumed", metadata: ["job.id": "\(entry.id)"])
        }
        for entry in try await registry.entries(.consumer) where entry.desiredState == .running {
            let spec = try JSONDecoder().decode(ConsumerSpec.self, from: entry.spec)
            try startConsumer(id: entry.id, spec: spec)
            logger.info("consumer resumed", metadata: ["consumer.id": "\(entry.id)"])
        }
        for entry in try await registry.entries(.replay) where entry.desiredState == .running {
            startReplay(id: entry.id, spec: try JSONDecoder().decode(ReplaySpec.self, from: entry.spec))
            logger.info("replay resumed", metadata: ["replay.id": "\(entry.id)"])
        }
    }

    private func shutdown() async {
        let captures = sources.withLock { Array($0.values) }
        let running = jobs.withLock { Array($0.values) } + consumers.withLock { Array($0.values) } + replays.withLock { Array($0.values) }
        await withTaskGroup(of: Void.self) { group in
            for c in captures { group.addTask { await c.stop() } }
            for j in running { group.addTask { await j.stop() } }
        }
        logger.info("control plane stopped", metadata: ["sources": "\(captures.count)", "jobs": "\(running.count)"])
    }

    private func sample() {
        // A finished replay is done for good: a restarted server must not run it again.
        for (id, r) in replays.withLock({ Array($0) }) where r.phase == .finished {
            replays.withLock { _ = $0.removeValue(forKey: id) }
            let records = r.recordsTotal
            finishedReplays.withLock { $0[id] = records }
            Task { try? await registry.setDesiredState(.replay, id: id, .stopped) }
        }
        for c in sources.withLock({ Array($0.values) }) {
            c.history.record(total: c.changesTotal, lagSeconds: c.lagSeconds)
        }
        for j in jobs.withLock({ Array($0.values) }) + consumers.withLock({ Array($0.values) }) {
            let lag = j.running?.metrics.watermarkLagMillis().map { Double($0) / 1000 } ?? 0
            j.history.record(total: j.recordsTotal, lagSeconds: lag)
        }
    }

    // MARK: Sources

    var stateDirectory: String { configuration.dataDirectory + "/captures" }

    func createSource(_ body: SourceSpec) async throws -> SourceCreated {
        var spec = body
        let id = "src_" + Self.randomSuffix()
        try spec.validate(id: id)
        try await registry.insert(.source, id: id, spec: try JSONEncoder().encode(spec), desiredState: .stopped)
        logger.info("source registered", metadata: ["source.id": "\(id)", "dsn": "\(spec.redactedConnectionString)"])
        return SourceCreated(source_id: id, status: "INACTIVE")
    }

    func listSources() async throws -> SourceList {
        var views: [SourceView] = []
        for entry in try await registry.entries(.source) { views.append(try view(entry)) }
        return SourceList(sources: views)
    }

    func source(_ id: String) async throws -> SourceView {
        guard let entry = try await registry.entry(.source, id: id) else { throw ServerError.notFound("source", id) }
        return try view(entry)
    }

    private func view(_ entry: Registry.Entry) throws -> SourceView {
        let spec = try JSONDecoder().decode(SourceSpec.self, from: entry.spec)
        return SourceView(source_id: entry.id, db_type: spec.db_type, connection_string: spec.redactedConnectionString,
                          tables: spec.tables, options: spec.options ?? .init(), status: sourcePhase(entry),
                          created_at: Timestamps.iso8601(millis: entry.createdAt))
    }

    private func sourcePhase(_ entry: Registry.Entry) -> String {
        if let c = sources.withLock({ $0[entry.id] }) { return c.phase.rawValue }
        return entry.desiredState == .running ? "STARTING" : (FileManager.default.fileExists(atPath: positionFile(entry)) ? "STOPPED" : "INACTIVE")
    }

    private func positionFile(_ entry: Registry.Entry) -> String {
        guard let spec = try? JSONDecoder().decode(SourceSpec.self, from: entry.spec) else { return "" }
        return spec.stateFile(stateDirectory: stateDirectory)
    }

    func startSource(_ id: String) async throws -> SourceStarted {
        try await exclusively(id) {
            guard let entry = try await registry.entry(.source, id: id) else { throw ServerError.notFound("source", id) }
            if let c = sources.withLock({ $0[id] }), !c.isFinished { throw ServerError(.conflict, "source '\(id)' is already running") }
            let spec = try JSONDecoder().decode(SourceSpec.self, from: entry.spec)
            try await registry.setDesiredState(.source, id: id, .running)
            startCapture(id: id, spec: spec)
            logger.info("source started", metadata: ["source.id": "\(id)"])
            return SourceStarted(status: "STARTED", checkpoint: position(spec))
        }
    }

    private func startCapture(id: String, spec: SourceSpec) {
        try? FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        var kafka = configuration.kafka
        kafka.logger = logger
        let capture = spec.isMySQL
            ? SupervisedCapture(id: id, configuration: spec.mysqlConfiguration(stateDirectory: stateDirectory),
                                kafka: kafka, backoff: configuration.restartBackoff, logger: logger)
            : SupervisedCapture(id: id, configuration: spec.captureConfiguration(stateDirectory: stateDirectory),
                                kafka: kafka, backoff: configuration.restartBackoff, logger: logger)
        sources.withLock { $0[id] = capture }
        capture.start()
    }

    /// The capture's durable position (its state file).
    private func position(_ spec: SourceSpec) -> SourcePosition {
        let c = spec.captureConfiguration(stateDirectory: stateDirectory)
        var p = SourcePosition(slot: c.slot, lsn: nil, snapshot_done: false)
        if spec.isMySQL {
            // MySQL: the binlog file:position and GTID state in `lsn`.
            if let data = FileManager.default.contents(atPath: spec.stateFile(stateDirectory: stateDirectory)),
               let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {   // cold path
                if let file = object["file"] as? String, !file.isEmpty {
                    p.lsn = "\(file):\((object["position"] as? NSNumber)?.uint64Value ?? 0) (\(object["gtids"] as? String ?? ""))"
                }
                p.snapshot_done = object["snapshotDone"] as? Bool ?? false
            }
            return p
        }
        if let data = FileManager.default.contents(atPath: c.stateFile),
           let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {   // cold path
            if let lsn = (object["lsn"] as? NSNumber)?.uint64Value, lsn > 0 { p.lsn = PgOutput.format(lsn) }
            p.snapshot_done = object["snapshotDone"] as? Bool ?? false
        }
        return p
    }

    func stopSource(_ id: String) async throws -> StatusOnly {
        try await exclusively(id) {
            guard try await registry.entry(.source, id: id) != nil else { throw ServerError.notFound("source", id) }
            try await registry.setDesiredState(.source, id: id, .stopped)
            if let c = sources.withLock({ $0.removeValue(forKey: id) }) { await c.stop() }
            logger.info("source stopped", metadata: ["source.id": "\(id)"])
            return StatusOnly(status: "STOPPED")
        }
    }

    func deleteSource(_ id: String, dropSlot: Bool) async throws {
        try await exclusively(id) {
            guard let entry = try await registry.entry(.source, id: id) else { throw ServerError.notFound("source", id) }
            let spec = try JSONDecoder().decode(SourceSpec.self, from: entry.spec)
            if let c = sources.withLock({ $0.removeValue(forKey: id) }) { await c.stop() }
            let c = spec.captureConfiguration(stateDirectory: stateDirectory)
            if dropSlot && !spec.isMySQL {
                let dsn = spec.connection_string
                try await BlockingCall.run {   // libpq blocks
                    do {
                        let sql = try PostgresConnection(dsn: dsn)
                        // The stopped capture's walsender may still hold the slot for a moment after
                        // the client closed: drop it once it is inactive (up to 30 s).
                        let deadline = ContinuousClock.now + .seconds(30)
                        while true {
                            _ = try sql.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", [c.slot])
                            let left = try sql.execute("SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", [c.slot])
                            if left.rows.isEmpty { break }
                            guard ContinuousClock.now < deadline else {
                                throw ServerError(.conflict, "replication slot \(c.slot) is still in use by backend \(left.rows[0][0] ?? "?")")
                            }
                            Thread.sleep(forTimeInterval: 0.1)
                        }
                    } catch let error as ServerError {
                        throw ServerError(.conflict, "could not drop slot \(c.slot), the source is kept: \(error.message)")
                    } catch {
                        // The source stays registered: retry, or delete without drop_slot.
                        throw ServerError(.conflict, "could not drop slot \(c.slot), the source is kept: \(LogRedaction.connectionString("\(error)"))")
                    }
                }
            }
            try? FileManager.default.removeItem(atPath: spec.stateFile(stateDirectory: stateDirectory))
            try await registry.delete(.source, id: id)
            logger.info("source deleted", metadata: ["source.id": "\(id)", "slot.dropped": "\(dropSlot)"])
        }
    }

    func sourceStatus(_ id: String) async throws -> SourceStatus {
        guard let entry = try await registry.entry(.source, id: id) else { throw ServerError.notFound("source", id) }
        guard let c = sources.withLock({ $0[id] }) else {
            return SourceStatus(source_id: id, status: sourcePhase(entry), lag_seconds: 0, changes_per_second: 0, last_captured_timestamp: nil,
                                slot_lag_bytes: nil, changes_total: 0, errors_total: 0, restarts: 0, last_error: nil, history: [])
        }
        let slotLag = c.slotLagBytes ?? -1
        return SourceStatus(
            source_id: id, status: c.phase.rawValue, lag_seconds: c.lagSeconds, changes_per_second: c.history.currentRate,
            last_captured_timestamp: c.history.lastProgressMillis(currentTotal: c.changesTotal).map(Timestamps.iso8601(millis:)),
            slot_lag_bytes: slotLag >= 0 ? slotLag : nil, changes_total: c.changesTotal,
            errors_total: c.failures + c.metrics.deliveryErrors.load(ordering: .relaxed), restarts: c.restarts, last_error: c.lastError,
            history: c.history.samples.map { RateSample(time: Timestamps.iso8601(millis: $0.time), rate: $0.ratePerSecond, lag_seconds: $0.lagSeconds) })
    }

    // MARK: Jobs

    func jobContext(_ id: String, _ spec: JobSpec) -> JobContext {
        var kafka = configuration.kafka
        kafka.logger = logger
        var redis = configuration.redis
        redis.logger = logger
        var context = JobContext(input: .kafka(topic: spec.topic ?? ""), output: .redis, kafka: kafka, redis: redis,
                                 groupID: spec.group ?? "streamkit-\(id)")
        context.startFrom = spec.from == "latest" ? .latest : .earliest
        context.logger = logger
        return context
    }

    func createJob(_ body: JobSpec) async throws -> JobCreated {
        var spec = body
        try spec.validate()
        let id = "job_" + Self.randomSuffix()
        try SupervisedJob.check(spec, context: jobContext(id, spec))
        try await registry.insert(.job, id: id, spec: try JSONEncoder().encode(spec), desiredState: .running)
        startJob(id: id, spec: spec)
        logger.info("job started", metadata: ["job.id": "\(id)", "job": "\(spec.job)"])
        return JobCreated(job_id: id, status: "STARTED")
    }

    private func startJob(id: String, spec: JobSpec) {
        var options = Job.RunOptions(parallelism: spec.parallelism ?? 1)
        options.logger = logger
        options.checkpoints = CheckpointConfiguration(directory: configuration.dataDirectory + "/jobs/\(id)/checkpoints",
                                                      interval: configuration.jobCheckpointInterval)
        let context = jobContext(id, spec)
        let job = SupervisedJob(id: id, options: options, backoff: configuration.restartBackoff, logger: logger) {
            try ExampleJobs.make(spec.job, arguments: spec.args ?? [:], context: context)
        }
        jobs.withLock { $0[id] = job }
        job.start()
    }

    func listJobs() async throws -> JobList {
        let available = ExampleJobs.all.map { t in
            AvailableJob(name: t.name, summary: t.summary,
                         parameters: t.parameters.map { JobParameterView(name: $0.name, help: $0.help, default_value: $0.defaultValue) })
        }
        var running: [JobStatus] = []
        for entry in try await registry.entries(.job) { running.append(try jobStatus(entry)) }
        return JobList(available: available, running: running)
    }

    func job(_ id: String) async throws -> JobStatus {
        guard let entry = try await registry.entry(.job, id: id) else { throw ServerError.notFound("job", id) }
        return try jobStatus(entry)
    }

    private func jobStatus(_ entry: Registry.Entry) throws -> JobStatus {
        let spec = try JSONDecoder().decode(JobSpec.self, from: entry.spec)
        var s = JobStatus(job_id: entry.id, job: spec.job, args: spec.args ?? [:], topic: spec.topic ?? "", status: "STOPPED",
                          records_total: 0, records_per_second: 0, consumer_lag: nil, watermark: nil, watermark_lag_ms: nil,
                          last_checkpoint: nil, restarts: 0, last_error: nil, history: [])
        guard let j = jobs.withLock({ $0[entry.id] }) else { return s }
        s.status = j.phase.rawValue
        s.records_total = j.recordsTotal
        s.records_per_second = j.history.currentRate
        if let m = j.running?.metrics {
            let wms = m.allOperators.map { $0.watermark.current }.filter { $0 != Int64.min && $0 != Int64.max }
            s.watermark = wms.min()
            s.watermark_lag_ms = m.watermarkLagMillis()
            s.consumer_lag = m.sourceBacklog()
        }
        s.last_checkpoint = j.lastCheckpoint
        s.restarts = j.restarts
        s.last_error = j.lastError
        s.history = j.history.samples.map { RateSample(time: Timestamps.iso8601(millis: $0.time), rate: $0.ratePerSecond, lag_seconds: $0.lagSeconds) }
        return s
    }

    func stopJob(_ id: String) async throws -> JobStatus {
        try await exclusively(id) {
            guard let entry = try await registry.entry(.job, id: id) else { throw ServerError.notFound("job", id) }
            guard let j = jobs.withLock({ $0[id] }), !j.isFinished else { throw ServerError(.conflict, "job '\(id)' is not running") }
            try await registry.setDesiredState(.job, id: id, .stopped)
            await j.stop()
            logger.info("job stopped", metadata: ["job.id": "\(id)"])
            return try jobStatus(entry)
        }
    }

    func savepoint(_ id: String) async throws -> SavepointTaken {
        guard try await registry.entry(.job, id: id) != nil else { throw ServerError.notFound("job", id) }
        guard let j = jobs.withLock({ $0[id] }), !j.isFinished else { throw ServerError(.conflict, "job '\(id)' is not running") }
        return SavepointTaken(job_id: id, checkpoint: try await j.savepoint())
    }

    // MARK: Consumers

    func createConsumer(_ body: ConsumerSpec) async throws -> ConsumerCreated {
        var spec = body
        guard let sourceEntry = try await registry.entry(.source, id: spec.source_id) else {
            throw ServerError.invalid("source_id", "no source '\(spec.source_id)'")
        }
        let source = try JSONDecoder().decode(SourceSpec.self, from: sourceEntry.spec)
        let id = "con_" + Self.randomSuffix()
        try spec.validate(id: id, source: source)
        try await registry.insert(.consumer, id: id, spec: try JSONEncoder().encode(spec), desiredState: .running)
        try startConsumer(id: id, spec: spec)
        logger.info("consumer started", metadata: ["consumer.id": "\(id)", "topic": "\(spec.kafka_topic ?? "")"])
        return ConsumerCreated(consumer_id: id, kafka_topic: spec.kafka_topic ?? "")
    }

    private func startConsumer(id: String, spec: ConsumerSpec) throws {
        let selector = try spec.selector()
        var k = configuration.kafka
        k.logger = logger
        let kafka = k
        let topics = spec.source_topics ?? [], output = spec.kafka_topic ?? ""
        var options = Job.RunOptions(parallelism: 1)
        options.logger = logger
        options.checkpoints = CheckpointConfiguration(directory: configuration.dataDirectory + "/consumers/\(id)/checkpoints",
                                                      interval: configuration.jobCheckpointInterval)
        let job = SupervisedJob(id: id, options: options, backoff: configuration.restartBackoff, logger: logger) {
            Job("consumer-\(id)") { env in
                var c = KafkaSourceConfiguration(topics: topics, groupID: "streamkit-\(id)", startFrom: .earliest)
                c.sessionTimeout = .seconds(2); c.heartbeatInterval = .milliseconds(500)
                env.source(KafkaSource(kafka: kafka, c, decoder: SelectedChanges(selector)), name: "changes")
                    .writeToKafka(kafka, KafkaSinkConfiguration(topic: output)) { KafkaMessage(key: $0.key, value: $0.value) }
            }
        }
        consumers.withLock { $0[id] = job }
        job.start()
    }

    func listConsumers() async throws -> ConsumerList {
        var views: [ConsumerView] = []
        for entry in try await registry.entries(.consumer) {
            let spec = try JSONDecoder().decode(ConsumerSpec.self, from: entry.spec)
            let j = consumers.withLock { $0[entry.id] }
            views.append(ConsumerView(consumer_id: entry.id, source_id: spec.source_id, kafka_topic: spec.kafka_topic ?? "",
                                      table_filter: spec.table_filter, column_filter: spec.column_filter,
                                      operation_filter: spec.operation_filter, row_filter: spec.row_filter,
                                      status: j?.phase.rawValue ?? "STOPPED", records_total: j?.recordsTotal ?? 0,
                                      restarts: j?.restarts ?? 0, last_error: j?.lastError))
        }
        return ConsumerList(consumers: views)
    }

    func deleteConsumer(_ id: String) async throws {
        try await exclusively(id) {
            guard try await registry.entry(.consumer, id: id) != nil else { throw ServerError.notFound("consumer", id) }
            try await registry.setDesiredState(.consumer, id: id, .stopped)
            if let j = consumers.withLock({ $0.removeValue(forKey: id) }) { await j.stop() }
            try await registry.delete(.consumer, id: id)
            logger.info("consumer deleted", metadata: ["consumer.id": "\(id)"])
        }
    }

    // MARK: Replays

    func createReplay(sourceID: String, _ body: ReplaySpec) async throws -> ReplayCreated {
        guard let sourceEntry = try await registry.entry(.source, id: sourceID) else { throw ServerError.notFound("source", sourceID) }
        let source = try JSONDecoder().decode(SourceSpec.self, from: sourceEntry.spec)
        var spec = body
        let id = "rep_" + Self.randomSuffix()
        try spec.validate(id: id, sourceID: sourceID, source: source)
        try await registry.insert(.replay, id: id, spec: try JSONEncoder().encode(spec), desiredState: .running)
        startReplay(id: id, spec: spec)
        logger.info("replay started", metadata: ["replay.id": "\(id)", "source.id": "\(sourceID)"])
        return ReplayCreated(replay_id: id, kafka_topic: spec.kafka_topic ?? "")
    }

    private func startReplay(id: String, spec: ReplaySpec) {
        let selector = spec.selector()
        var k = configuration.kafka
        k.logger = logger
        let kafka = k
        let topics = spec.source_topics ?? [], output = spec.kafka_topic ?? "", start = spec.start_ms ?? 0
        var options = Job.RunOptions(parallelism: 1)
        options.logger = logger
        options.checkpoints = CheckpointConfiguration(directory: configuration.dataDirectory + "/replays/\(id)/checkpoints",
                                                      interval: configuration.jobCheckpointInterval)
        let job = SupervisedJob(id: id, options: options, backoff: configuration.restartBackoff, logger: logger) {
            Job("replay-\(id)") { env in
                var c = KafkaSourceConfiguration(topics: topics, groupID: "streamkit-\(id)", startFrom: .timestamp(start))
                c.bounded = true
                c.sessionTimeout = .seconds(2); c.heartbeatInterval = .milliseconds(500)
                env.source(KafkaSource(kafka: kafka, c, decoder: SelectedChanges(selector)), name: "changes")
                    .writeToKafka(kafka, KafkaSinkConfiguration(topic: output)) { KafkaMessage(key: $0.key, value: $0.value) }
            }
        }
        replays.withLock { $0[id] = job }
        job.start()
    }

    func replay(_ id: String) async throws -> ReplayStatus {
        guard let entry = try await registry.entry(.replay, id: id) else { throw ServerError.notFound("replay", id) }
        let spec = try JSONDecoder().decode(ReplaySpec.self, from: entry.spec)
        var s = ReplayStatus(replay_id: id, source_id: spec.source_id ?? "", kafka_topic: spec.kafka_topic ?? "",
                             start_timestamp: spec.start_timestamp, end_timestamp: spec.end_timestamp,
                             status: "FINISHED", done: true, records_read: nil, restarts: 0, last_error: nil)
        if let r = replays.withLock({ $0[id] }) {
            s.status = r.phase.rawValue
            s.done = r.phase == .finished
            s.records_read = r.recordsTotal
            s.restarts = r.restarts
            s.last_error = r.lastError
        } else if let records = finishedReplays.withLock({ $0[id] }) {
            s.records_read = records
        } else if entry.desiredState == .running {
            s.status = "STARTING"; s.done = false
        }
        return s
    }

    // MARK: Helpers

    private func exclusively<T: Sendable>(_ id: String, _ body: () async throws -> T) async throws -> T {
        let mine = transitions.withLock { $0.insert(id).inserted }
        guard mine else { throw ServerError(.conflict, "'\(id)' is being started, stopped or deleted") }
        defer { _ = transitions.withLock { $0.remove(id) } }
        return try await body()
    }

    static func randomSuffix() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<12).map { _ in String(UInt8.random(in: 0..<16, using: &g), radix: 16) }.joined()
    }
}
