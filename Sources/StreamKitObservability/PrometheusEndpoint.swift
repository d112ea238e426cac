public import Hummingbird
public import Logging
public import Prometheus
public import ServiceLifecycle
import NIOCore

/// `GET /metrics` on `host:port` in Prometheus' text exposition format, from one
/// `PrometheusCollectorRegistry`. A `Service`: run it in the command's `ServiceGroup`.
///
/// ```swift
/// let registry = Observability.bootstrapPrometheus()
/// let group = ServiceGroup(services: [PrometheusEndpoint(registry: registry, port: 9464, logger: logger)], logger: logger)
/// try await group.run()
/// ```
public struct PrometheusEndpoint: Service {
    public let registry: PrometheusCollectorRegistry
    public let host: String
    public let port: Int
    public let logger: Logger
    /// Called with the bound port once the server listens (useful with `port: 0`).
    public var onListening: @Sendable (Int) async -> Void = { _ in }

    public init(registry: PrometheusCollectorRegistry, host: String = "127.0.0.1", port: Int, logger: Logger = Logger(label: "streamkit.metrics")) {
        self.registry = registry; self.host = host; self.port = port; self.logger = logger
    }

    /// The router alone (tests call it without a network).
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        let registry = self.registry
        router.get("/metrics") { _, _ -> Response in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(16 << 10)
            registry.emit(into: &bytes)
            return Response(status: .ok,
                            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        return router
    }

    public func run() async throws {
        let logger = self.logger
        let host = self.host
        let onListening = self.onListening
        let app = Application(
            router: router(),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "streamkit"),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? 0
                logger.info("metrics endpoint listening", metadata: ["address": "http://\(host):\(bound)/metrics"])
                await onListening(bound)
            },
            logger: logger
        )
        try await app.run()
    }
}
