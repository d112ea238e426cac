import Testing
import StreamKitJSON
import StreamKitPostgres

/// The PostgreSQL part of Debezium's `source` block, written straight into the envelope's bytes.
@Suite struct PostgresSourceFieldsTests {
    static func written(_ fields: PostgresSourceFields) -> String {
        var w = JSONWriter()
        w.beginObject()
        fields.writeFields(to: &w)
        w.endObject()
        return String(decoding: w.bytes, as: UTF8.self)
    }

    @Test func sequenceIsTheLastCommitAndTheEventLSNAsAJSONString() {
        let f = PostgresSourceFields(lsn: 164, lastCommitLSN: 100, txID: 1001, tsMillis: 0, snapshot: "false")
        #expect(Self.written(f) == #"{"sequence":"[\"100\",\"164\"]","txId":1001,"lsn":164,"xmin":null}"#)
    }

    @Test func aFirstTransactionHasNoLastCommitAndExtremesKeepEveryDigit() {
        let f = PostgresSourceFields(lsn: .max, lastCommitLSN: nil, txID: nil, tsMillis: 0, snapshot: "true")
        #expect(Self.written(f) == #"{"sequence":"[null,\"18446744073709551615\"]","txId":null,"lsn":18446744073709551615,"xmin":null}"#)
        let zero = PostgresSourceFields(lsn: 0, lastCommitLSN: 0, txID: 0, tsMillis: 0, snapshot: "false")
        #expect(Self.written(zero) == #"{"sequence":"[\"0\",\"0\"]","txId":0,"lsn":0,"xmin":null}"#)
    }
}
