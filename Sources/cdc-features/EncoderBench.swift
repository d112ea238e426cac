import ArgumentParser
import StreamKit
import StreamKitJSON

/// `bench encoder`: `JSONLineEncoder` (Encodable) against the same rows written by hand with `JSONWriter`.
struct BenchEncoder: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "encoder",
                                                    abstract: "JSONLineEncoder vs hand-written JSONWriter on user-activity rows.")
    @Option(help: "Rows to encode.") var rows: Int = 1_000_000
    @Flag(help: "Print one JSON object.") var json = false

    struct Row: Encodable {
        var user_id: Int64, window_start: Int64, window_end: Int64, count: Int64, sum: Double, avg: Double, max: Double
    }

    func run() throws {
        func row(_ i: Int) -> Row {
            let n = Int64(i % 97 + 1), s = Double(i % 10_007) * 1.37
            return Row(user_id: Int64(i % 100_000), window_start: 1_700_000_000_000 + Int64(i / 1000) * 60_000,
                       window_end: 1_700_000_300_000 + Int64(i / 1000) * 60_000, count: n, sum: s, avg: s / Double(n), max: s / 2)
        }
        var out: [UInt8] = []
        out.reserveCapacity(1 << 20)
        var bytesHand = 0, bytesEncoder = 0
        var start = MonotonicClock.nanos()
        for i in 0..<rows {
            let r = row(i)
            var w = JSONWriter(capacity: 160)
            w.beginObject()
            w.field("user_id", r.user_id); w.field("window_start", r.window_start); w.field("window_end", r.window_end)
            w.field("count", r.count); w.field("sum", r.sum); w.field("avg", r.avg); w.field("max", r.max)
            w.endObject()
            out.append(contentsOf: w.bytes); out.append(0x0A)
            if out.count > 1 << 19 { bytesHand += out.count; out.removeAll(keepingCapacity: true) }
        }
        bytesHand += out.count; out.removeAll(keepingCapacity: true)
        let hand = Double(MonotonicClock.nanos() - start) / 1e9
        start = MonotonicClock.nanos()
        for i in 0..<rows {
            try JSONLineEncoder.encode(row(i), appendingTo: &out); out.append(0x0A)
            if out.count > 1 << 19 { bytesEncoder += out.count; out.removeAll(keepingCapacity: true) }
        }
        bytesEncoder += out.count
        let encoder = Double(MonotonicClock.nanos() - start) / 1e9
        printFields([
            ("rows", "\(rows)"),
            ("jsonwriter_rows_per_s", String(format: "%.0f", Double(rows) / hand)),
            ("encoder_rows_per_s", String(format: "%.0f", Double(rows) / encoder)),
            ("jsonwriter_ns_per_row", String(format: "%.1f", hand * 1e9 / Double(rows))),
            ("encoder_ns_per_row", String(format: "%.1f", encoder * 1e9 / Double(rows))),
            ("same_bytes", bytesHand == bytesEncoder ? "true" : "false"),
        ], json: json)
    }
}
