import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import ServiceLifecycle
import Synchronization
import StreamKitKafka
import StreamKitRedis
import StreamKitServer

/// A ``ControlServer`` on a free port of 127.0.0.1 in this process, with its own data directory,
/// and a small HTTP client for it (URLSession: the tests go through the real HTTP server).
final class TestServer: Sendable {
    static let adminToken = "admin-token-0123456789abcdef"
    static let readToken = "read-token-0123456789abcdef"
    static let tokens = try! AccessTokens(parsing: "# test tokens\n\(adminToken) admin\n\(readToken) read\n")

    let port: Int
    let dataDirectory: String
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    /// Starts a server on `dataDirectory` (a new temporary one by default) and waits until it listens.
    static func start(dataDirectory: String? = nil) async throws -> TestServer {
        let dir = dataDirectory ?? NSTemporaryDirectory() + "streamkit-server-test-\(UInt32.random(in: 0...UInt32.max))"
        let env = ProcessInfo.processInfo.environment
        let c = ServerConfiguration(port: 0, dataDirectory: dir, tokens: tokens,
                                    kafka: KafkaConfiguration(bootstrapServers: env["KAFKA_BROKERS"] ?? "127.0.0.1:19092"),
                                    redis: try RedisConfiguration(url: env["REDIS_URL"] ?? "redis://127.0.0.1:16379"))
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let server = try ControlServer(configuration: c, logger: Logger(label: "test.server")) { port in continuation.yield(port) }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: server.services, logger: Logger(label: "test.server")))
        let task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        return TestServer(port: port, dataDirectory: dir, group: group, task: task)
    }

    private init(port: Int, dataDirectory: String, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port; self.dataDirectory = dataDirectory; self.group = group; self.task = task
    }

    /// Stops the server gracefully and waits.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }

    struct Reply {
        let status: Int
        let data: Data
        let headers: [AnyHashable: Any]
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: data) as? [String: Any] }
        var errorCode: String? { (json?["error"] as? [String: Any])?["code"] as? String }
        var errorMessage: String? { (json?["error"] as? [String: Any])?["message"] as? String }
        var text: String { String(decoding: data, as: UTF8.self) }
    }

    func request(_ method: String, _ path: String, token: String? = TestServer.adminToken, body: String? = nil) async throws -> Reply {
        var r = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        r.httpMethod = method
        if let token { r.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body { r.httpBody = Data(body.utf8); r.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        let (data, response) = try await URLSession.shared.data(for: r)
        let http = response as! HTTPURLResponse
        return Reply(status: http.statusCode, data: data, headers: http.allHeaderFields)
    }
}
