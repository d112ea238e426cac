import ArgumentParser
import StreamKit
import StreamKitQuery
import StreamKitWorkload

/// `bench decoder`: the pipeline's decode stage on workload lines — `FieldRecordDecoder` (reads
/// bad input as NaN / skips it) against `StrictFieldRecordDecoder` (dead-letters it), without and
/// with deduplication, in the same run.
struct BenchDecoder: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "decoder",
                                                    abstract: "FieldRecordDecoder vs StrictFieldRecordDecoder (validation, dedup) on workload lines.")
    @Option(help: "Lines to decode.") var events: Int = 1_000_000
    @Option(help: "Passes over the lines (the best pass is reported).") var passes: Int = 3
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        var generator = WorkloadGenerator(seed: 42, count: events)
        var bytes: [UInt8] = []
        var ranges: [Range<Int>] = []
        while let e = generator.next() {
            let start = bytes.count
            WorkloadGenerator.appendLine(of: e, to: &bytes)
            ranges.append(start..<(bytes.count - 1))
        }
        func once<D: LineDecoder>(_ d: inout D) throws -> Double where D.Output == FieldRecord<Int64> {
            var sum = 0.0
            let start = MonotonicClock.nanos()
            try bytes.withUnsafeBytes { all in
                for r in ranges {
                    if let rec = try d.decodeIfRelevant(UnsafeRawBufferPointer(rebasing: all[r])) { sum += rec.v0 }
                }
            }
            let rate = Double(ranges.count) / (Double(MonotonicClock.nanos() - start) / 1e9)
            if sum.isNaN { print("") }   // keep the work observable
            return rate
        }
        let paths = (key: "after.user_id", time: "after.ts_ms", values: ["after.amount"])
        var validation = FieldRecordValidation()
        validation.maxFutureSkew = .hours(1)
        var dedup = validation
        dedup.identityPaths = ["after.id"]
        // Passes interleave the decoders so machine noise hits them alike; the best pass of each is reported.
        var lenient = 0.0, strict = 0.0, deduplicating = 0.0
        for _ in 0..<passes {
            var a = try FieldRecordDecoder<Int64>(keyPath: paths.key, timePath: paths.time, valuePaths: paths.values)
            lenient = Swift.max(lenient, try once(&a))
            var b = try StrictFieldRecordDecoder<Int64>(keyPath: paths.key, timePath: paths.time, valuePaths: paths.values, validation: validation)
            strict = Swift.max(strict, try once(&b))
            var c = try StrictFieldRecordDecoder<Int64>(keyPath: paths.key, timePath: paths.time, valuePaths: paths.values, validation: dedup)
            deduplicating = Swift.max(deduplicating, try once(&c))
        }
        printFields([
            ("events", "\(events)"),
            ("field_record_decoder_per_s", String(format: "%.0f", lenient)),
            ("strict_decoder_per_s", String(format: "%.0f", strict)),
            ("strict_dedup_decoder_per_s", String(format: "%.0f", deduplicating)),
        ], json: json)
    }
}
