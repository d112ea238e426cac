import Foundation
import Testing
@testable import StreamKitDebezium
import StreamKitJSON

/// `DebeziumSource` read in one pass over its members on StreamKit's tape decoder must decode
/// exactly as its `Codable` path does (Foundation's `JSONDecoder` takes only that path): the same
/// value, or an error in both, for every shape a `source` block comes in.
@Suite struct DebeziumSourceDecodingTests {
    static let documents: [String] = [
        // PostgreSQL, as the capture and Debezium write it.
        #"{"version":"2.5.0.Final","connector":"postgresql","name":"app","ts_ms":1700000000030,"snapshot":"false","db":"app","sequence":"[\"100\",\"164\"]","schema":"public","table":"bookings","txId":1001,"lsn":100000064,"xmin":null}"#,
        // MySQL, with file/pos/row, thread/query and the schema version StreamKit adds (ignored).
        #"{"version":"2.5.0.Final","connector":"mysql","name":"shop","ts_ms":1700000000000,"snapshot":"last","db":"app","table":"orders","server_id":1,"gtid":"0-1-42","file":"mariadb-bin.000003","pos":1234,"row":2,"thread":null,"query":null,"streamkit_schema_version":3}"#,
        // snapshot as a boolean, both ways; absent optional fields; ts_us/ts_ns.
        #"{"version":"2.7.0","connector":"postgresql","name":"a","ts_ms":1,"ts_us":1000,"ts_ns":1000000,"snapshot":true,"db":"d"}"#,
        #"{"version":"2.7.0","connector":"postgresql","name":"a","ts_ms":1,"snapshot":false,"db":"d"}"#,
        // Members in another order, an integral number written with an exponent, escapes in values.
        #"{"db":"d\u00e9","ts_ms":1.7e3,"name":"n\"q\"","connector":"c","version":"v","table":"t\\u"}"#,
        // Unknown members of every kind are skipped.
        #"{"version":"v","connector":"c","name":"n","ts_ms":5,"db":"d","extra":{"a":[1,2,{"b":null}]},"flag":true,"x":-1.5}"#,
        // Explicit nulls for every optional field.
        #"{"version":"v","connector":"c","name":"n","ts_ms":5,"db":"d","snapshot":null,"sequence":null,"schema":null,"table":null,"txId":null,"lsn":null,"xmin":null,"file":null,"pos":null,"row":null,"ts_us":null,"ts_ns":null}"#,
        // Errors: a missing required field, null required, wrong types, a fractional integer, an
        // integer too large, a snapshot that is neither string nor boolean, not an object.
        #"{"version":"v","connector":"c","name":"n","db":"d"}"#,
        #"{"version":null,"connector":"c","name":"n","ts_ms":5,"db":"d"}"#,
        #"{"version":"v","connector":"c","name":"n","ts_ms":"5","db":"d"}"#,
        #"{"version":"v","connector":"c","name":"n","ts_ms":5,"db":"d","lsn":"12"}"#,
        #"{"version":"v","connector":"c","name":"n","ts_ms":5,"db":"d","txId":1.5}"#,
        #"{"version":"v","connector":"c","name":"n","ts_ms":5,"db":"d","pos":18446744073709551615}"#,
        #"{"version":"v","connector":"c","name":"n","ts_ms":5,"db":"d","snapshot":1}"#,
        #"{"version":"v","connector":"c","name":"n","ts_ms":5,"db":"d","table":7}"#,
        #"["version"]"#,
        // An escaped key and a duplicate key take the Codable path on the tape too.
        #"{"version":"v","connector":"c","name":"n","ts\u005fms":5,"db":"d"}"#,
    ]

    @Test func theOnePassDecodingEqualsTheCodablePath() throws {
        let tape = FastJSONDecoder()
        for json in Self.documents {
            let viaCodable = Result { try JSONDecoder().decode(DebeziumSource.self, from: Data(json.utf8)) }
            let viaTape = Result { try tape.decode(DebeziumSource.self, from: json) }
            switch (viaCodable, viaTape) {
            case let (.success(a), .success(b)): #expect(a == b, "\(json)")
            case (.failure, .failure): break
            case let (a, b): Issue.record("\(json): Codable \(a), tape \(b)")
            }
        }
    }

