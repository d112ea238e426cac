import Foundation
import Testing
import StreamKit
import StreamKitKafka
import StreamKitRedis
import StreamKitWorkload
import StreamKitTesting

/// Jobs and feature reads through `cdc-features serve`: start the user-activity job on a topic
/// of workload events, watch its status, take a savepoint, read its features over HTTP (the same
/// values as the feature store's own client), stop it with a final checkpoint.
@Suite(.serialized, .enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up)"))
struct ServerJobsTests {
    @Test(.timeLimit(.minutes(15)))
    func jobRunsSavepointsServesFeaturesAndStops() async throws {
        let topic = KafkaTestSupport.unique("serve-jobs"), namespace = KafkaTestSupport.unique("servejobs")
        try KafkaTestSupport.createTopic(topic, partitions: 2)
        defer { _ = try? KafkaAdmin(configuration: KafkaTestSupport.kafka).deleteTopics([topic]) }
        let lines = Self.spreadLines(5_000)
        try KafkaTestSupport.produceWorkload(lines, topic: topic)
        // Its jobs' threads run 3 nice levels below the API's, and the request path and the data
        // path on CPUs of their own: the first and the last this process may use (checked below).
        let allowed = try #require(CPUSet.ofCurrentThread()?.cpus)
        let requestCPU = allowed.first!, dataCPU = allowed.last!
        let server = try ServerProcess(extraArguments: ["--data-path-nice", "3", "--request-path-cpus", "\(requestCPU)",
                                                        "--data-path-cpus", "\(dataCPU)"])
        defer { server.cleanUp() }
        try await server.start()

        let list = try await server.get("/api/v1/jobs")
        let available = try #require(list["available"] as? [[String: Any]])
        #expect(available.contains { $0["name"] as? String == "user-activity" })

        let created = try await server.request("POST", "/api/v1/jobs", body: """
            {"job":"user-activity","topic":"\(topic)","args":{"namespace":"\(namespace)"}}
            """)
        #expect(created.status == 201, "\(created.text)")
        let id = try #require(created.json?["job_id"] as? String)
        func job() async throws -> [String: Any] { try await server.get("/api/v1/jobs/\(id)") }
        try await poll("the job read every event", timeout: .seconds(120)) { (try await job()["records_total"] as? Int) == lines.count }
        let running = try await job()
        #expect(running["status"] as? String == "RUNNING", "\(running)")
        // --data-path-nice: the job's task threads and librdkafka's threads are 3 nice levels
        // below the server's main thread (which the API's threads share).
        let threads = try Self.threadNices(pid: server.process!.processIdentifier)
        let base = try #require(threads.first { $0.tid == server.process!.processIdentifier }?.nice)
        let kafkaThreads = threads.filter { $0.name.hasPrefix("rdk:") }
        #expect(!kafkaThreads.isEmpty && kafkaThreads.allSatisfy { $0.nice == min(base + 3, 19) }, "\(threads)")
        #expect(threads.contains { !$0.name.hasPrefix("rdk:") && $0.nice == min(base + 3, 19) }, "\(threads)")
        #expect(threads.contains { $0.nice == base && $0.tid != server.process!.processIdentifier }, "\(threads)")
        #expect(running["restarts"] as? Int == 0)
        #expect(running["watermark"] is NSNumber, "\(running)")
        // The consumer lag is the Kafka source's: every event read, so it settles at 0 (not null).
        try await poll("the job's consumer lag reaches 0", timeout: .seconds(180)) { (try await job()["consumer_lag"] as? Int) == 0 }

        // The status page in a real headless Chromium shows the job running with its record count.
        let dom = try StatusPageBrowser.dumpDOM(port: server.port, token: ServerProcess.readToken, screenshot: nil)
        let row = try #require(StatusPageBrowser.row(of: id, in: dom, kind: "job"), "no row for \(id):\n\(dom.prefix(3000))")
        #expect(row.contains("st-RUNNING") && row.contains("user-activity"), "\(row)")
        #expect(StatusPageBrowser.cell("records-total", in: row).flatMap { Int($0) } == lines.count, "\(row)")

        let savepoint = try await server.request("POST", "/api/v1/jobs/\(id)/savepoint")
        #expect(savepoint.status == 200, "\(savepoint.text)")
        let cp = try #require((savepoint.json?["checkpoint"] as? NSNumber)?.int64Value)
        #expect(((try await job())["last_checkpoint"] as? NSNumber)?.int64Value ?? -1 >= cp)

        // Features over HTTP equal the feature store's own reads.
        let users = Array(Set(lines.map(KafkaTestSupport.userID))).sorted().prefix(100).map { $0 } + ["no-such-user"]
        let client = FeatureClient(configuration: try RedisConfiguration(url: Services.redisURL))
        var direct: [FeatureVector?] = []
        try await poll("features were written") {
            direct = try await client.getMany(viewNamed: "user_activity_5m", namespace: namespace, entities: users)
            return direct.contains { $0 != nil }
        }
        let batch = try await server.request("POST", "/api/v1/features/user_activity_5m/batch-get?namespace=\(namespace)",
                                             token: ServerProcess.readToken,
                                             body: "{\"entities\":[" + users.map { "\"\($0)\"" }.joined(separator: ",") + "]}")
        #expect(batch.status == 200, "\(batch.text)")
        // --request-slice-us (default 100): the HTTP event loops ask for a 100 µs slice, on a kernel
        // that takes slice requests; the job's threads keep the default.
        if SchedulerProbe.kernelTakesSliceRequests {
            let pid = server.process!.processIdentifier
            let slices = try Self.threadNices(pid: pid).map { t in
                (t.name, try? SchedulerProbe.slice(pid: pid, tid: t.tid))
            }
            let loops = slices.filter { $0.0.hasPrefix("NIO-") }
            #expect(!loops.isEmpty && loops.allSatisfy { $0.1 == 100_000 }, "\(slices)")
            #expect(slices.filter { $0.0.hasPrefix("rdk:") }.allSatisfy { $0.1 != 100_000 }, "\(slices)")
        }
        // --request-path-cpus / --data-path-cpus: the event loops (and the handler that just ran)
        // on the request path's CPU; the job's threads and librdkafka's on the data path's; the
        // main thread where it started.
        do {
            let pid = server.process!.processIdentifier
            let placed = try Self.threadCPUs(pid: pid)
            let loops = placed.filter { $0.0.hasPrefix("NIO-") }, kafka = placed.filter { $0.0.hasPrefix("rdk:") }
            let windows = placed.filter { $0.0.hasPrefix("window[") }
            #expect(!loops.isEmpty && loops.allSatisfy { $0.1 == "\(requestCPU)" }, "\(placed)")
            #expect(!kafka.isEmpty && kafka.allSatisfy { $0.1 == "\(dataCPU)" }, "\(placed)")
            #expect(!windows.isEmpty && windows.allSatisfy { $0.1 == "\(dataCPU)" }, "\(placed)")
            #expect(try SchedulerProbe.cpus(pid: pid, tid: pid) == CPUSet(allowed).description, "\(placed)")
        }
        let entities = try #require(batch.json?["entities"] as? [[String: Any]])
        #expect(entities.count == users.count)
        direct = try await client.getMany(viewNamed: "user_activity_5m", namespace: namespace, entities: users)
        for (i, (user, vector)) in zip(users, direct).enumerated() {
            #expect(entities[i]["entity"] as? String == user)
            #expect(entities[i]["found"] as? Bool == (vector != nil), "\(user)")
            guard let v = vector, let features = entities[i]["features"] as? [String: Any] else { continue }
            #expect((entities[i]["version"] as? NSNumber)?.intValue == v.version)
            #expect((entities[i]["event_time"] as? NSNumber)?.int64Value == v.eventTime)
            #expect(features.count == v.features.count)
            for f in v.features {
                #expect((features[f.name] as? NSNumber)?.doubleValue == f.value.doubleValue, "\(user).\(f.name)")
            }
        }
        let someone = try #require(zip(users, direct).first { $0.1 != nil }?.0)
        let one = try await server.request("GET", "/api/v1/features/user_activity_5m/\(someone)?namespace=\(namespace)")
        #expect(one.status == 200, "\(one.text)")
        #expect(one.json?["entity"] as? String == someone)
        #expect(one.json?["age_ms"] is NSNumber)
        #expect(try await server.request("GET", "/api/v1/features/user_activity_5m/no-such-user?namespace=\(namespace)").status == 404)

        let stopped = try await server.request("POST", "/api/v1/jobs/\(id)/stop")
        #expect(stopped.status == 200, "\(stopped.text)")
        #expect(stopped.json?["status"] as? String == "STOPPED")
        #expect(((stopped.json?["last_checkpoint"] as? NSNumber)?.int64Value ?? -1) > cp, "a final checkpoint after the savepoint")
        #expect(try await server.request("POST", "/api/v1/jobs/\(id)/stop").status == 409)
        #expect(server.terminate() == 0)
    }

