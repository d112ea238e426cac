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
    /// `# HELP` text by metric name. swift-metrics carries none, and Prometheus' linters
    /// (`promtool check metrics`) want one per family: names missing here get a generic line.
    public let help: [String: String]
    /// Called with the bound port once the server listens (useful with `port: 0`).
    public var onListening: @Sendable (Int) async -> Void = { _ in }

    public init(registry: PrometheusCollectorRegistry, host: String = "127.0.0.1", port: Int, help: [String: String] = [:],
                logger: Logger = Logger(label: "streamkit.metrics")) {
        self.registry = registry; self.host = host; self.port = port; self.help = help; self.logger = logger
    }

    /// The registry's exposition with a `# HELP` line before every `# TYPE` line that has none.
    public static func exposition(_ registry: PrometheusCollectorRegistry, help: [String: String]) -> [UInt8] {
        var raw: [UInt8] = []
        raw.reserveCapacity(16 << 10)
        registry.emit(into: &raw)
        var out: [UInt8] = []
        out.reserveCapacity(raw.count + 4096)
        var previousWasHelp = false
        for line in raw.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            if line.starts(with: "# TYPE ".utf8), !previousWasHelp {
                let rest = line.dropFirst(7)
                let name = String(decoding: rest.prefix { $0 != UInt8(ascii: " ") }, as: UTF8.self)
                let text = help[name] ?? "StreamKit metric \(name)."
                out.append(contentsOf: "# HELP \(name) \(text.replacingBackslashesAndNewlines())\n".utf8)
            }
            previousWasHelp = line.starts(with: "# HELP ".utf8)
            out.append(contentsOf: line)
            out.append(UInt8(ascii: "\n"))
        }
        if out.last == UInt8(ascii: "\n"), raw.last == UInt8(ascii: "\n") { out.removeLast() }
        return out
    }

    /// The router alone (tests call it without a network).
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        let registry = self.registry
        let help = self.help
        router.get("/metrics") { _, _ -> Response in
            let bytes = Self.exposition(registry, help: help)
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

extension String {
    /// Help text escaping of the text format: `\\` and `\n`.
    fileprivate func replacingBackslashesAndNewlines() -> String {
        var out = ""
        for c in self {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }
}