    /// Some documents above must succeed and some fail, or the comparison proves little.
    @Test func theDocumentsCoverValuesAndErrors() throws {
        let tape = FastJSONDecoder()
        let decoded = Self.documents.filter { (try? tape.decode(DebeziumSource.self, from: $0)) != nil }
        #expect(decoded.count == 8)
        let mysql = try tape.decode(DebeziumSource.self, from: Self.documents[1])
        #expect(mysql.file == "mariadb-bin.000003" && mysql.pos == 1234 && mysql.row == 2 && mysql.snapshot == "last" && mysql.schema == nil)
        let boolean = try tape.decode(DebeziumSource.self, from: Self.documents[2])
        #expect(boolean.snapshot == "true" && boolean.tsUs == 1000 && boolean.tsNs == 1_000_000)
        let escaped = try tape.decode(DebeziumSource.self, from: Self.documents[4])
        #expect(escaped.db == "dé" && escaped.name == "n\"q\"" && escaped.tsMs == 1700 && escaped.table == "t\\u")
    }

    /// The tape's own `Codable` path (`DebeziumSource(keyedFrom:)`), for comparisons where
    /// Foundation's decoder has other key semantics (`.convertFromSnakeCase`: Foundation never
    /// matches the raw `ts_ms` coding key; the tape decoder falls back to it).
    struct KeyedSource: Decodable, Equatable {
        var source: DebeziumSource
        init(from decoder: any Decoder) throws { source = try DebeziumSource(keyedFrom: decoder) }
    }

    static let snakeCaseDocuments: [String] = [
        // Keys that convert to a field (tx_id → txId, Tx_ID → TxId: no field), a raw ts_ms.
        #"{"version":"v","connector":"c","name":"n","ts_ms":5,"db":"d","tx_id":7,"Tx_ID":8,"server_id":1}"#,
        #"{"version":"v","connector":"c","name":"n","ts_ms":5,"db":"d","tx__id":9,"lsn_":3,"_db":"x"}"#,
        // Two keys for one field (txId and tx_id): left to the Codable path.
        #"{"version":"v","connector":"c","name":"n","ts_ms":5,"db":"d","txId":1,"tx_id":2}"#,
        // tsMs is not ts_ms under conversion either: a missing required field.
        #"{"version":"v","connector":"c","name":"n","tsMs":5,"db":"d"}"#,
        #"{"version":"v","connector":"c","name":"n","ts_ms":5,"db":"d","tx_id":"7"}"#,
    ]

    /// Under `.convertFromSnakeCase` (what `DebeziumLineDecoder` uses by default, so every
    /// Debezium job) the one-pass reader maps keys as the tape's lookup does: the same value, or
    /// an error in both, as the tape's `Codable` path.
    @Test func theOnePassDecodingEqualsTheCodablePathUnderSnakeCaseKeys() throws {
        let tape = FastJSONDecoder(keyDecodingStrategy: .convertFromSnakeCase)
        var decoded = 0
        for json in Self.documents + Self.snakeCaseDocuments {
            let viaCodable = Result { try tape.decode(KeyedSource.self, from: json).source }
            let viaTape = Result { try tape.decode(DebeziumSource.self, from: json) }
            switch (viaCodable, viaTape) {
            case let (.success(a), .success(b)): #expect(a == b, "\(json)"); decoded += 1
            case (.failure, .failure): break
            case let (a, b): Issue.record("\(json): Codable \(a), tape \(b)")
            }
        }
        #expect(decoded == 11)
        // The one-pass reader itself takes these blocks (the comparison above would also pass if
        // it handed every block to the Codable path).
        struct OnePass: Decodable {
            var source: DebeziumSource?
            init(from decoder: any Decoder) throws { source = (decoder as? _TapeDecoder).flatMap { DebeziumSource(plainMembersOf: $0) } }
        }
        #expect(try tape.decode(OnePass.self, from: Self.documents[0]).source?.lsn == 100000064)
        #expect(try tape.decode(OnePass.self, from: Self.documents[1]).source?.pos == 1234)
        #expect(try tape.decode(OnePass.self, from: Self.snakeCaseDocuments[0]).source?.txId == 7)
        #expect(try tape.decode(OnePass.self, from: Self.snakeCaseDocuments[2]).source == nil)
        let converted = try tape.decode(DebeziumSource.self, from: Self.snakeCaseDocuments[0])
        #expect(converted.txId == 7 && converted.tsMs == 5)
        #expect(try tape.decode(DebeziumSource.self, from: Self.snakeCaseDocuments[1]).txId == 9)
    }

    /// A duplicate key: whichever the tape's Codable path picks, the one-pass reader must not pick
    /// differently (it hands the block to that path).
    @Test func aDuplicateKeyIsLeftToTheCodablePath() throws {
        let json = #"{"version":"v","connector":"c","name":"n","ts_ms":5,"db":"d","lsn":1,"lsn":2}"#
        let decoded = try FastJSONDecoder().decode(DebeziumSource.self, from: json)
        #expect(decoded.lsn == 1 || decoded.lsn == 2)
        #expect(decoded.tsMs == 5 && decoded.db == "d")
    }
}
