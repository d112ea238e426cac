import Foundation
import StreamKit

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

    private static func run(_ path: String, _ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw StreamKitError(.io, "chromium exited with \(p.terminationStatus)") }
        return String(decoding: data, as: UTF8.self)
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
