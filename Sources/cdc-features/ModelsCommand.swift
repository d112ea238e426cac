import ArgumentParser
import Foundation
import StreamKit
import StreamKitKafka
import StreamKitRedis
import StreamKitJobs
import FeatureJobs

/// `cdc-features models list|show|register|promote|rollback`: the model registry in Redis; every
/// change is also produced to the `model-events` topic (the audit trail).
struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Model versions and aliases (champion, challenger) in Redis; changes go to the model-events topic.",
        subcommands: [ModelsList.self, ModelsShow.self, ModelsRegister.self, ModelsPromote.self, ModelsRollback.self])
}

/// Options every `models` subcommand shares.
struct ModelRegistryOptions: ParsableArguments {
    @OptionGroup var redisOptions: RedisOptions
    @OptionGroup var kafkaOptions: KafkaOptions
    @Option(help: "Redis key prefix of the registry.") var prefix: String = "models"
    @Option(name: .customLong("events-topic"), help: "Kafka topic of the registry's change events.") var eventsTopic: String = "model-events"
    @Option(name: .customLong("commands-topic"), help: "Kafka topic a running fraud-scoring --commands-topic reads promote/rollback commands from (empty: none).")
    var commandsTopic: String = "model-commands"

    func registry() throws -> ModelVersionRegistry { try ModelVersionRegistry(redis: redisOptions.configuration(), prefix: prefix) }

    /// The registry whose changes go to the events topic (the same code as `/api/v1/models`).
    func audited() throws -> AuditedModelRegistry {
        AuditedModelRegistry(registry: try registry(), kafka: try kafkaOptions.configuration(), eventsTopic: eventsTopic,
                             commandsTopic: commandsTopic.isEmpty ? nil : commandsTopic)
    }

    /// Reports the command a promote or rollback produced, on standard error (standard output
    /// keeps the one event line).
    func report(_ command: ModelCommand?) {
        guard let command else { return }
        FileHandle.standardError.write(Data("command \(command.id) (\(command.kind.rawValue)) produced to \(commandsTopic)\n".utf8))
    }

    /// Prints the change's event (it is on the events topic, acknowledged).
    func print(_ event: ModelEvent) throws {
        Swift.print(String(decoding: try AuditedModelRegistry.json(event), as: UTF8.self))
    }
}

struct ModelsList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Models, or the versions of --model, with their aliases.")
    @OptionGroup var options: ModelRegistryOptions
    @Option(help: "List this model's versions.") var model: String?
    func run() throws {
        let registry = try options.registry()
        guard let model else {
            for m in try registry.models() {
                let aliases = try registry.aliases(of: m).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                print("\(m)\t\(try registry.versions(of: m).count) versions\t\(aliases)")
            }
            return
        }
        let aliases = try registry.aliases(of: model)
        for v in try registry.versions(of: model) {
            let names = aliases.filter { $0.value == v.version }.keys.sorted().joined(separator: ",")
            let metrics = v.metrics.sorted { $0.key < $1.key }.map { "\($0.key)=\(String(format: "%.4f", $0.value))" }.joined(separator: " ")
            print("\(v.version)\t\(names.isEmpty ? "-" : names)\tparent=\(v.parent ?? "-")\t\(metrics)")
        }
    }
}

struct ModelsShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "One model (aliases, history) or one version as JSON.")
    @OptionGroup var options: ModelRegistryOptions
    @Argument(help: "Model name.") var model: String
    @Argument(help: "Version (default: the model's aliases, history and versions).") var version: String?
    func run() throws {
        let registry = try options.registry()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        if let version {
            guard let record = try registry.version(model, version) else { throw ValidationError("model \(model) has no version \(version)") }
            print(String(decoding: try encoder.encode(record), as: UTF8.self))
            return
        }
        struct Summary: Encodable { var model: String; var aliases: [String: String]; var champion_history: [String]; var versions: [ModelVersionRecord] }
        print(String(decoding: try encoder.encode(Summary(model: model, aliases: try registry.aliases(of: model),
                                                          champion_history: try registry.championHistory(of: model),
                                                          versions: try registry.versions(of: model))), as: UTF8.self))
    }
}

struct ModelsRegister: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "register", abstract: "Register a version (parameters as name=value).")
    @OptionGroup var options: ModelRegistryOptions
    @Argument(help: "Model name.") var model: String
    @Argument(help: "Version.") var version: String
    @Option(help: "The version it was forked from.") var parent: String?
    @Option(name: .customLong("param"), help: "A parameter as name=value (repeatable).") var params: [String] = []
    func run() throws {
        var parameters: [String: String] = [:]
        for p in params {
            let kv = p.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { throw ValidationError("--param takes name=value, got '\(p)'") }
            parameters[String(kv[0])] = String(kv[1])
        }
        let record = ModelVersionRecord(model: model, version: version, parameters: parameters, parent: parent,
                                        createdMs: Int64(Date().timeIntervalSince1970 * 1000))
        try options.print(try options.audited().register(record))
    }
}

struct ModelsPromote: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "promote", abstract: "Make a version the champion (or --alias challenger).")
    @OptionGroup var options: ModelRegistryOptions
    @Argument(help: "Model name.") var model: String
    @Argument(help: "Version.") var version: String
    @Option(help: "champion (keeps a history for rollback) or another alias, e.g. challenger.") var alias: String = "champion"
    @Option(help: "Why (logged in the event).") var reason: String?
    func run() throws {
        do {
            let audited = try options.audited()
            try options.print(try audited.promote(model, version: version, alias: alias, reason: reason))
            options.report(audited.lastCommand)
        }
        catch let e as StreamKitError { throw ValidationError(e.description) }
    }
}

struct ModelsRollback: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rollback", abstract: "Make the previous champion the champion again.")
    @OptionGroup var options: ModelRegistryOptions
    @Argument(help: "Model name.") var model: String
    @Option(help: "Why (logged in the event).") var reason: String?
    func run() throws {
        do {
            let audited = try options.audited()
            try options.print(try audited.rollback(model, reason: reason))
            options.report(audited.lastCommand)
        }
        catch let e as StreamKitError { throw ValidationError(e.description) }
    }
}
