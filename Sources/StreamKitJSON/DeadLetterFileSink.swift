public import StreamKit

extension DataStream where Element == DeadLetter<String> {
    /// Writes dead letters as NDJSON `{"reason":…,"code":…,"record":…}` lines (`code`: the class,
    /// e.g. `malformed_json`, as in the Kafka dead-letter header `streamkit.dlq.reason`).
    @discardableResult
    public func writeDeadLetters(to path: String) -> DataStream<Never> {
        writeLines(to: path, name: "dead-letters") { d, out in
            var w = JSONWriter(capacity: d.record.utf8.count + d.reason.utf8.count + 48)
            w.beginObject(); w.key("reason"); w.value(d.reason); w.key("code"); w.value(d.code.rawValue)
            w.key("record"); w.value(d.record); w.endObject()
            out.append(contentsOf: w.bytes)
        }
    }
}
