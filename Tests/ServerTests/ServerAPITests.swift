import Foundation
import Testing
import StreamKitServer

/// The API through real HTTP, no external service needed: authorization on every route, JSON
/// errors with the field named, 404/409, and the registry surviving a restart.
@Suite(.serialized)
struct ServerAPITests {
    /// Every route: (method, path, mutating).
    static let routes: [(String, String, Bool)] = [
        ("GET", "/api/v1/sources", false),
        ("POST", "/api/v1/sources", true),
        ("GET", "/api/v1/sources/src_missing", false),
        ("DELETE", "/api/v1/sources/src_missing", true),
        ("POST", "/api/v1/sources/src_missing/start", true),
        ("POST", "/api/v1/sources/src_missing/stop", true),
        ("GET", "/api/v1/sources/src_missing/status", false),
        ("POST", "/api/v1/sources/src_missing/replay", true),
        ("GET", "/api/v1/replays/rep_missing", false),
        ("GET", "/api/v1/consumers", false),
        ("POST", "/api/v1/consumers", true),
        ("DELETE", "/api/v1/consumers/con_missing", true),
        ("GET", "/api/v1/jobs", false),
        ("POST", "/api/v1/jobs", true),
        ("GET", "/api/v1/jobs/job_missing", false),
        ("POST", "/api/v1/jobs/job_missing/stop", true),
        ("POST", "/api/v1/jobs/job_missing/savepoint", true),
        ("GET", "/api/v1/features/v/e", false),
        ("POST", "/api/v1/features/v/batch-get", false),
        ("GET", "/metrics", false),
    ]

    @Test(.timeLimit(.minutes(15)))
    func authMatrix() async throws {
        let server = try await TestServer.start()
        defer { try? FileManager.default.removeItem(atPath: server.dataDirectory) }
        for (method, path, mutating) in Self.routes {
            let body = method == "POST" ? "{}" : nil
            let none = try await server.request(method, path, token: nil, body: body)
            #expect(none.status == 401, "\(method) \(path) without a token: \(none.status)")
            #expect(none.errorCode == "unauthorized")
            #expect(none.headers["Www-Authenticate"] as? String == "Bearer" || none.headers["WWW-Authenticate"] as? String == "Bearer")
            let wrong = try await server.request(method, path, token: TestServer.adminToken + "x", body: body)
            #expect(wrong.status == 401, "\(method) \(path) with a wrong token: \(wrong.status)")
            #expect(!wrong.text.contains(TestServer.adminToken), "the token is echoed")
            let read = try await server.request(method, path, token: TestServer.readToken, body: body)
            if mutating {
                #expect(read.status == 403, "\(method) \(path) with a read token: \(read.status)")
                #expect(read.errorCode == "forbidden")
            } else {
                #expect(read.status != 401 && read.status != 403, "\(method) \(path) with a read token: \(read.status)")
            }
            let admin = try await server.request(method, path, token: TestServer.adminToken, body: body)
            #expect(admin.status != 401 && admin.status != 403, "\(method) \(path) with an admin token: \(admin.status)")
            #expect(admin.status < 500 || path.hasPrefix("/api/v1/features") && admin.status == 502, "\(method) \(path): \(admin.status) \(admin.text)")
        }
        for open in ["/healthz", "/readyz", "/openapi.json", "/"] {
            let r = try await server.request("GET", open, token: nil)
            #expect(r.status == 200, "\(open): \(r.status)")
        }
        try await server.stop()
    }

