import ArgumentParser
import Dispatch
import Logging
import ServiceLifecycle
import StreamKit
import StreamKitObservability


/// Logging and metrics options of every long-running command (`pipeline`, `run`, later `capture`
/// and `serve`): `@OptionGroup var observability: ObservabilityOptions`, then
/// `let obs = try observability.start(command: "pipeline")` first thing in `run()` and
/// `obs.stop()` at the end.
struct ObservabilityOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.",
            transform: { text in
                guard let level = Logger.Level(rawValue: text) else {
                    throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return level
            })
    var logLevel: Logger.Level = .info
    @Option(name: .customLong("log-format"), help: "text, or json (one JSON object per line on stderr).",
            transform: { text in
                guard let format = LogFormat(rawValue: text) else { throw ValidationError("--log-format must be text or json") }
                return format
            })
    var logFormat: LogFormat = .text
    @Option(name: .customLong("metrics-port"), help: "Serve Prometheus metrics at http://127.0.0.1:PORT/metrics while the command runs.")
    var metricsPort: Int?

    /// Bootstraps logging (and, with `--metrics-port`, swift-metrics with a Prometheus registry and
    /// the `/metrics` endpoint in a background `ServiceGroup`).
    func start(command: String) throws -> RunningObservability {
        Observability.bootstrapLogging(level: logLevel, format: logFormat)
        let logger = Logger(label: "streamkit.\(command)")
        guard let port = metricsPort else { return RunningObservability(logger: logger, services: nil) }
        guard (0...65535).contains(port) else { throw ValidationError("--metrics-port must be 0...65535") }
        let registry = Observability.bootstrapPrometheus()
        let endpoint = PrometheusEndpoint(registry: registry, port: port, help: MetricCatalog.help,
                                          logger: Logger(label: "streamkit.metrics"))
        return RunningObservability(logger: logger, services: BackgroundServices([endpoint], logger: logger))
    }
}

/// What ``ObservabilityOptions/start(command:)`` started.
struct RunningObservability {
    /// The command's logger.
    let logger: Logger
    let services: BackgroundServices?
    /// Shuts the metrics endpoint down gracefully.
    func stop() { services?.stop() }
}

/// A `ServiceGroup` run in the background for the synchronous commands, which block their thread
/// on the job. Its services stop on ``stop()`` (the command handles SIGTERM/SIGINT itself).
final class BackgroundServices: @unchecked Sendable {
    // @unchecked: both fields are set once in init.
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    init(_ services: [any Service], logger: Logger) {
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [], logger: logger))
        self.group = group
        task = Task.detached {
            do { try await group.run() } catch { logger.error("metrics endpoint stopped", metadata: ["error.message": "\(error)"]); throw error }
        }
    }

    func stop() {
        let done = DispatchSemaphore(value: 0)
        let group = self.group, task = self.task
        Task.detached {
            await group.triggerGracefulShutdown()
            _ = await task.result
            done.signal()
        }
        done.wait()
    }
}
