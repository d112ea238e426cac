public import StreamKitRedis
import StreamKitJSON

/// How a training set is written: NDJSON (one object per row) or CSV (a header line, then one
/// line per row).
///
/// Columns, in order: `entity`, `label_time` (ms), `label` (the label's JSON text), one column per
/// feature of the view in its order, `feature_event_time` (ms). Missing features and a missing
/// `feature_event_time` are `null` in NDJSON and empty in CSV. Doubles are written in their
/// shortest round-trip form, so reading a value back gives the same bits.
public enum TrainingSetFormat: String, Sendable, CaseIterable {
    case ndjson, csv

    /// The file header (CSV) or nothing (NDJSON).
    public func header(view: FeatureView) -> String? {
        guard self == .csv else { return nil }
        return (["entity", "label_time", "label"] + view.features.map(\.name) + ["feature_event_time"]).map(Self.csvField).joined(separator: ",")
    }

    /// One row without its newline.
    public func line(_ row: TrainingRow, view: FeatureView) -> String {
        switch self {
        case .ndjson:
            var w = JSONWriter(capacity: 256)
            w.beginObject()
            w.field("entity", row.label.entity)
            w.field("label_time", row.label.time)
            w.key("label"); var label = row.label.label
            label.withUTF8 { w.rawValue(UnsafeRawBufferPointer($0)) }
            for (i, f) in view.features.enumerated() {
                w.key(f.name)
                switch row.features?[i] {
                case let .int(v)?: w.value(v)
                case let .double(v)?: w.value(v)
                case let .string(v)?: w.value(v)
                default: w.null()
                }
            }
            w.key("feature_event_time")
            if let t = row.featureEventTime { w.value(t) } else { w.null() }
            w.endObject()
            return String(decoding: w.bytes, as: UTF8.self)
        case .csv:
            var fields = [Self.csvField(row.label.entity), String(row.label.time), Self.csvField(row.label.label)]
            for i in view.features.indices {
                switch row.features?[i] {
                case let .int(v)?: fields.append(String(v))
                case let .double(v)?: fields.append(v.isFinite ? "\(v)" : "")
                case let .string(v)?: fields.append(Self.csvField(v))
                default: fields.append("")
                }
            }
            fields.append(row.featureEventTime.map { String($0) } ?? "")
            return fields.joined(separator: ",")
        }
    }

    /// RFC 4180 quoting when needed.
    static func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        var quoted = "\""
        for c in s { if c == "\"" { quoted += "\"\"" } else { quoted.append(c) } }
        return quoted + "\""
    }
}
