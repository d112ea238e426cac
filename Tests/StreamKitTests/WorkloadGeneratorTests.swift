import Foundation
import Testing
import StreamKit
import StreamKitWorkload

/// Expected values come from the reference generator
/// (`python3 /work/shared/gen_events.py 10000 ref.jsonl`, seed 42); the test itself needs no Python.
@Suite struct WorkloadGeneratorTests {
    static let referenceLines: [Int: String] = [
        1: #"{"before":null,"after":{"id":1,"user_id":75414,"item_id":42292,"interaction_type":"view","amount":290.31,"ts_ms":1700000000030},"source":{"version":"2.5.0.Final","connector":"postgresql","name":"app","ts_ms":1700000000030,"db":"app","schema":"public","table":"user_interactions","txId":1001,"lsn":100000064},"op":"c","ts_ms":1700000000040}"#,
        2: #"{"before":null,"after":{"id":2,"user_id":89063,"item_id":24926,"interaction_type":"view","amount":279.43,"ts_ms":1700000000860},"source":{"version":"2.5.0.Final","connector":"postgresql","name":"app","ts_ms":1700000000860,"db":"app","schema":"public","table":"user_interactions","txId":1002,"lsn":100000128},"op":"c","ts_ms":1700000000870}"#,
        3: #"{"before":null,"after":{"id":3,"user_id":94208,"item_id":39647,"interaction_type":"purchase","amount":115.33,"ts_ms":1699999999322},"source":{"version":"2.5.0.Final","connector":"postgresql","name":"app","ts_ms":1699999999322,"db":"app","schema":"public","table":"user_interactions","txId":1003,"lsn":100000192},"op":"c","ts_ms":1699999999332}"#,
        6: #"{"before":null,"after":{"id":6,"user_id":86386,"item_id":2998,"interaction_type":"click","amount":162.55,"ts_ms":1700000000691},"source":{"version":"2.5.0.Final","connector":"postgresql","name":"app","ts_ms":1700000000691,"db":"app","schema":"public","table":"user_interactions","txId":1006,"lsn":100000384},"op":"c","ts_ms":1700000000701}"#,
        13: #"{"before":null,"after":{"id":13,"user_id":7831,"item_id":1943,"interaction_type":"view","amount":322.03,"ts_ms":1699999999815},"source":{"version":"2.5.0.Final","connector":"postgresql","name":"app","ts_ms":1699999999815,"db":"app","schema":"public","table":"user_interactions","txId":1013,"lsn":100000832},"op":"c","ts_ms":1699999999825}"#,
        319: #"{"before":null,"after":{"id":319,"user_id":84862,"item_id":16927,"interaction_type":"view","amount":0.38,"ts_ms":1700000000522},"source":{"version":"2.5.0.Final","connector":"postgresql","name":"app","ts_ms":1700000000522,"db":"app","schema":"public","table":"user_interactions","txId":1319,"lsn":100020416},"op":"c","ts_ms":1700000000532}"#,
    ]
    /// FNV-1a-64 and byte length of the reference file's first 10,000 lines.
    static let reference10kFNV: UInt64 = 0x153E_9DE9_7E8E_907E
    static let reference10kBytes = 3_427_949

