public import StreamKit
public import Glibc

/// The standard benchmark workload (`shared/WORKLOAD.md`) generated on the fly, byte for byte as
/// the NDJSON file, and decoded by `decoder` like a file line (so JSON parsing is part of the cost).
public struct WorkloadSource<Decoder: LineDecoder>: Source {
    public let events: Int
    public let seed: UInt64
    public let decoder: Decoder
    public init(events: Int, seed: UInt64 = 42, decoder: Decoder) { self.events = events; self.seed = seed; self.decoder = decoder }
    public var parallelism: Int { 1 }
    public func makeReader(subtask: Int) throws -> Reader { Reader(events: events, seed: seed, decoder: decoder) }

    public struct Reader: SourceReader {
        @usableFromInline var generator: WorkloadGenerator
        @usableFromInline var decoder: Decoder
        @usableFromInline let events: Int
        @usableFromInline let seed: UInt64
        @usableFromInline var produced = 0
        @usableFromInline var line: [UInt8] = []
        @inlinable init(events: Int, seed: UInt64, decoder: Decoder) {
            self.events = events; self.seed = seed; self.decoder = decoder
            generator = WorkloadGenerator(seed: seed, count: events)
        }
        @inlinable
        public mutating func poll(into batch: inout Batch<Decoder.Output>, deadLetters: inout [DeadLetter<String>], maxRecords: Int) throws -> SourceStatus {
            var n = 0
            while n < maxRecords, let e = generator.next() {
                line.removeAll(keepingCapacity: true)
                WorkloadGenerator.appendLine(of: e, to: &line)
                let value = try line.withUnsafeBytes { try decoder.decodeIfRelevant(UnsafeRawBufferPointer(rebasing: $0[0..<($0.count - 1)])) }
                if let value { batch.append(value, timestamp: Watermark.none, watermark: Watermark.none) }
                n += 1; produced += 1
            }
            return produced >= events ? .finished : .more
        }
        public func snapshotPosition(into writer: inout ByteWriter) { writer.writeVarUInt(UInt64(produced)) }
        public mutating func restorePosition(_ bytes: [UInt8]) throws {
            var r = ByteReader(bytes)
            let n = Int(try r.readVarUInt())
            generator = WorkloadGenerator(seed: seed, count: events)
            for _ in 0..<n { _ = generator.next() }
            produced = n
        }
    }
}

