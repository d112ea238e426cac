public import StreamKit

extension DataStream where Element == DeadLetter<String> {
    /// Writes dead letters as NDJSON `{"reason":…,"code":…,"record":…}` lines (`code`: the class,
    /// e.g. `malformed_json`, as in the Kafka dead-letter header `streamkit.dlq.reason`).
    @discardableResult
    public func writeDeadLetters(to path: String) -> DataStream<Never> {
        writeLines(to: path, name: "dead-letters") { d, out in
            var w = JSONWriter(capacity: d.record.utf8.count + d.reason.utf8.count + 48)
            d.writeJSON(into: &w)
            out.append(contentsOf: w.bytes)
        }
    }
}

extension DeadLetter where Record == String {
    /// The object of a dead-letter file line: `{"reason":…,"code":…,"record":…}`.
    public func writeJSON(into w: inout JSONWriter) {
        w.beginObject(); w.key("reason"); w.value(reason); w.key("code"); w.value(code.rawValue)
        w.key("record"); w.value(record); w.endObject()
    }
}
