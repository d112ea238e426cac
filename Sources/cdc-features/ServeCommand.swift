import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import StreamKit
import StreamKitObservability
import StreamKitServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The control plane: REST API (/api/v1) with bearer tokens, supervised captures and jobs, feature reads, status page.",
        discussion: """
            The token file has one '<token> <role>' per line (roles: admin, read; tokens of at least 16 characters). \
            The registry (SQLite), capture positions and job checkpoints live under --data-dir; a restarted server \
            resumes what was running. SIGTERM/SIGINT stop it gracefully (captures confirm their position, jobs take \
            a final checkpoint).
            """)
    @Option(help: "API port (0: any free port, printed on stdout).") var port: Int = 8080
    @Option(help: "Address to listen on.") var host: String = "127.0.0.1"
    @Option(name: .customLong("data-dir"), help: "Directory of the registry, capture positions and job checkpoints.") var dataDir: String
    @Option(name: .customLong("token-file"), help: "Bearer tokens: '<token> <role>' per line (admin or read).") var tokenFile: String
    @Option(name: .customLong("checkpoint-interval"),
            help: "Time between checkpoints of the jobs, consumers and replays the server runs.") var checkpointInterval: Duration = .seconds(5)
    @Option(name: .customLong("model-registry-prefix"), help: "Redis key prefix of the model registry (/api/v1/models).") var modelRegistryPrefix: String = "models"
    @Option(name: .customLong("model-events-topic"), help: "Kafka topic of the model registry's change events.") var modelEventsTopic: String = "model-events"
    @Option(name: .customLong("data-path-nice"),
            help: "Nice value added to the threads of the captures and jobs the server runs (0-19; 0: same priority as the API), so feature reads preempt ingest on a busy machine.")
    var dataPathNice: Int = 0
    @Option(name: .customLong("request-slice-us"),
            help: "Time slice (µs, 100-100000; 0: the kernel's default) the threads answering feature reads ask Linux (6.12+) for, so that a woken request thread preempts sooner on a busy machine; its CPU share is unchanged.")
    var requestSliceMicros: Int = 100
    @Option(name: .customLong("request-path-cpus"),
            help: "CPUs (like 0 or 0-1,4) the threads answering requests run on: the HTTP event loops, the handlers, the feature store client. Default: any.")
    var requestPathCPUs: String?
    @Option(name: .customLong("data-path-cpus"),
            help: "CPUs (like 1-3) the threads of the captures and jobs run on, the Kafka client's included. Default: any. With --request-path-cpus on other CPUs, feature reads never wait behind ingest.")
    var dataPathCPUs: String?
    @Option(name: .customLong("model-commands-topic"), help: "Kafka topic promote/rollback also produce a command to, for running jobs (fraud-scoring --commands-topic); empty: none.")
    var modelCommandsTopic: String = "model-commands"
    @Option(name: .customLong("tls-cert-file"),
            help: "PEM certificate chain (server certificate first): serve the API over HTTPS; needs --tls-key-file.")
    var tlsCertFile: String?
    @Option(name: .customLong("tls-key-file"), help: "PEM private key (unencrypted) of --tls-cert-file.") var tlsKeyFile: String?
    @OptionGroup var kafkaOptions: KafkaOptions
    @OptionGroup var redisOptions: RedisOptions
    @OptionGroup var observability: ObservabilityOptions

    func run() async throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        if let p = observability.metricsPort, !(0...65535).contains(p) { throw ValidationError("--metrics-port must be 0...65535") }
        guard (0...19).contains(dataPathNice) else { throw ValidationError("--data-path-nice must be 0...19") }
        DataPathScheduling.niceness = Int32(dataPathNice)
        guard requestSliceMicros == 0 || (100...100_000).contains(requestSliceMicros) else {
            throw ValidationError("--request-slice-us must be 0 or 100...100000")
        }
        RequestPathScheduling.slice = requestSliceMicros == 0 ? nil : .microseconds(requestSliceMicros)
        RequestPathScheduling.cpus = try Self.cpus(requestPathCPUs, flag: "--request-path-cpus")
        // Threads inherit their starter's CPUs, and jobs are started from handlers' threads: with
        // only the request path placed, the data path is placed on every CPU the process had.
        DataPathScheduling.cpus = try Self.cpus(dataPathCPUs, flag: "--data-path-cpus")
            ?? (RequestPathScheduling.cpus != nil ? CPUSet.ofCurrentThread() : nil)
        guard (tlsCertFile == nil) == (tlsKeyFile == nil) else {
            throw ValidationError("--tls-cert-file and --tls-key-file go together (HTTPS needs both)")
        }
        Observability.bootstrapLogging(level: observability.logLevel, format: observability.logFormat)
        let logger = Logger(label: "streamkit.serve")
        let tokens: AccessTokens
        do { tokens = try AccessTokens(contentsOfFile: tokenFile) } catch { throw ValidationError("--token-file: \(error)") }
        let registry = Observability.bootstrapPrometheus()
        if let cpus = RequestPathScheduling.cpus { logger.info("request path on CPUs \(cpus)") }
        if let cpus = DataPathScheduling.cpus { logger.info("data path on CPUs \(cpus)") }
        var c = ServerConfiguration(port: port, dataDirectory: dataDir, tokens: tokens, kafka: try kafkaOptions.configuration(),
                                    redis: try redisOptions.configuration())
        c.host = host
        if let tlsCertFile, let tlsKeyFile {
            let tls = ServerTLS(certificateChainFile: tlsCertFile, privateKeyFile: tlsKeyFile)
            do { try tls.validate() } catch let e as StreamKitError { throw ValidationError(e.message) }
            c.tls = tls
        }
        guard checkpointInterval > .zero else { throw ValidationError("--checkpoint-interval must be positive") }
        c.jobCheckpointInterval = checkpointInterval
        c.modelRegistryPrefix = modelRegistryPrefix; c.modelEventsTopic = modelEventsTopic
        c.modelCommandsTopic = modelCommandsTopic.isEmpty ? nil : modelCommandsTopic
        let address = (c.tls == nil ? "http://" : "https://") + host
        let server = try ControlServer(configuration: c, metrics: registry, metricsPort: observability.metricsPort, logger: logger) { bound in
            // One line on stdout for scripts and tests that start the server with --port 0.
            FileHandle.standardOutput.write(Data("listening on \(address):\(bound)\n".utf8))
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: server.services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup,
                                                  failureTerminationBehavior: .gracefullyShutdownGroup) },
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// A CPU list flag: parsed, and every CPU available to this process; nil when not given.
    static func cpus(_ text: String?, flag: String) throws -> CPUSet? {
        guard let text else { return nil }
        let cpus: CPUSet
        do { cpus = try CPUSet(parsing: text) } catch let e as StreamKitError { throw ValidationError("\(flag): \(e.message)") }
        if let allowed = CPUSet.ofCurrentThread(), !cpus.isSubset(of: allowed) {
            throw ValidationError("\(flag): CPUs \(cpus) are not all available to this process (it may run on \(allowed))")
        }
        return cpus
    }
}
