import Foundation
import StreamKitTesting
import Testing
import StreamKit

// Small shared helpers of the test suite (no behaviour under test lives here).

/// A test event: a key, an event time and a value.
struct Ev: Sendable, Hashable, StateCodable {
    var key: Int
    var ts: EventTime
    var value: Double
    init(_ key: Int, _ ts: EventTime, _ value: Double = 1) { self.key = key; self.ts = ts; self.value = value }
    func encode(to w: inout ByteWriter) { w.writeVarInt(Int64(key)); w.writeVarInt(ts); w.writeDouble(value) }
    init(from r: inout ByteReader) throws { key = Int(try r.readVarInt()); ts = try r.readVarInt(); value = try r.readDouble() }
}

/// count and sum of `value`: together they identify a window's contents in the tests.
typealias CountSum = Aggregate2<CountAggregate<Ev>, SumAggregate<Ev>>
func countSum() -> CountSum { Aggregate2(CountAggregate<Ev>(), SumAggregate<Ev> { $0.value }) }

/// One fired window, comparable.
struct Row: Hashable, Comparable, CustomStringConvertible {
    var key: Int
    var start: EventTime
    var end: EventTime
    var count: Int64
    var sum: Double
    static func < (a: Row, b: Row) -> Bool {
        (a.start, a.end, a.key, a.count, a.sum) < (b.start, b.end, b.key, b.count, b.sum)
    }
    var description: String { "k\(key)[\(start),\(end)) n=\(count) Σ=\(sum)" }
}

extension WindowResult where Key == Int, Value == (Int64, Double) {
    var row: Row { Row(key: key, start: windowStart, end: windowEnd, count: value.0, sum: value.1) }
}

func rows<W: Sequence>(_ records: W) -> [Row] where W.Element == EmittedRecord<WindowResult<Int, (Int64, Double)>> {
    records.map(\.value.row).sorted()
}

/// A fresh temporary directory, removed by `cleanup()`.
struct TempDir {
    let path: String
    init(_ name: String = "streamkit-test") {
        path = NSTemporaryDirectory() + "\(name)-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { path + "/" + name }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// The lines of a file, sorted (a multiset of lines).
func sortedLines(_ path: String) throws -> [String] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    return text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init).sorted()
}

