import Foundation
import StreamKit
import StreamKitTesting

/// Loads the status page in a real headless Chromium (Debian's `chromium`): the DOM after the
/// page's scripts ran for a few (virtual) seconds, and a screenshot kept as a test artifact.
enum StatusPageBrowser {
    static var artifactDirectory: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = root.appendingPathComponent(".build/artifacts").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static var chromium: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The page's DOM after `budgetMillis` of virtual time (its refreshes ran); also writes `screenshot`.
    static func dumpDOM(port: Int, token: String, screenshot: String?, budgetMillis: Int = 6000) throws -> String {
        guard let chromium else { throw StreamKitError(.configuration, "chromium is not installed (scripts/setup installs it)") }
        let url = "http://127.0.0.1:\(port)/#token=\(token)"
        // A profile of its own per call: suites run in parallel, and Chromium locks its profile.
        let profile = NSTemporaryDirectory() + "streamkit-chromium-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
                      "--user-data-dir=" + profile,
                      "--virtual-time-budget=\(budgetMillis)"]
        let dom = try run(chromium, common + ["--dump-dom", url])
        if let screenshot {
            _ = try run(chromium, common + ["--window-size=1400,700", "--screenshot=\(screenshot)", url])
        }
        return dom
    }

    /// One Chromium run, at most two minutes (its helper processes die with it). A headless
    /// Chromium that hangs is tried once more: the page's checks are the test's, not the browser's.
    private static func run(_ path: String, _ arguments: [String]) throws -> String {
        var attempt = 0
        while true {
            attempt += 1
            do {
                let r = try ChildProcess.run(path, arguments, timeout: .seconds(120))
                guard r.status == 0 else { throw StreamKitError(.io, "chromium exited with \(r.status): \(r.stderr.suffix(2000))") }
                return r.stdout
            } catch let e as StreamKitError where attempt < 2 && e.message.contains("ran longer than") {
                continue
            }
        }
    }

    /// The `<tr data-source-id="id">…</tr>` of the DOM.
    static func row(of id: String, in dom: String, kind: String = "source") -> String? {
        guard let start = dom.range(of: "<tr data-\(kind)-id=\"\(id)\"") else { return nil }
        guard let end = dom.range(of: "</tr>", range: start.upperBound..<dom.endIndex) else { return nil }
        return String(dom[start.lowerBound..<end.upperBound])
    }

    /// The text of the `<td class="… name">` cell of a row.
    static func cell(_ name: String, in row: String) -> String? {
        guard let r = row.range(of: #"<td class="[^"]*\b\#(name)\b[^"]*">([^<]*)</td>"#, options: .regularExpression) else { return nil }
        let cell = row[r]
        guard let gt = cell.firstIndex(of: ">"), let lt = cell.range(of: "</td>") else { return nil }
        return String(cell[cell.index(after: gt)..<lt.lowerBound]).replacingOccurrences(of: ",", with: "")
    }
}
