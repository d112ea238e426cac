public import StreamKit
public import StreamKitRedis

/// Raw Redis rates for benchmarks: how fast Redis takes the sink's command shape when nothing
/// else runs, so a benchmark can report the sink's rate next to `raw_redis_per_s`.
public enum RedisBench {
    /// The command shape measured.
    public enum CommandShape: String, Sendable {
        /// One `EVALSHA` of the sink's upsert script per entity (exactly what ``RedisFeatureSink`` sends).
        case upsertScript = "evalsha_upsert"
        /// `HSET key f1 v1 … fN vN` + `PEXPIRE key ttl` per entity (a plain, non-monotonic write).
        case hsetExpire = "hset_expire"
    }

    /// One measurement.
    public struct Rate: Sendable {
        public var shape: CommandShape
        public var entities: Int
        public var commands: Int
        public var seconds: Double
        /// Entities written per second.
        public var entitiesPerSecond: Double { Double(entities) / seconds }
        /// Commands per second.
        public var commandsPerSecond: Double { Double(commands) / seconds }
    }

    /// Writes `entities` distinct entities with `features` double features each, pipelined
    /// `pipelineDepth` commands per round trip, on one connection on the calling thread (blocking),
    /// and returns the rate. Keys go under `namespace:bench_<shape>:…`; they are deleted afterwards
    /// (untimed) when `cleanUp`. Command building is timed too, as in the sink.
    public static func pipelinedRate(configuration: RedisConfiguration, shape: CommandShape, entities: Int,
                                     features: Int = 5, pipelineDepth: Int = 1000, namespace: String = "streamkit-bench",
                                     ttl: Duration = .hours(1), cleanUp: Bool = true) throws -> Rate {
        let redis = try RedisConnection(configuration)
        let view = FeatureView(name: "bench_\(shape.rawValue)", entityKey: "id",
                               features: (0..<features).map { .double("f\($0)") }, ttl: ttl, version: 1, namespace: namespace)
        let pattern = "\(namespace):\(view.name):*"
        if cleanUp { try redis.deleteKeys(matching: pattern) }
        if shape == .upsertScript { try redis.load(FeatureUpsert.script) }
        let entityIDs = (0..<entities).map { "e\($0)" }   // prepared up front, like the sink's input
        var commands = RedisCommandBuffer(capacity: pipelineDepth * 256)
        var replies: [RedisReply] = []
        let ttlMillis = ttl.milliseconds
        var values = [FeatureValue?](repeating: nil, count: features)
        var sent = 0
        let start = MonotonicClock.nanos()
        var i = 0
        while i < entities {
            commands.removeAll()
            let end = min(i + pipelineDepth, entities)
            let eventTime = WallClock.millis()
            for e in i..<end {
                for f in 0..<features { values[f] = .double(Double(e) * 0.25 + Double(f)) }
                switch shape {
                case .upsertScript:
                    FeatureUpsert.append(FeatureUpdate(entity: entityIDs[e], eventTime: eventTime, values: values), view: view,
                                         ttlMillis: ttlMillis, updated: eventTime, to: &commands)
                case .hsetExpire:
                    commands.arg("HSET")
                    FeatureUpsert.appendKeyPrefix(view, entityIDs[e], to: &commands); commands.part(":v1"); commands.endArg()
                    commands.arg(FeatureView.eventTimeField); commands.arg(eventTime)
                    commands.arg(FeatureView.updatedField); commands.arg(eventTime)
                    for f in 0..<features { commands.arg(view.features[f].name); values[f]!.append(to: &commands) }
                    commands.endCommand()
                    commands.arg("PEXPIRE")
                    FeatureUpsert.appendKeyPrefix(view, entityIDs[e], to: &commands); commands.part(":v1"); commands.endArg()
                    commands.arg(ttlMillis)
                    commands.endCommand()
                }
            }
            try redis.pipeline(commands, into: &replies, scripts: shape == .upsertScript ? [FeatureUpsert.script] : [])
            if let bad = replies.first(where: \.isError) {
                throw StreamKitError(.connector, "benchmark command failed: \(bad)")
            }
            sent += commands.count
            i = end
        }
        let seconds = Double(MonotonicClock.nanos() - start) / 1e9
        if cleanUp { try redis.deleteKeys(matching: pattern) }
        return Rate(shape: shape, entities: entities, commands: sent, seconds: seconds)
    }
}

extension RedisBench {
    /// The sink's end-to-end rate: a job `fromCollection(updates) → RedisFeatureSink` writing
    /// `entities` distinct entities (one update each, `features` double features) through the same
    /// command shape as ``CommandShape/upsertScript``. Blocks the calling thread until the job ends.
    public static func sinkRate(configuration: RedisConfiguration, entities: Int, features: Int = 5,
                                pipelineDepth: Int = 1000, namespace: String = "streamkit-bench",
                                ttl: Duration = .hours(1), cleanUp: Bool = true) throws -> (rate: Rate, metrics: RedisFeatureSinkMetrics) {
        let view = FeatureView(name: "bench_sink", entityKey: "id",
                               features: (0..<features).map { .double("f\($0)") }, ttl: ttl, version: 1, namespace: namespace)
        let pattern = "\(namespace):\(view.name):*"
        if cleanUp { try RedisConnection(configuration).deleteKeys(matching: pattern) }
        let eventTime = WallClock.millis()
        let updates = (0..<entities).map { e in
            FeatureUpdate(entity: "e\(e)", eventTime: eventTime, values: (0..<features).map { .double(Double(e) * 0.25 + Double($0)) })
        }
        var sinkConfig = RedisFeatureSinkConfiguration(redis: configuration)
        sinkConfig.pipelineDepth = pipelineDepth
        let config = sinkConfig
        let metrics = RedisFeatureSinkMetrics()
        let job = Job("redis-sink-bench") { env in
            env.fromCollection(updates).sink("features") {
                RedisFeatureSink(view: view, configuration: config, metrics: metrics) { $0 }
            }
        }
        let result = try job.start(Job.RunOptions()).waitUntilFinished()
        if cleanUp { try RedisConnection(configuration).deleteKeys(matching: pattern) }
        let rate = Rate(shape: .upsertScript, entities: Int(metrics.written.current), commands: Int(metrics.written.current + metrics.skippedStale.current),
                        seconds: result.seconds)
        return (rate, metrics)
    }
}
