import Synchronization
public import StreamKit
public import StreamKitJSON
public import StreamKitWorkload
import Glibc

/// An ad-hoc keyed, windowed aggregation over NDJSON (Debezium envelopes or plain rows): what
/// `cdc-features window` and `cdc-features bench window` run.
public struct WindowQuery: Sendable {
    public var input: Input
    public var keyPath: String
    public var timePath: String
    public var window: WindowAssigner
    public var columns: [AggregateColumn]
    public var valuePaths: [String]
    public var watermarkDelay: Duration = .seconds(2)
    public var allowedLateness: Duration = .zero
    public var idleness: Duration? = nil
    /// The key's type: integers are faster (no key comparisons); `auto` looks at the first rows of a file.
    public var keyType: KeyType = .auto

    public enum KeyType: String, Sendable, CaseIterable { case auto, int, string }

    public enum Input: Sendable {
        case file(String)
        /// The standard workload generated in memory.
        case workload(events: Int, seed: UInt64)
    }

    public init(input: Input, keyPath: String, timePath: String, window: WindowAssigner, aggregates: String) throws {
        self.input = input; self.keyPath = keyPath; self.timePath = timePath; self.window = window
        (columns, valuePaths) = try AggregateColumn.parseList(aggregates)
    }

    /// Where results go.
    public enum Output: Sendable {
        /// NDJSON rows to a file (`-` for stdout), exactly once across restores.
        case file(String)
        /// Checksums only (the benchmark).
        case checksums(WindowChecksums)
        /// In memory, as rows in column order (tests).
        case collect(CollectedOutput<WindowRow>)
    }

    /// Builds the job. `late`: where records later than allowed go; `deadLetters`: where malformed lines go.
    public func job(output: Output, late: String? = nil, deadLetters: String? = nil) throws -> Job {
        if try resolvedKeyType() == .int {
            return try job(Int64.self, output: output, late: late, deadLetters: deadLetters)
        }
        return try job(FieldKey.self, output: output, late: late, deadLetters: deadLetters)
    }

    /// `auto`: integer keys when the key of the first row that has one is a number.
    public func resolvedKeyType() throws -> KeyType {
        guard keyType == .auto else { return keyType }
        guard case let .file(path) = input, path != "-" else { return path(of: input) == nil ? .int : .string }
        guard let f = fopen(path, "r") else { throw StreamKitError(.io, "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { fclose(f) }
        let probe = try FieldRecordDecoder<FieldKey>(keyPath: keyPath, timePath: timePath, valuePaths: [])
        var decoder = probe
        var line = [CChar](repeating: 0, count: 1 << 16)
        for _ in 0..<100 {
            guard fgets(&line, Int32(line.count), f) != nil else { break }
            let n = strlen(line)
            let length = n > 0 && line[n - 1] == 10 ? n - 1 : n
            let row = line.withUnsafeBytes { raw in try? decoder.decode(UnsafeRawBufferPointer(rebasing: raw[0..<length])) }
            if let r = row, r.kind == .row {
                if case .int = r.key { return .int } else { return .string }
            }
        }
        return .string
    }

    private func path(of input: Input) -> String? {
        if case let .file(p) = input { return p }
        return nil
    }

    func job<Key: FieldKeyType>(_: Key.Type, output: Output, late: String?, deadLetters: String?) throws -> Job {
        switch valuePaths.count {
        case 0, 1: return try job(Key.self, FieldStats1.self, output: output, late: late, deadLetters: deadLetters)
        case 2: return try job(Key.self, FieldStats2.self, output: output, late: late, deadLetters: deadLetters)
        default: return try job(Key.self, FieldStats4.self, output: output, late: late, deadLetters: deadLetters)
        }
    }

    func job<Key: FieldKeyType, Block: FieldStatsBlock>(_: Key.Type, _: Block.Type, output: Output, late: String?, deadLetters: String?) throws -> Job {
        let decoder = try FieldRecordDecoder<Key>(keyPath: keyPath, timePath: timePath, valuePaths: valuePaths)
        let q = self
        return Job("window") { env in
            let raw: DataStream<FieldRecord<Key>>
            switch q.input {
            case let .file(path): raw = env.source(FileSource(path: path, decoder: decoder), name: "file")
            case let .workload(n, seed): raw = env.source(WorkloadSource(events: n, seed: seed, decoder: decoder), name: "workload")
            }
            if let deadLetters { raw.sideOutput(DeadLetter<String>.self).writeDeadLetters(to: deadLetters) }
            var windowed = raw
                .assignTimestamps({ $0.time }, watermark: .boundedOutOfOrderness(q.watermarkDelay), idleness: q.idleness)
                .keyBy { $0.key }
                .window(q.window, allowedLateness: q.allowedLateness)
            if let late {
                let keyPath = q.keyPath, timePath = q.timePath
                windowed = windowed.sideOutputLateData { stream in
                    stream.writeLines(to: late, name: "late-sink") { r, out in
                        var w = JSONWriter(capacity: 96)
                        w.beginObject(); w.key("key"); r.key.write(to: &w)
                        w.key("time"); w.value(r.time)
                        w.key("reason"); w.value("late: all windows of \(timePath) closed (key \(keyPath))")
                        w.endObject()
                        out.append(contentsOf: w.bytes)
                    }
                }
            }
            let results = windowed.aggregate(FieldAggregate<Key, Block>())
            let columns = q.columns
            switch output {
            case let .file(path):
                results.writeLines(to: path) { r, out in
                    var w = JSONWriter(capacity: 160)
                    AggregateColumn.writeRow(r, columns: columns, to: &w)
                    out.append(contentsOf: w.bytes)
                }
            case let .checksums(sums):
                results.sink("checksums") {
                    DiscardSink(initial: WindowChecksums.Partial(), observe: { p, r in p.add(r, columns: columns) },
                                done: { sums.merge($0) })
                }
            case let .collect(target):
                results.map("rows") { r in
                    WindowRow(key: r.key.fieldKey, windowStart: r.windowStart, windowEnd: r.windowEnd,
                              values: columns.map { c in c.function == .count ? Double(r.value.count) : c.value(of: r.value) })
                }.collect(into: target)
            }
        }
    }
}

