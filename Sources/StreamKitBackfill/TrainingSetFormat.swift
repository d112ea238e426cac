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
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128)
        append(row, view: view, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends one row without its newline to `out`: the bytes of ``line(_:view:)``, written
    /// straight into the buffer (the training-set writer's path; no per-field strings, no join).
    public func append(_ row: TrainingRow, view: FeatureView, to out: inout [UInt8]) {
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
            out.append(contentsOf: w.bytes)
        case .csv:
            let comma = UInt8(ascii: ",")
            Self.appendCSVField(row.label.entity, to: &out)
            out.append(comma)
            Self.appendDecimal(row.label.time, to: &out)
            out.append(comma)
            Self.appendCSVField(row.label.label, to: &out)
            let values = row.features
            for i in view.features.indices {
                out.append(comma)
                switch values?[i] {
                case let .int(v)?: Self.appendDecimal(v, to: &out)
                case let .double(v)?: if v.isFinite { out.append(contentsOf: v.description.utf8) }
                case let .string(v)?: Self.appendCSVField(v, to: &out)
                default: break
                }
            }
            out.append(comma)
            if let t = row.featureEventTime { Self.appendDecimal(t, to: &out) }
        }
    }

    /// `csvField(s)`'s bytes, written straight into the buffer.
    static func appendCSVField(_ s: String, to out: inout [UInt8]) {
        let utf8 = s.utf8
        guard utf8.contains(where: needsQuoting) else { out.append(contentsOf: utf8); return }
        out.append(UInt8(ascii: "\""))
        for b in utf8 {
            out.append(b)
            if b == UInt8(ascii: "\"") { out.append(b) }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// RFC 4180: a field holding a comma, a double quote, CR or LF is quoted. Decided on bytes,
    /// not Characters: `"\r\n"` is one Character that equals neither `"\r"` nor `"\n"`, and a
    /// quote followed by a combining mark is one Character that is not `"\""`.
    @inline(__always)
    static func needsQuoting(_ b: UInt8) -> Bool {
        b == UInt8(ascii: ",") || b == UInt8(ascii: "\"") || b == 0x0A || b == 0x0D
    }

    /// `String(v)`'s bytes (StreamKitJSON's integer formatter).
    static func appendDecimal(_ v: Int64, to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            let n = _jsonFormatInteger(v, into: buffer.baseAddress!, at: 0)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[..<n]))
        }
    }

    /// RFC 4180 quoting when needed (see ``needsQuoting(_:)``).
    static func csvField(_ s: String) -> String {
        var bytes: [UInt8] = []
        appendCSVField(s, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