    static func fnv1a64(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    @Test func firstEventsMatchTheReference() {
        var generator = WorkloadGenerator(seed: 42)
        let first = generator.next()
        #expect(first == WorkloadEvent(id: 1, userId: 75414, itemId: 42292, interactionType: .view,
                                       amountCents: 29031, tsMs: 1_700_000_000_030))
        var lines: [Int: String] = [:]
        var generator2 = WorkloadGenerator()  // default seed 42
        for event in generator2.prefix(319) {
            var bytes: [UInt8] = []
            WorkloadGenerator.appendLine(of: event, to: &bytes)
            #expect(bytes.last == UInt8(ascii: "\n"))
            lines[Int(event.id)] = String(decoding: bytes.dropLast(), as: UTF8.self)
        }
        _ = generator2.next()
        for (lineNumber, expected) in Self.referenceLines {
            #expect(lines[lineNumber] == expected, "line \(lineNumber)")
        }
    }

    @Test func first10kLinesMatchTheReferenceChecksum() {
        var generator = WorkloadGenerator(seed: 42, count: 10_000)
        var bytes: [UInt8] = []
        #expect(generator.appendLines(20_000, to: &bytes) == 10_000)
        #expect(generator.next() == nil)
        #expect(bytes.count == Self.reference10kBytes)
        #expect(Self.fnv1a64(bytes) == Self.reference10kFNV)
    }

    @Test func writeFileMatchesTheReferenceChecksum() throws {
        let path = NSTemporaryDirectory() + "streamkit-events-" + UUID().uuidString + ".jsonl"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let written = try WorkloadGenerator.writeFile(path: path, events: 10_000)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(written == Self.reference10kBytes)
        #expect(bytes.count == Self.reference10kBytes)
        #expect(Self.fnv1a64(bytes) == Self.reference10kFNV)
        // Rewriting truncates.
        #expect(try WorkloadGenerator.writeFile(path: path, events: 1) == Self.referenceLines[1]!.utf8.count + 1)
        #expect(throws: StreamKitError.self) { try WorkloadGenerator.writeFile(path: "/nonexistent/dir/x", events: 1) }
    }

    @Test func distributionAndRanges() {
        var counts: [WorkloadEvent.InteractionType: Int] = [:]
        var maxDisorder: Int64 = 0
        var maxTs = Int64.min
        for event in WorkloadGenerator(seed: 42, count: 20_000) {
            #expect((1 ... 100_000).contains(event.userId))
            #expect((1 ... 50_000).contains(event.itemId))
            #expect((0 ... 50_000).contains(event.amountCents))
            #expect(abs(event.tsMs - (WorkloadGenerator.baseTimestampMs + event.id - 1)) <= 1000)
            counts[event.interactionType, default: 0] += 1
            maxTs = max(maxTs, event.tsMs)
            maxDisorder = max(maxDisorder, maxTs - event.tsMs)
        }
        #expect(maxDisorder < 2000)
        #expect((15_500 ... 16_500).contains(counts[.view] ?? 0))
        #expect((2_700 ... 3_300).contains(counts[.click] ?? 0))
        #expect((800 ... 1_200).contains(counts[.purchase] ?? 0))
        #expect(WorkloadEvent.InteractionType.allCases.map(\.name) == ["view", "click", "purchase"])
    }

    @Test func formatsEdgeCaseValues() {
        var bytes: [UInt8] = []
        let event = WorkloadEvent(id: 0, userId: 9, itemId: 10, interactionType: .click, amountCents: 5, tsMs: 0)
        WorkloadGenerator.appendLine(of: event, to: &bytes)
        let line = String(decoding: bytes, as: UTF8.self)
        #expect(line.hasPrefix(#"{"before":null,"after":{"id":0,"user_id":9,"item_id":10,"interaction_type":"click","amount":0.05,"ts_ms":0}"#))
        #expect(line.hasSuffix(#""txId":1000,"lsn":100000000},"op":"c","ts_ms":10}"# + "\n"))

        bytes.removeAll()
        let extreme = WorkloadEvent(id: Int64.max / 128, userId: Int64.min, itemId: 99, interactionType: .purchase,
                                    amountCents: 50_000, tsMs: -5)
        WorkloadGenerator.appendLine(of: extreme, to: &bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains(#""user_id":-9223372036854775808,"#))
        #expect(text.contains(#""amount":500.00,"ts_ms":-5}"#))
        #expect(text.hasSuffix(#""ts_ms":5}"# + "\n"))
        #expect(bytes.count <= WorkloadGenerator.maxLineLength)

        // The SplitMix64 stream itself (first outputs for seed 42).
        var rng = WorkloadGenerator.SplitMix64(seed: 42)
        #expect(1 + rng.next() % 100_000 == 75414)
    }
}
