import Testing
import StreamKitBackfill
import StreamKitRedis

/// The training-set writer formats rows straight into its buffer; its bytes must be those of the
/// previous per-field string implementation (kept here as the reference), for every kind of value.
@Suite struct BackfillFormatTests {
    static let view = FeatureView(name: "v", entityKey: "user_id",
                                  features: [.int("count"), .double("sum"), .double("avg"), .string("tag")],
                                  ttl: .hours(2), version: 1, namespace: "test")

    /// The CSV line as it was written before (fields as strings, joined by commas).
    static func referenceCSV(_ row: TrainingRow) -> String {
        func csvField(_ s: String) -> String {
            guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
            var quoted = "\""
            for c in s { if c == "\"" { quoted += "\"\"" } else { quoted.append(c) } }
            return quoted + "\""
        }
        var fields = [csvField(row.label.entity), String(row.label.time), csvField(row.label.label)]
        for i in view.features.indices {
            switch row.features?[i] {
            case let .int(v)?: fields.append(String(v))
            case let .double(v)?: fields.append(v.isFinite ? "\(v)" : "")
            case let .string(v)?: fields.append(csvField(v))
            default: fields.append("")
            }
        }
        fields.append(row.featureEventTime.map { String($0) } ?? "")
        return fields.joined(separator: ",")
    }

    static let rows: [TrainingRow] = {
        let doubles: [Double] = [0, -0.0, 290.31, 1e-7, 1.0e21, 123456789.125, -5.5, .nan, .infinity, -.infinity,
                                 Double.leastNonzeroMagnitude, Double.greatestFiniteMagnitude, 0.1 + 0.2]
        let ints: [Int64] = [0, 7, -1, 10, 99, 100, -1_000_000, 1_700_000_059_999, Int64.max, Int64.min]
        let strings = ["", "plain", "a,b", "say \"hi\"", "two\nlines", "cr\rlf", "crlf\r\n", "ünï", "42"]
        var rows: [TrainingRow] = []
        for (i, d) in doubles.enumerated() {
            let n = ints[i % ints.count], s = strings[i % strings.count]
            let label = LabelEvent(entity: strings[(i + 3) % strings.count], time: ints[(i + 1) % ints.count],
                                   label: i % 2 == 0 ? "\"lbl,\(i)\"" : "\(i)", sequence: Int64(i))
            rows.append(TrainingRow(label: label, features: [.int(n), .double(d), nil, .string(s)], featureEventTime: ints[(i + 2) % ints.count]))
            rows.append(TrainingRow(label: label, features: nil, featureEventTime: nil))
        }
        for n in ints {
            rows.append(TrainingRow(label: LabelEvent(entity: "\(n)", time: n, label: "null"),
                                    features: [.int(n), .double(Double(n)), .double(Double(n) / 3), nil], featureEventTime: n))
        }
        return rows
    }()

    @Test func csvBytesAreThoseOfThePreviousFormatter() {
        for row in Self.rows {
            var bytes: [UInt8] = []
            TrainingSetFormat.csv.append(row, view: Self.view, to: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == Self.referenceCSV(row))
            #expect(TrainingSetFormat.csv.line(row, view: Self.view) == Self.referenceCSV(row))
        }
    }

    @Test func ndjsonAppendEqualsTheLine() {
        for row in Self.rows {
            var bytes: [UInt8] = [0x41]
            TrainingSetFormat.ndjson.append(row, view: Self.view, to: &bytes)
            #expect(bytes == [0x41] + Array(TrainingSetFormat.ndjson.line(row, view: Self.view).utf8))
        }
    }
}
