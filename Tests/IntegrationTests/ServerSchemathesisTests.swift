import Foundation
import Testing
import StreamKit
import StreamKitTesting

/// schemathesis (PyPI, installed by scripts/setup into .deps/venv-schemathesis) fuzzes the running
/// `cdc-features serve` against the repository's openapi.json, bounded (coverage + 10 examples per
/// operation, one worker, fixed seed), then stateful sequences along the document's links (create
/// a source → start, status, replay → the replay's progress; create a job → savepoint, stop; …):
/// no 5xx, status codes, content types and bodies as documented, and every protected route
/// refuses requests without the token (ignored_auth).
@Suite(.serialized, .enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up)"))
struct ServerSchemathesisTests {
    static var root: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }

    @Test(.timeLimit(.minutes(15)))
    func apiConformsToItsOpenAPIDocument() async throws {
        let st = Self.root.appendingPathComponent(".deps/venv-schemathesis/bin/st").path
        try #require(FileManager.default.isExecutableFile(atPath: st), "schemathesis is not installed: run scripts/setup")
        let spec = Self.root.appendingPathComponent("Sources/StreamKitServer/openapi.json").path
        let server = try ServerProcess()
        defer { server.cleanUp() }
        try await server.start()

        // The document served is the one in the repository.
        let served = try await server.request("GET", "/openapi.json", token: nil)
        #expect(served.data == (try Data(contentsOf: URL(fileURLWithPath: spec))))

        let arguments = ["run", spec, "--url", "http://127.0.0.1:\(server.port)", "-H", "Authorization: Bearer \(ServerProcess.adminToken)",
                       "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,ignored_auth",
                       "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", "10", "--workers", "1", "--seed", "7", "--no-color"]
        var env = ProcessInfo.processInfo.environment
        env["SCHEMATHESIS_TELEMETRY"] = "false"
        // schemathesis keeps a cache folder in its working directory: the server's temporary one.
        let run = try await ChildProcess.run(st, arguments, environment: env,
                                             workingDirectory: URL(fileURLWithPath: server.dataDirectory).deletingLastPathComponent().path,
                                             timeout: .seconds(1200))
        let report = run.stdout + run.stderr
        try? report.write(toFile: StatusPageBrowser.artifactDirectory + "/schemathesis.txt", atomically: true, encoding: .utf8)
        #expect(run.status == 0, "schemathesis found failures:\n\(report.suffix(6000))")
        #expect(report.contains(" passed"), "\(report.suffix(2000))")
        #expect(report.contains("✅ Stateful"), "the stateful phase ran: \(report.suffix(2000))")
        #expect(!report.contains(ServerProcess.adminToken))
        // Still healthy after the fuzzing, and no token in the server's log.
        #expect(try await server.request("GET", "/healthz", token: nil).status == 200)
        #expect(server.terminate() == 0)
        #expect(!server.log.contains(ServerProcess.adminToken) && !server.log.contains(ServerProcess.readToken), "a token was logged")
    }
}