    /// A CPU list that is not one, or that names a CPU this process may not use, stops the start
    /// with the flag named.
    @Test(.timeLimit(.minutes(5)))
    func unusableCPUListsStopTheStartWithTheFlagNamed() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        let base = ["serve", "--port", "0", "--data-dir", server.dataDirectory, "--token-file", server.tokenFile]
        let notAList = try ChildProcess.run(CLIBinary.path, base + ["--request-path-cpus", "0-x"])
        #expect(notAList.status != 0 && notAList.stderr.contains("--request-path-cpus: '0-x'"), "\(notAList.stderr)")
        let allowed = try #require(CPUSet.ofCurrentThread())
        let absent = (0...CPUSet.maximumCPU).last { !allowed.cpus.contains($0) }!
        let unavailable = try ChildProcess.run(CLIBinary.path, base + ["--data-path-cpus", "\(absent)"])
        #expect(unavailable.status != 0 && unavailable.stderr.contains("--data-path-cpus: CPUs \(absent) are not all available"),
                "\(unavailable.stderr)")
        for output in [notAList, unavailable] { #expect(!output.stdout.contains("listening")) }
    }

    /// Each thread of a process: its name and the CPUs it may run on (`Cpus_allowed_list`).
    static func threadCPUs(pid: Int32) throws -> [(String, String?)] {
        try threadNices(pid: pid).map { t in (t.name, try? SchedulerProbe.cpus(pid: pid, tid: t.tid)) }
    }

    /// Each thread of a process: its id, name and nice value (from /proc/PID/task/TID/stat).
    static func threadNices(pid: Int32) throws -> [(tid: Int32, name: String, nice: Int)] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").compactMap { entry in
            guard let tid = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(entry)/stat", encoding: .utf8),
                  let open = stat.firstIndex(of: "("), let close = stat.range(of: ") ", options: .backwards) else { return nil }
            let name = String(stat[stat.index(after: open)..<close.lowerBound])
            let fields = stat[close.upperBound...].split(separator: " ")
            guard fields.count > 16, let nice = Int(fields[16]) else { return nil }
            return (tid, name, nice)
        }
    }

    /// A job whose topic does not exist yet fails: the supervisor restarts it with backoff
    /// (restarts and the last error in its status) until the topic exists, then it reads every
    /// event; after kill -9 of the server it is running again by itself, restored from its
    /// checkpoint (its restore counts as the start, not a restart).
    @Test(.timeLimit(.minutes(15)))
    func failingJobRestartsAndResumesAfterKill9() async throws {
        let topic = KafkaTestSupport.unique("serve-late-topic"), namespace = KafkaTestSupport.unique("servelate")
        defer { _ = try? KafkaAdmin(configuration: KafkaTestSupport.kafka).deleteTopics([topic]) }
        // Only the request path placed (on the first CPU): the job's threads still get every CPU,
        // although jobs start from handlers' threads, which feature reads have placed.
        let allowed = try #require(CPUSet.ofCurrentThread())
        let server = try ServerProcess(extraArguments: ["--request-path-cpus", "\(allowed.cpus.first!)"])
        defer { server.cleanUp() }
        try await server.start()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<40 { group.addTask { try await server.request("GET", "/api/v1/features/user_activity_5m/nobody").status } }
            for try await status in group { #expect(status == 404) }
        }
        let created = try await server.request("POST", "/api/v1/jobs", body: """
            {"job":"user-activity","topic":"\(topic)","args":{"namespace":"\(namespace)"}}
            """)
        let id = try #require(created.json?["job_id"] as? String, "\(created.text)")
        func job() async throws -> [String: Any] { try await server.get("/api/v1/jobs/\(id)") }
        try await poll("the failing job restarted twice") { (try await job()["restarts"] as? Int ?? 0) >= 2 }
        let failing = try await job()
        #expect((failing["last_error"] as? String)?.contains(topic) == true, "\(failing)")
        // Between restarts it is not running (each attempt runs for a moment before it fails, so
        // poll for the backoff rather than expecting it at one instant).
        try await poll("the failing job waits in its backoff") { try await job()["status"] as? String != "RUNNING" }

        try KafkaTestSupport.createTopic(topic, partitions: 2)
        let lines = Self.spreadLines(2_000)
        try KafkaTestSupport.produceWorkload(lines, topic: topic)
        try await poll("the job reads every event once its topic exists", timeout: .seconds(300)) {
            let j = try await job()
            return j["status"] as? String == "RUNNING" && (j["records_total"] as? Int) == lines.count
        }
        do {
            let placed = try Self.threadCPUs(pid: server.process!.processIdentifier)
            let windows = placed.filter { $0.0.hasPrefix("window[") }, loops = placed.filter { $0.0.hasPrefix("NIO-") }
            #expect(!windows.isEmpty && windows.allSatisfy { $0.1 == allowed.description }, "\(placed)")
            #expect(!loops.isEmpty && loops.allSatisfy { $0.1 == "\(allowed.cpus.first!)" }, "\(placed)")
        }
        // The status page in a real headless Chromium shows the job running with its record count.
        let dom = try StatusPageBrowser.dumpDOM(port: server.port, token: ServerProcess.readToken, screenshot: nil)
        let row = try #require(StatusPageBrowser.row(of: id, in: dom, kind: "job"), "no row for \(id):\n\(dom.prefix(3000))")
        #expect(row.contains("st-RUNNING") && row.contains("user-activity"), "\(row)")
        #expect(StatusPageBrowser.cell("records-total", in: row).flatMap { Int($0) } == lines.count, "\(row)")

        let savepoint = try await server.request("POST", "/api/v1/jobs/\(id)/savepoint")
        let cp = try #require((savepoint.json?["checkpoint"] as? NSNumber)?.int64Value, "\(savepoint.text)")

        server.kill9()
        try await server.start()
        try await poll("the job runs again after kill -9") { try await job()["status"] as? String == "RUNNING" }
        let resumed = try await job()
        #expect(((resumed["last_checkpoint"] as? NSNumber)?.int64Value ?? -1) >= cp, "\(resumed)")
        #expect(resumed["restarts"] as? Int == 0, "a resumed job is a new start: \(resumed)")
        #expect(server.terminate() == 0)
    }

    /// `SERVER_BENCH=1`: 100-entity batch-get over HTTP with the user-activity job's features,
    /// next to the same reads through `FeatureClient` directly (the floor), in one run.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["SERVER_BENCH"] != nil, "set SERVER_BENCH=1"), .timeLimit(.minutes(15)))
    func batchGetLatency() async throws {
        let topic = KafkaTestSupport.unique("serve-bench"), namespace = KafkaTestSupport.unique("servebench")
        try KafkaTestSupport.createTopic(topic, partitions: 2)
        defer { _ = try? KafkaAdmin(configuration: KafkaTestSupport.kafka).deleteTopics([topic]) }
        let lines = Self.spreadLines(20_000)
        try KafkaTestSupport.produceWorkload(lines, topic: topic)
        let server = try ServerProcess()
        defer { server.cleanUp() }
        try await server.start()
        let created = try await server.request("POST", "/api/v1/jobs", body: """
            {"job":"user-activity","topic":"\(topic)","args":{"namespace":"\(namespace)"}}
            """)
        let id = try #require(created.json?["job_id"] as? String)
        try await poll("the job read every event", timeout: .seconds(180)) { (try await server.get("/api/v1/jobs/\(id)")["records_total"] as? Int) == lines.count }
        let users = Array(Set(lines.map(KafkaTestSupport.userID))).sorted().prefix(100).map { $0 }
        let body = "{\"entities\":[" + users.map { "\"\($0)\"" }.joined(separator: ",") + "]}"
        let path = "/api/v1/features/user_activity_5m/batch-get?namespace=\(namespace)"
        for _ in 0..<50 { _ = try await server.request("POST", path, body: body) }   // warm up
        let n = 1_000
        var http: [Double] = []
        let start = ContinuousClock.now
        for _ in 0..<n {
            let t = ContinuousClock.now
            let r = try await server.request("POST", path, body: body)
            http.append((ContinuousClock.now - t).seconds * 1000)
            #expect(r.status == 200)
        }
        let elapsed = (ContinuousClock.now - start).seconds
        let client = FeatureClient(configuration: try RedisConfiguration(url: Services.redisURL))
        var direct: [Double] = []
        for _ in 0..<n {
            let t = ContinuousClock.now
            _ = try await client.getMany(viewNamed: "user_activity_5m", namespace: namespace, entities: users)
            direct.append((ContinuousClock.now - t).seconds * 1000)
        }
        func pct(_ xs: [Double], _ p: Double) -> Double { let s = xs.sorted(); return s[min(s.count - 1, Int(Double(s.count) * p / 100))] }
        print("serve batch-get (100 entities, HTTP, one connection, job running): p50 \(pct(http, 50)) ms, p99 \(pct(http, 99)) ms, \(Double(n) / elapsed) req/s; "
              + "FeatureClient.getMany direct: p50 \(pct(direct, 50)) ms, p99 \(pct(direct, 99)) ms")
        _ = try await server.request("POST", "/api/v1/jobs/\(id)/stop")
    }
}

extension ServerJobsTests {
    /// The standard workload with events 300 ms apart (5,000 events span 25 minutes), so the
    /// 5-minute windows close while the job runs and features reach Redis.
    static func spreadLines(_ events: Int) -> [String] {
        var gen = WorkloadGenerator(seed: 42, count: events)
        var out: [String] = []
        var buf: [UInt8] = []
        var i: Int64 = 0
        while var e = gen.next() {
            e.tsMs = 1_700_000_000_000 + i * 300
            i += 1
            buf.removeAll(keepingCapacity: true)
            WorkloadGenerator.appendLine(of: e, to: &buf)
            out.append(String(decoding: buf.dropLast(), as: UTF8.self))
        }
        return out
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
