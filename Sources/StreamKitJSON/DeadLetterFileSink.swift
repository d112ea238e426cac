public import StreamKit

extension DataStream where Element == DeadLetter<String> {
    /// Writes dead letters as NDJSON `{"reason":…,"record":…}` lines.
    @discardableResult
    public func writeDeadLetters(to path: String) -> DataStream<Never> {
        writeLines(to: path, name: "dead-letters") { d, out in
            var w = JSONWriter(capacity: d.record.utf8.count + d.reason.utf8.count + 32)
            w.beginObject(); w.key("reason"); w.value(d.reason); w.key("record"); w.value(d.record); w.endObject()
            out.append(contentsOf: w.bytes)
        }
    }
}
