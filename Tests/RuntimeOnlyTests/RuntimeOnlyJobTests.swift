import Foundation
import Testing
import StreamKit

/// The runtime is a library of its own: a job builds and runs with nothing but `import StreamKit`
/// (this target depends on the runtime alone), and the runtime's dependency closure in the
/// package manifest holds no connector C library.
@Suite struct RuntimeOnlyJobTests {
    struct Click: Sendable {
        var user: Int64
        var time: EventTime
        var amount: Double
    }

    /// Sum and count of `amount` per key and window, as one user-defined aggregate.
    struct SpendAggregate: AggregateFunction {
        struct Accumulator: Sendable, StateCodable, Equatable {
            var sum = 0.0
            var count: Int64 = 0
            init() {}
            func encode(to w: inout ByteWriter) { w.writeDouble(sum); w.writeVarInt(count) }
            init(from r: inout ByteReader) throws { sum = try r.readDouble(); count = try r.readVarInt() }
        }
        func makeAccumulator() -> Accumulator { Accumulator() }
        func add(_ value: Click, to a: inout Accumulator) { a.sum += value.amount; a.count += 1 }
        func merge(_ other: Accumulator, into a: inout Accumulator) { a.sum += other.sum; a.count += other.count }
        func result(_ a: Accumulator) -> Accumulator { a }
    }

    @Test func aJobRunsWithTheRuntimeAlone() async throws {
        // Two users, events every 10 s over two minutes, one tumbling minute per window.
        var clicks: [Click] = []
        for i in 0..<12 { clicks.append(Click(user: Int64(i % 2), time: EventTime(i * 10_000), amount: Double(i))) }
        let input = clicks
        let out = CollectedOutput<WindowResult<Int64, SpendAggregate.Accumulator>>()
        let job = Job("runtime-only") { env in
            env.source(CollectionSource(input))
                .assignTimestamps({ $0.time }, watermark: .boundedOutOfOrderness(.zero))
                .keyBy { $0.user }
                .window(.tumbling(size: .minutes(1)))
                .aggregate(SpendAggregate())
                .collect(into: out)
        }
        _ = try await job.run(parallelism: 2)
        let rows = out.values.sorted { ($0.windowStart, $0.key) < ($1.windowStart, $1.key) }
        #expect(rows.count == 4)
        var expected: [(Int64, EventTime, Double, Int64)] = []
        for window in 0..<2 {
            for user in Int64(0)...1 {
                let members = clicks.filter { $0.user == user && Int($0.time) / 60_000 == window }
                expected.append((user, EventTime(window * 60_000), members.reduce(0) { $0 + $1.amount }, Int64(members.count)))
            }
        }
        for (row, e) in zip(rows, expected) {
            #expect(row.key == e.0 && row.windowStart == e.1 && row.value.sum == e.2 && row.value.count == e.3)
        }
    }

    /// Reads the manifest (`swift package dump-package`, in a scratch folder of its own so it never
    /// waits for the running build's lock) and walks the runtime target's dependencies.
    @Test func theRuntimeLinksNoConnectorLibrary() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("streamkit-manifest-\(getpid())")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let swift = ProcessInfo.processInfo.environment["SWIFT_EXEC_DRIVER"]
            ?? (["/opt/swift/usr/bin/swift", "/usr/bin/swift"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "swift")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: swift)
        p.arguments = ["package", "--package-path", root.path, "--scratch-path", scratch.path, "dump-package"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "swift package dump-package failed")
        let manifest = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let targets = try #require(manifest["targets"] as? [[String: Any]])
        var byName: [String: [String: Any]] = [:]
        for t in targets { if let n = t["name"] as? String { byName[n] = t } }

        func localDependencies(of target: [String: Any]) -> [String] {
            (target["dependencies"] as? [[String: Any]] ?? []).compactMap { dep in
                for kind in ["byName", "target"] { if let v = dep[kind] as? [Any], let n = v.first as? String { return n } }
                return nil  // products of other packages: swift-collections, swift-log, ...
            }
        }
        var closure: Set<String> = []
        var queue = ["StreamKit"]
        while let name = queue.popLast() {
            guard closure.insert(name).inserted, let t = byName[name] else { continue }
            queue.append(contentsOf: localDependencies(of: t))
        }
        let connectorLibraries: Set<String> = ["CRdKafka", "CHiredis", "CLibPQ"]
        #expect(closure.contains("StreamKit") && closure.contains("CZstd"))
        #expect(closure.isDisjoint(with: connectorLibraries), "runtime closure: \(closure.sorted())")
        // Each connector C library is a dependency of exactly one Swift target.
        for library in connectorLibraries {
            let users = targets.filter { localDependencies(of: $0).contains(library) }.compactMap { $0["name"] as? String }
            #expect(users.count == 1, "\(library) is a dependency of \(users)")
        }
    }
}
