import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import StreamKit
import StreamKitTesting
import Synchronization

/// `cdc-features serve` as a real process (the built binary) on a free port, with its own data
/// directory and token file, and a small HTTP client for it.
final class ServerProcess: @unchecked Sendable {
    // @unchecked: `process` and `port` are set once in `start`; tests use one instance from one task.
    static let adminToken = "it-admin-token-0123456789abcdef"
    static let readToken = "it-read-token-0123456789abcdef"

    let dataDirectory: String
    let tokenFile: String
    let logFile: String
    private(set) var process: Process?
    private(set) var port = 0
    /// More `serve` options (e.g. `--checkpoint-interval`).
    let extraArguments: [String]

    init(extraArguments: [String] = []) throws {
        self.extraArguments = extraArguments
        let dir = NSTemporaryDirectory() + "streamkit-serve-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        dataDirectory = dir + "/data"
        tokenFile = dir + "/tokens"
        logFile = dir + "/server.log"
        try "\(Self.adminToken) admin\n\(Self.readToken) read\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
    }

    /// The model registry's Redis prefix of this server (unique: tests share one Redis).
    let modelRegistryPrefix = "it-models-\(UInt32.random(in: 0...UInt32.max))"

    /// Set once the server printed its port (or the start failed): its start watchdog stops.
    private final class StartFlag: Sendable { let done = Atomic<Bool>(false) }

    /// Starts the server and waits until it printed its port.
    func start(arguments extra: [String] = []) async throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLIBinary.path)
        p.arguments = ["serve", "--port", "0", "--data-dir", dataDirectory, "--token-file", tokenFile,
                       "--brokers", Services.kafkaBrokers, "--redis", Services.redisURL, "--log-level", "debug",
                       "--model-registry-prefix", modelRegistryPrefix] + extraArguments + extra
        let out = Pipe()
        p.standardOutput = out
        if !FileManager.default.fileExists(atPath: logFile) { FileManager.default.createFile(atPath: logFile, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        log.seekToEndOfFile()
        p.standardError = log
        try p.run()
        process = p
        // The first stdout line: "listening on http://127.0.0.1:PORT". A server that has not
        // printed it within two minutes is killed, which ends the read below.
        let pid = p.processIdentifier, listening = StartFlag()
        Thread.detachNewThread {
            let deadline = MonotonicClock.nanos() &+ 120_000_000_000
            while !listening.done.load(ordering: .acquiring) && MonotonicClock.nanos() < deadline { usleep(20_000) }
            if !listening.done.load(ordering: .acquiring) { kill(pid, SIGKILL) }
        }
        defer { listening.done.store(true, ordering: .releasing) }
        let line: String = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                var bytes: [UInt8] = []
                while true {
                    let d = out.fileHandleForReading.readData(ofLength: 1)
                    if d.isEmpty { continuation.resume(throwing: StreamKitError(.io, "the server exited (or was killed after two minutes) before listening")); return }
                    if d[0] == UInt8(ascii: "\n") { break }
                    bytes.append(d[0])
                }
                continuation.resume(returning: String(decoding: bytes, as: UTF8.self))
            }
        }
        guard let port = line.split(separator: ":").last.flatMap({ Int($0) }) else { throw StreamKitError(.io, "unexpected first line '\(line)'") }
        self.port = port
    }

    func kill9() {
        guard let p = process else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitForExit(timeout: .seconds(300))
    }

    /// SIGTERM, then waits; the exit status.
    func terminate() -> Int32 {
        guard let p = process, p.isRunning else { return process?.terminationStatus ?? 0 }
        kill(p.processIdentifier, SIGTERM)
        p.waitForExit(timeout: .seconds(300))
        return p.terminationStatus
    }

    var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    func cleanUp() {
        if let p = process, p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitForExit(timeout: .seconds(300)) }
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: dataDirectory).deletingLastPathComponent().path)
    }

    struct Reply {
        let status: Int
        let data: Data
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: data) as? [String: Any] }
        var text: String { String(decoding: data, as: UTF8.self) }
    }

    func request(_ method: String, _ path: String, token: String? = ServerProcess.adminToken, body: String? = nil) async throws -> Reply {
        var r = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        r.httpMethod = method
        r.timeoutInterval = 60
        if let token { r.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body { r.httpBody = Data(body.utf8) }
        let (data, response) = try await URLSession.shared.data(for: r)
        return Reply(status: (response as! HTTPURLResponse).statusCode, data: data)
    }

    /// `GET` of a JSON object, which must answer 200.
    func get(_ path: String) async throws -> [String: Any] {
        let r = try await request("GET", path)
        guard r.status == 200, let json = r.json else { throw StreamKitError(.io, "GET \(path): \(r.status) \(r.text)") }
        return json
    }
}
