import Foundation
import Testing
import StreamKit
import StreamKitTesting

/// One sample of a Prometheus text exposition: `name{labels} value`.
struct PrometheusSample: Sendable {
    var name: String
    var labels: [String: String]
    var value: Double
}

/// A scraped `/metrics` body, parsed into samples (tests only: a small parser of the text format).
struct MetricsScrape: Sendable {
    let body: String
    let samples: [PrometheusSample]

    init(body: String) {
        self.body = body
        var out: [PrometheusSample] = []
        for line in body.split(separator: "\n") where !line.hasPrefix("#") && !line.isEmpty {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = line[..<space]
            var labels: [String: String] = [:]
            var name = String(series)
            if let open = series.firstIndex(of: "{"), series.hasSuffix("}") {
                name = String(series[..<open])
                let inner = series[series.index(after: open)..<series.index(before: series.endIndex)]
                // label="value" pairs; values here never contain `",` (topic names, numbers, job names).
                for pair in inner.split(separator: ",") {
                    let kv = pair.split(separator: "=", maxSplits: 1)
                    guard kv.count == 2 else { continue }
                    labels[String(kv[0])] = String(kv[1].dropFirst().dropLast())
                }
            }
            out.append(PrometheusSample(name: name, labels: labels, value: value))
        }
        samples = out
    }

    /// The samples named `name` whose labels include `labels`.
    func series(_ name: String, _ labels: [String: String] = [:]) -> [PrometheusSample] {
        samples.filter { s in s.name == name && labels.allSatisfy { s.labels[$0.key] == $0.value } }
    }
    /// The sum of ``series(_:_:)``.
    func sum(_ name: String, _ labels: [String: String] = [:]) -> Double { series(name, labels).reduce(0) { $0 + $1.value } }
}

/// `promtool` from Debian's `prometheus` package (installed by scripts/setup).
enum Promtool {
    static let path: String? = {
        for p in ["/usr/bin/promtool", "/usr/local/bin/promtool"] where FileManager.default.isExecutableFile(atPath: p) { return p }
        return nil
    }()
    /// Under CI a missing promtool fails the tests that need it instead of skipping them.
    static var requiredByCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }
    /// Whether tests needing promtool run: it is installed, or CI requires it (and they fail).
    static var runnable: Bool { path != nil || requiredByCI }

    /// `promtool check metrics` on `body`: its exit status and everything it printed (lint
    /// problems included; a clean exposition prints nothing).
    static func checkMetrics(_ body: String) throws -> (status: Int32, output: String) {
        guard let path else {
            throw StreamKitError(.configuration, "promtool not found (install Debian's prometheus package: scripts/setup)")
        }
        let r = try ChildProcess.run(path, ["check", "metrics"], input: Array(body.utf8), timeout: .seconds(120))
        return (r.status, r.stdout + r.stderr)
    }
}

/// `GET http://host:port/metrics`: the body, or nil when nothing answers (yet).
func fetchMetrics(port: Int, host: String = "127.0.0.1", timeout: Duration = .seconds(5)) -> String? {
    // A blocking HTTP/1.0 GET on a socket of the calling thread: no process to spawn and no
    // Foundation machinery (Process's exit monitoring, URLSession) that needs the busy dispatch
    // pool, so a poll costs the same when a hundred suites start at once.
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var tv = timeval(tv_sec: Int(max(1, timeout.components.seconds)), tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(port).bigEndian
    guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { return nil }
    let connected = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return nil }
    let request = Array("GET /metrics HTTP/1.0\r\nHost: \(host):\(port)\r\nConnection: close\r\n\r\n".utf8)
    guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else { return nil }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n == 0 { break }
        guard n > 0 else { return nil }   // an error or the timeout
        response += buffer[0..<n]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard let headerEnd = text.range(of: "\r\n\r\n"), text.hasPrefix("HTTP/1.1 200") || text.hasPrefix("HTTP/1.0 200") else { return nil }
    return String(text[headerEnd.upperBound...])
}

/// Scrapes `/metrics` until `ready` holds (or `timeout`), checks the last body with
/// `promtool check metrics` (exit 0 and no lint output expected) and returns it parsed.
/// Reusable by any test that runs a command with `--metrics-port`.
func scrapeAndCheckMetrics(port: Int, timeout: Duration = .seconds(300), process: Process? = nil,
                           until ready: @escaping @Sendable (MetricsScrape) -> Bool) async throws -> MetricsScrape {
    // Polled on a thread of its own: a window the condition holds in (e.g. between two restarts)
    // must not be missed because the concurrency pool is busy with other suites.
    nonisolated(unsafe) let watched = process
    let last: MetricsScrape? = try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            let deadline = ContinuousClock.now + timeout
            var last: MetricsScrape? = nil
            while ContinuousClock.now < deadline {
                if let watched, !watched.isRunning {
                    continuation.resume(throwing: StreamKitError(.cancelled, "the process serving /metrics exited with status \(watched.terminationStatus)"))
                    return
                }
                if let body = fetchMetrics(port: port) {
                    let scrape = MetricsScrape(body: body)
                    last = scrape
                    if ready(scrape) { break }
                }
                usleep(250_000)
            }
            continuation.resume(returning: last)
        }
    }
    let scrape = try #require(last, "nothing answered at http://127.0.0.1:\(port)/metrics within \(timeout)")
    #expect(ready(scrape), "the scraped metrics never became ready:\n\(scrape.body.prefix(4000))")
    let check = try Promtool.checkMetrics(scrape.body)
    #expect(check.status == 0, "promtool check metrics exited \(check.status):\n\(check.output)")
    #expect(check.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "promtool reported:\n\(check.output)")
    return scrape
}

/// A TCP port free on 127.0.0.1 right now (bind to port 0, read it back, close).
func freeLocalPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}
