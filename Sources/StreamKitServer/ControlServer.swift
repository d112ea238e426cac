public import Logging
public import Prometheus
public import ServiceLifecycle
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOCore
import StreamKit
import StreamKitObservability

/// `cdc-features serve`: the REST API (Hummingbird 2) over the ``ControlPlane``, as `Service`s
/// for one `ServiceGroup`. On graceful shutdown (SIGTERM) the HTTP server stops first, then the
/// control plane stops every capture (each confirms its position) and job (each takes a final
/// checkpoint); what was running resumes on the next start, also after kill -9.
///
/// ```swift
/// let server = try ControlServer(configuration: c, metrics: registry, logger: logger)
/// try await ServiceGroup(configuration: .init(services: server.services,
///                                             gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
/// ```
public final class ControlServer: Sendable {
    public let configuration: ServerConfiguration
    let plane: ControlPlane
    let app: Application<RouterResponder<BasicRequestContext>>
    let metricsEndpoint: PrometheusEndpoint?

    /// - Parameters:
    ///   - metrics: the process's Prometheus registry (served at `GET /metrics` behind the token).
    ///   - metricsPort: also serve it, without a token, at `http://127.0.0.1:PORT/metrics`.
    ///   - onListening: called with the bound API port.
    public init(configuration: ServerConfiguration, metrics: PrometheusCollectorRegistry? = nil, metricsPort: Int? = nil,
                logger: Logger, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) throws {
        self.configuration = configuration
        plane = try ControlPlane(configuration: configuration, logger: logger)
        let router = APIRoutes.router(plane: plane, tokens: configuration.tokens, metrics: metrics, logger: logger)
        let host = configuration.host
        let scheme = configuration.tls == nil ? "http" : "https"
        let server: HTTPServerBuilder = try configuration.tls.map { try .tls(.http1(), tlsConfiguration: try $0.configuration()) } ?? .http1()
        app = Application(
            router: router,
            server: server,
            configuration: ApplicationConfiguration(address: .hostname(host, port: configuration.port), serverName: "streamkit"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("control API listening", metadata: ["address": "\(scheme)://\(host):\(port)"])
                await onListening(port)
            },
            logger: logger)
        // The event loops carry every request's bytes: they take the request path's slice and CPUs too.
        if RequestPathScheduling.isConfigured {
            for loop in app.eventLoopGroup.makeIterator() { loop.execute { RequestPathScheduling.applyToCurrentThread() } }
        }
        if let metrics, let metricsPort {
            metricsEndpoint = PrometheusEndpoint(registry: metrics, port: metricsPort, help: MetricCatalog.help, logger: logger)
        } else {
            metricsEndpoint = nil
        }
    }

    /// The services to run, in start order (the group stops them in reverse: HTTP first).
    public var services: [any Service] {
        [plane] + (metricsEndpoint.map { [$0] } ?? []) + [app]
    }
}
