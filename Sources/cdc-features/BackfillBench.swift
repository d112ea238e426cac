import ArgumentParser
import Foundation
import StreamKit
import StreamKitBackfill
import StreamKitJobs
import StreamKitJSON
import StreamKitKafka
import StreamKitRedis
import StreamKitWorkload

/// `cdc-features bench backfill`: online = offline on the standard workload, measured. The
/// user-activity pipeline runs online (Kafka, 4 partitions → job → Redis + inference requests);
/// a sample of the logged requests (1 in 16, by request id) becomes labels at their `served_at`;
/// the backfill runs the job's definition over the same events from the file at parallelism 1
/// and 2 (alternating, `--runs` each, medians reported) and its vectors are compared with the
/// served ones (the median runs' rows). The single-threaded C++ loop
/// (benchmarks/window-loop.cpp, parse + hopping windows) runs on the same file in the same run.
struct BenchBackfill: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backfill",
        abstract: "Online vs backfilled features on the standard workload: throughput at parallelism 1 and 2, consistency, the C++ loop's rate on the same file.")
    @Option(help: "Number of events (the standard workload, seed 42).") var events: Int = 2_000_000
    @Option(help: "The pre-generated workload file (default: data/events_N.jsonl, generated when missing).") var input: String?
    @Option(name: .customLong("sample"), help: "Keep one logged request in this many as a label.") var sample: Int = 16
    @Option(help: "Backfill runs per parallelism, alternating p1 and p2; the median is reported.") var runs: Int = 5
    @OptionGroup var kafkaOptions: KafkaOptions
    @OptionGroup var redisOptions: RedisOptions
    @Flag(help: "Print one JSON object.") var json = false

    /// One logged inference request of the sample.
    struct Logged: Sendable { var entity: String; var eventTime: Int64; var servedAt: Int64; var features: String; var id: String }

    /// Decodes inference request bodies, keeping those whose id's first hex digit pair is < 256/sample.
    struct LogDecoder: LineDecoder {
        let keep: Int
        let extractor = JSONFieldExtractor(["request_id", "entity", "event_time", "served_at", "features"])
        var fields: [JSONScalar] = []
        func decode(_ line: UnsafeRawBufferPointer) throws -> Logged { fatalError("decodeIfRelevant is used") }
        mutating func decodeIfRelevant(_ line: UnsafeRawBufferPointer) throws -> Logged? {
            try extractor.extract(line, into: &fields)
            guard let id = fields[0].string(in: line), let bucket = Int(id.prefix(2), radix: 16), bucket < keep else { return nil }
            guard let entity = fields[1].string(in: line), let t = fields[2].int64(in: line) else {
                throw StreamKitError(.malformedInput, "inference request without entity or event_time")
            }
            return Logged(entity: entity, eventTime: t, servedAt: fields[3].int64(in: line) ?? t,
                          features: String(decoding: fields[4].rawBytes(in: line), as: UTF8.self), id: id)
        }
    }

    func run() throws {
        let load0 = Self.loadAverage()
        let path = try input ?? Self.workloadFile(events: events)
        let kafka = try kafkaOptions.configuration()
        let redis = try redisOptions.configuration()
        let tag = UUID().uuidString.prefix(8)
        let topic = "bench-backfill-\(tag)", inference = "bench-backfill-inference-\(tag)"
        _ = try produceWorkload(kafka: kafka, topic: topic, partitions: 4, events: events, seed: 42)
        let admin = try KafkaAdmin(configuration: kafka)
        try admin.createTopics([KafkaTopicSpec(name: inference, partitions: 4)])
        _ = try admin.waitForTopic(inference)
        defer { _ = try? admin.deleteTopics([topic, inference]) }

        // Online.
        let job = try UserActivityFeatures(["namespace": "bench-\(topic)"])
        var o = UserActivityFeatures.Options(kafka: kafka, topic: topic, groupID: "job-\(topic)", redis: RedisFeatureSinkConfiguration(redis: redis))
        o.bounded = true
        o.sessionTimeout = .seconds(2); o.heartbeatInterval = .milliseconds(500)
        o.namespace = "bench-\(topic)"
        o.inferenceTopic = inference; o.modelVersion = "bench"
        defer { _ = try? RedisConnection(redis).deleteKeys(matching: "\(o.namespace):*") }
        let online = try UserActivityFeatures.job(o).start(Job.RunOptions(parallelism: 2)).waitUntilFinished()

        // The sampled request log.
        var c = KafkaSourceConfiguration(topics: [inference], groupID: "log-\(topic)", startFrom: .earliest)
        c.bounded = true; c.sessionTimeout = .seconds(2); c.heartbeatInterval = .milliseconds(500)
        let logSource = KafkaSource(kafka: kafka, c, decoder: LogDecoder(keep: max(1, 256 / sample)))
        let sampled = CollectedOutput<Logged>()
        let readLog = try Job("read-inference-log") { env in env.source(logSource, name: "log").collect(into: sampled) }
            .start(Job.RunOptions(parallelism: 1)).waitUntilFinished()
        let logged = sampled.values
        var expected: [String: Logged] = [:]
        for r in logged { expected[r.id] = r }
        let labels = expected.values.map { LabelEvent(entity: $0.entity, time: $0.servedAt, label: "\"\($0.id)\"") }
        let refires = logged.filter { $0.servedAt != $0.eventTime }.count

        // Offline, p1 and p2.
        let backfill = Backfill(job: job, labels: .events(labels))
        // Each run's result and the CPU time the process spent meanwhile (every thread: the
        // readers, the keyed windows and join, the label sort and the merge; the bench's own
        // Kafka and Redis clients are idle by then).
        func measure(_ p: Int) throws -> (result: Backfill<UserActivityFeatures>.Result, cpuSeconds: Double) {
            let box = ResultBox()
            let done = DispatchSemaphore(value: 0)
            let cpu0 = Self.processCPUSeconds()
            Task {
                do { box.result = .success(try await backfill.run(input: .file(path), parallelism: p)) } catch { box.result = .failure(error) }
                done.signal()
            }
            done.wait()
            let cpu = Self.processCPUSeconds() - cpu0
            return (try box.result!.get(), cpu)
        }
        var p1Runs: [(result: Backfill<UserActivityFeatures>.Result, cpuSeconds: Double)] = [], p2Runs = p1Runs
        for _ in 0..<max(1, runs) { p1Runs.append(try measure(1)); p2Runs.append(try measure(2)) }
        let p1s = p1Runs.map(\.result), p2s = p2Runs.map(\.result)
        let p1Median = p1Runs.sorted { $0.result.seconds < $1.result.seconds }[p1Runs.count / 2]
        let p2Median = p2Runs.sorted { $0.result.seconds < $1.result.seconds }[p2Runs.count / 2]
        let p1 = p1Median.result, p2 = p2Median.result
        let cores1 = p1Median.cpuSeconds / max(p1.seconds, 1e-9), cores2 = p2Median.cpuSeconds / max(p2.seconds, 1e-9)
        let view = job.featureView
        var equal = 0, equalP2 = 0, bitEqualP2 = 0
        for (a, b) in zip(p1.rows, p2.rows) {
            let served = expected[String(a.label.label.dropFirst().dropLast())]
            let textA = a.features.map { Self.featuresJSON($0, view: view) }
            if let served, textA == served.features, a.featureEventTime == served.eventTime { equal += 1 }
            if a.features == b.features { bitEqualP2 += 1 }
            if let served, Self.close(b.features, served.features, view: view), b.featureEventTime == served.eventTime { equalP2 += 1 }
        }
        let cpp = Self.cppLoop(path)
        let load1 = Self.loadAverage()
        let rows = p1.rows.count
        let fields: [(String, String)] = [
            ("rows", "\(rows)"),
            ("events", "\(p1.events)"),
            ("events_per_s_p1", String(format: "%.0f", p1.eventsPerSecond)),
            ("events_per_s_p2", String(format: "%.0f", p2.eventsPerSecond)),
            ("p2_over_p1", String(format: "%.3f", p2.eventsPerSecond / max(p1.eventsPerSecond, 1))),
            ("consistency", String(format: "%.6f", rows == 0 ? 0 : Double(equal) / Double(rows))),
            ("mismatches", "\(rows - equal)"),
            ("consistency_p2", String(format: "%.6f", rows == 0 ? 0 : Double(equalP2) / Double(rows))),
            ("p2_bit_equal_p1", String(format: "%.6f", rows == 0 ? 0 : Double(bitEqualP2) / Double(rows))),
            ("cpp_loop_events_per_s", cpp.map { String(format: "%.0f", $0) } ?? "null"),
            ("seconds_p1", String(format: "%.3f", p1.seconds)),
            ("seconds_p2", String(format: "%.3f", p2.seconds)),
            // The history pass alone (job + join) of the median runs; the rest of `seconds` is serial
            // (sorting the labels before, merging the training set after).
            ("history_seconds_p1", String(format: "%.3f", p1.historySeconds)),
            ("history_seconds_p2", String(format: "%.3f", p2.historySeconds)),
            // Of the serial rest: loading and sorting the labels (before the history).
            ("label_seconds_p1", String(format: "%.3f", p1.labelSeconds)),
            ("label_seconds_p2", String(format: "%.3f", p2.labelSeconds)),
            // And merging the training set together (after the history).
            ("merge_seconds_p1", String(format: "%.3f", p1.mergeSeconds)),
            ("merge_seconds_p2", String(format: "%.3f", p2.mergeSeconds)),
            // Cores busy on average (process CPU time / wall time) in the median runs. P = 1 already
            // runs two threads (the reader, the keyed windows + join), so with two cores P2/P1 can
            // reach at most 2 / cpu_cores_p1 (P = 2 doing P = 1's CPU work with both cores busy
            // throughout): the ceiling of `p2_over_p1` measured in this run.
            ("cpu_cores_p1", String(format: "%.3f", cores1)),
            ("cpu_cores_p2", String(format: "%.3f", cores2)),
            ("p2_over_p1_ceiling", String(format: "%.3f", Double(min(2, ProcessInfo.processInfo.activeProcessorCount)) / max(cores1, 1e-9))),
            ("runs", "\(max(1, runs))"),
            ("seconds_p1_all", "[" + p1s.map { String(format: "%.3f", $0.seconds) }.joined(separator: ",") + "]"),
            ("seconds_p2_all", "[" + p2s.map { String(format: "%.3f", $0.seconds) }.joined(separator: ",") + "]"),
            // Each alternating pair's own ratio (the machine's speed drifts between pairs).
            ("p2_over_p1_pairs", "[" + zip(p1s, p2s).map { String(format: "%.3f", $0.seconds / max($1.seconds, 1e-9)) }.joined(separator: ",") + "]"),
            // Events the online job read (all of `events` unless its bounded read ended early) and
            // the requests it logged that the sample kept.
            ("online_events", "\(online.metrics.sourceRecords.current)"),
            ("online_events_per_s", String(format: "%.0f", Double(online.metrics.sourceRecords.current) / online.seconds)),
            ("online_requests_sampled", "\(logged.count)"),
            ("log_read_seconds", String(format: "%.3f", readLog.seconds)),
            ("late_updates", "\(refires)"),
            ("load_average_start", String(format: "%.2f", load0)),
            ("load_average_end", String(format: "%.2f", load1)),
        ]
        printFields(fields, json: json)
    }

    final class ResultBox: @unchecked Sendable { var result: Result<Backfill<UserActivityFeatures>.Result, any Error>? }

    /// The features object as the inference request writes it (doubles in shortest round-trip form).
    static func featuresJSON(_ values: [FeatureValue?], view: FeatureView) -> String {
        var w = JSONWriter(capacity: 128)
        w.beginObject()
        for (f, v) in zip(view.features, values) {
            w.key(f.name)
            switch v {
            case let .int(x)?: w.value(x)
            case let .double(x)?: w.value(x)
            case let .string(x)?: w.value(x)
            case nil: w.null()
            }
        }
        w.endObject()
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// Ints exact, doubles within 1e-12 relative (summation order of two readers).
    static func close(_ values: [FeatureValue?]?, _ served: String, view: FeatureView) -> Bool {
        guard let values else { return false }
        guard let object = try? JSONSerialization.jsonObject(with: Data(served.utf8)) as? [String: Any] else { return false }
        for (f, v) in zip(view.features, values) {
            switch v {
            case let .int(x)?: if (object[f.name] as? NSNumber)?.int64Value != x { return false }
            case let .double(x)?:
                guard let y = (object[f.name] as? NSNumber)?.doubleValue else { return false }
                if abs(x - y) > 1e-12 * max(abs(x), abs(y)) { return false }
            default: return false
            }
        }
        return true
    }

    static func workloadFile(events: Int) throws -> String {
        try FileManager.default.createDirectory(atPath: "data", withIntermediateDirectories: true)
        let p = "data/events_\(events).jsonl"
        if !FileManager.default.fileExists(atPath: p) { try WorkloadGenerator.writeFile(path: p, events: events) }
        return p
    }

    /// CPU time of every thread of this process so far (user + system), in seconds.
    static func processCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    static func loadAverage() -> Double {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)).flatMap { Double($0.split(separator: " ").first ?? "") } ?? -1
    }

    /// Builds (g++ -O2) and runs benchmarks/window-loop.cpp on `path`; its events/s.
    static func cppLoop(_ path: String) -> Double? {
        let binary = ".build/window-loop"
        if !FileManager.default.fileExists(atPath: binary) {
            guard run("/usr/bin/g++", ["-O2", "-std=c++17", "-o", binary, "benchmarks/window-loop.cpp"]) != nil else { return nil }
        }
        guard let out = run(binary, [path]),
              let object = try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any] else { return nil }
        return (object["events_per_s"] as? NSNumber)?.doubleValue
    }

    static func run(_ executable: String, _ arguments: [String]) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        guard (try? p.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return p.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
    }
}
