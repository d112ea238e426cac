import Testing
import StreamKitBackfill
import StreamKitRedis

/// The training-set writer formats rows straight into its buffer. Its CSV is checked by reading
/// each line back with an RFC 4180 reader (below, on bytes) and comparing the fields with the row's
/// values as text, for every kind of value; its NDJSON lines equal the per-line path.
@Suite struct BackfillFormatTests {
    static let view = FeatureView(name: "v", entityKey: "user_id",
                                  features: [.int("count"), .double("sum"), .double("avg"), .string("tag")],
                                  ttl: .hours(2), version: 1, namespace: "test")

    /// The fields a CSV line must read back as (missing values are empty).
    static func expectedFields(_ row: TrainingRow) -> [String] {
        var fields = [row.label.entity, String(row.label.time), row.label.label]
        for i in view.features.indices {
            switch row.features?[i] {
            case let .int(v)?: fields.append(String(v))
            case let .double(v)?: fields.append(v.isFinite ? "\(v)" : "")
            case let .string(v)?: fields.append(v)
            default: fields.append("")
            }
        }
        fields.append(row.featureEventTime.map { String($0) } ?? "")
        return fields
    }

    /// An RFC 4180 reader for one record: returns its fields, or nil if the bytes are not exactly
    /// one well-formed record (an unquoted CR/LF or quote, an unterminated quote, bytes after a
    /// closing quote).
    static func readRecord(_ bytes: [UInt8]) -> [String]? {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ",")
        var fields: [String] = []
        var i = 0
        while true {
            var field: [UInt8] = []
            if i < bytes.count, bytes[i] == quote {
                i += 1
                while true {
                    guard i < bytes.count else { return nil }
                    if bytes[i] == quote {
                        if i + 1 < bytes.count, bytes[i + 1] == quote { field.append(quote); i += 2; continue }
                        i += 1
                        break
                    }
                    field.append(bytes[i]); i += 1
                }
                guard i == bytes.count || bytes[i] == comma else { return nil }
            } else {
                while i < bytes.count, bytes[i] != comma {
                    if bytes[i] == quote || bytes[i] == 0x0A || bytes[i] == 0x0D { return nil }
                    field.append(bytes[i]); i += 1
                }
            }
            fields.append(String(decoding: field, as: UTF8.self))
            if i == bytes.count { return fields }
            i += 1
        }
    }

    static let rows: [TrainingRow] = {
        let doubles: [Double] = [0, -0.0, 290.31, 1e-7, 1.0e21, 123456789.125, -5.5, .nan, .infinity, -.infinity,
                                 Double.leastNonzeroMagnitude, Double.greatestFiniteMagnitude, 0.1 + 0.2]
        let ints: [Int64] = [0, 7, -1, 10, 99, 100, -1_000_000, 1_700_000_059_999, Int64.max, Int64.min]
        let strings = ["", "plain", "a,b", "say \"hi\"", "two\nlines", "cr\rlf", "crlf\r\n", "ünï", "42", "\r\n",
                       "q\"\u{301}", "\"", ",", "e\u{301},\r\n\"x"]
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

    @Test func csvLinesReadBackAsTheRowsValues() {
        for row in Self.rows {
            var bytes: [UInt8] = []
            TrainingSetFormat.csv.append(row, view: Self.view, to: &bytes)
            #expect(Self.readRecord(bytes) == Self.expectedFields(row), "\(String(decoding: bytes, as: UTF8.self).debugDescription)")
            #expect(TrainingSetFormat.csv.line(row, view: Self.view) == String(decoding: bytes, as: UTF8.self))
        }
    }

    /// "\r\n" is one Swift Character that equals neither "\r" nor "\n": the field must still be
    /// quoted (it was written bare before, and a CSV reader split the row there).
    @Test func csvQuotesACRLFInsideAField() {
        let label = LabelEvent(entity: "crlf\r\n", time: 1, label: "1", sequence: 0)
        var bytes: [UInt8] = []
        TrainingSetFormat.csv.append(TrainingRow(label: label, features: nil, featureEventTime: nil), view: Self.view, to: &bytes)
        #expect(Array(bytes.prefix(9)) == Array("\"crlf\r\n\",".utf8))
    }

    @Test func csvHeaderReadsBackAsTheColumnNames() {
        let header = TrainingSetFormat.csv.header(view: Self.view) ?? ""
        #expect(Self.readRecord(Array(header.utf8)) == ["entity", "label_time", "label", "count", "sum", "avg", "tag", "feature_event_time"])
    }

    @Test func ndjsonAppendEqualsTheLine() {
        for row in Self.rows {
            var bytes: [UInt8] = [0x41]
            TrainingSetFormat.ndjson.append(row, view: Self.view, to: &bytes)
            #expect(bytes == [0x41] + Array(TrainingSetFormat.ndjson.line(row, view: Self.view).utf8))
        }
    }
}
