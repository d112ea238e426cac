import ArgumentParser
import Foundation
import StreamKit
import StreamKitJSON
import StreamKitRedis

/// `cdc-features features …`: the Redis feature store.
struct Features: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read the Redis feature store written by RedisFeatureSink.",
        subcommands: [FeaturesGet.self, FeaturesBench.self])
}

/// `cdc-features features get <view> <entity…>`: prints the entities' features as one JSON object.
struct FeaturesGet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Print the features of entities of a view as JSON (missing entities: \"found\":false).")
    @Argument(help: "Feature view name.") var view: String
    @Argument(help: "Entity ids.") var entities: [String]
    @OptionGroup var redisOptions: RedisOptions
    @Option(help: "Read this version (default: follow each entity's latest pointer).") var version: Int?
    @Option(help: "Key namespace.") var namespace: String = "feature"

    func run() async throws {
        print(try await output())
    }

    /// The JSON this command prints (the run logic, callable directly).
    func output() async throws -> String {
        let client = try FeatureClient(url: redisOptions.address)
        return try await client.lookupJSON(viewNamed: view, namespace: namespace, entities: entities, version: version)
    }
}

/// `cdc-features features bench`: the sink's write rate next to the raw pipelined Redis rates.
struct FeaturesBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure RedisFeatureSink writes/s against raw pipelined EVALSHA and HSET+PEXPIRE rates (release build).")
    @Option(help: "Distinct entities (one update each).") var entities: Int = 200_000
    @Option(help: "Double features per entity.") var features: Int = 5
    @Option(name: .customLong("pipeline-depth"), help: "Commands per round trip.") var pipelineDepth: Int = 1000
    @OptionGroup var redisOptions: RedisOptions

    func run() throws {
        let config = try redisOptions.configuration()
        let raw = try RedisBench.pipelinedRate(configuration: config, shape: .upsertScript, entities: entities,
                                               features: features, pipelineDepth: pipelineDepth)
        let hset = try RedisBench.pipelinedRate(configuration: config, shape: .hsetExpire, entities: entities,
                                                features: features, pipelineDepth: pipelineDepth)
        let (sink, m) = try RedisBench.sinkRate(configuration: config, entities: entities, features: features,
                                                pipelineDepth: pipelineDepth)
        var w = JSONWriter()
        w.beginObject()
        w.field("entities", entities)
        w.field("features", features)
        w.field("pipeline_depth", pipelineDepth)
        w.field("sink_writes_per_s", (sink.entitiesPerSecond).rounded())
        w.field("sink_seconds", sink.seconds)
        w.field("sink_written", Int64(m.written.current))
        w.field("sink_round_trips", Int64(m.roundTrips.current))
        w.field("raw_redis_per_s", raw.entitiesPerSecond.rounded())
        w.field("raw_hset_expire_entities_per_s", hset.entitiesPerSecond.rounded())
        w.field("sink_vs_raw", sink.entitiesPerSecond / raw.entitiesPerSecond)
        w.endObject()
        print(String(decoding: w.bytes, as: UTF8.self))
    }
}