    @Test(.timeLimit(.minutes(15)))
    func badBodiesAre400sNamingTheField() async throws {
        let server = try await TestServer.start()
        defer { try? FileManager.default.removeItem(atPath: server.dataDirectory) }
        let dsn = "postgresql://u:pw@127.0.0.1:1/db"
        let cases: [(String, String, String)] = [
            ("/api/v1/sources", "", "body"),
            ("/api/v1/sources", "{not json", "body"),
            ("/api/v1/sources", "[1,2]", "body"),
            ("/api/v1/sources", #"{"connection_string":"\#(dsn)"}"#, "db_type"),
            ("/api/v1/sources", #"{"db_type":"postgresql"}"#, "connection_string"),
            ("/api/v1/sources", #"{"db_type":"oracle","connection_string":"\#(dsn)"}"#, "db_type"),
            ("/api/v1/sources", #"{"db_type":"mysql","connection_string":"\#(dsn)"}"#, "connection_string"),
            ("/api/v1/sources", #"{"db_type":"sqlserver","connection_string":"\#(dsn)"}"#, "db_type"),
            ("/api/v1/sources", #"{"db_type":"postgresql","connection_string":7}"#, "connection_string"),
            ("/api/v1/sources", #"{"db_type":"postgresql","connection_string":"postgresql://h\u0001ost/db"}"#, "connection_string"),
            ("/api/v1/sources", #"{"db_type":"postgresql","connection_string":"\#(dsn)","tables":"t"}"#, "tables"),
            ("/api/v1/sources", #"{"db_type":"postgresql","connection_string":"\#(dsn)","tables":["a b"]}"#, "tables"),
            ("/api/v1/sources", #"{"db_type":"postgresql","connection_string":"\#(dsn)","options":{"snapshot":"sometimes"}}"#, "options.snapshot"),
            ("/api/v1/sources", #"{"db_type":"postgresql","connection_string":"\#(dsn)","options":{"slot":"Bad-Slot"}}"#, "options.slot"),
            ("/api/v1/sources", #"{"db_type":"postgresql","connection_string":"\#(dsn)","options":{"skip_ops":["x"]}}"#, "options.skip_ops"),
            ("/api/v1/sources", #"{"db_type":"postgresql","connection_string":"\#(dsn)","options":{"mask_columns":["c"]}}"#, "options.mask_columns"),
            ("/api/v1/jobs", #"{"args":{}}"#, "job"),
            ("/api/v1/jobs", #"{"job":"no-such-job","topic":"t"}"#, "job"),
            ("/api/v1/jobs", #"{"job":"user-activity"}"#, "topic"),
            ("/api/v1/jobs", #"{"job":"user-activity","topic":"t","args":{"no-such-param":"1"}}"#, "args"),
            ("/api/v1/jobs", #"{"job":"user-activity","topic":"t","args":{"x":1}}"#, "args.x"),
            ("/api/v1/consumers", #"{"row_filter":"after.a = 1"}"#, "source_id"),
            ("/api/v1/consumers", #"{"source_id":"src_nope"}"#, "source_id"),
            ("/api/v1/features/v/batch-get", #"{"entities":"u1"}"#, "entities"),
            ("/api/v1/features/v/batch-get", #"{"entities":[]}"#, "entities"),
            ("/api/v1/features/v/batch-get", #"{"entities":["a:b"]}"#, "entities[0]"),
            ("/api/v1/features/v/batch-get", #"{"entities":["a",7]}"#, "entities[1]"),
            ("/api/v1/features/v/batch-get", #"{"entities":["a"#, "body"),
        ]
        for (path, body, field) in cases {
            let r = try await server.request("POST", path, body: body)
            #expect(r.status == 400, "\(path) \(body): \(r.status) \(r.text)")
            #expect(r.errorCode == "invalid_request", "\(body): \(r.text)")
            #expect(r.errorMessage?.hasPrefix(field + ":") == true, "\(body): expected the message to name \(field): \(r.text)")
        }
        // Still serving after the bad input.
        #expect(try await server.request("GET", "/healthz", token: nil).status == 200)
        try await server.stop()
    }

    @Test(.timeLimit(.minutes(15)))
    func sourcesAreStoredRedactedAndSurviveARestart() async throws {
        let server = try await TestServer.start()
        let dir = server.dataDirectory
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let created = try await server.request("POST", "/api/v1/sources", body: """
            {"db_type":"postgresql","connection_string":"postgresql://capture:s3cr3t-pw@127.0.0.1:15432/app",
             "tables":["public.orders","items"],"options":{"snapshot":"never","skip_ops":["t"],"mask_columns":["orders.card"]}}
            """)
        #expect(created.status == 201, "\(created.text)")
        #expect(created.json?["status"] as? String == "INACTIVE")
        let id = try #require(created.json?["source_id"] as? String)
        let one = try await server.request("GET", "/api/v1/sources/\(id)")
        #expect(one.status == 200)
        #expect(!one.text.contains("s3cr3t-pw"), "password returned: \(one.text)")
        #expect(one.json?["connection_string"] as? String == "postgresql://capture:***@127.0.0.1:15432/app")
        #expect(one.json?["tables"] as? [String] == ["public.orders", "items"])
        let options = try #require(one.json?["options"] as? [String: Any])
        #expect(options["slot"] as? String == "streamkit_" + id.dropFirst(4))
        #expect(options["snapshot"] as? String == "never")
        let status = try await server.request("GET", "/api/v1/sources/\(id)/status")
        #expect(status.json?["status"] as? String == "INACTIVE")
        for field in ["lag_seconds", "changes_per_second", "last_captured_timestamp", "slot_lag_bytes", "changes_total", "errors_total", "restarts", "last_error"] {
            #expect(status.json?.keys.contains(field) == true, "status lacks \(field): \(status.text)")
        }
        #expect(try await server.request("POST", "/api/v1/sources/src_nope/start").status == 404)
        #expect(try await server.request("GET", "/api/v1/jobs/job_nope").errorCode == "not_found")
        #expect(try await server.request("POST", "/api/v1/sources/\(id)/stop").json?["status"] as? String == "STOPPED")
        try await server.stop()

        let again = try await TestServer.start(dataDirectory: dir)
        let list = try await again.request("GET", "/api/v1/sources")
        let sources = try #require(list.json?["sources"] as? [[String: Any]])
        #expect(sources.map { $0["source_id"] as? String } == [id])
        #expect(!list.text.contains("s3cr3t-pw"))
        #expect(try await again.request("DELETE", "/api/v1/sources/\(id)").status == 204)
        #expect(try await again.request("GET", "/api/v1/sources/\(id)").status == 404)
        #expect(try await again.request("DELETE", "/api/v1/sources/\(id)").status == 404)
        try await again.stop()
    }
}
