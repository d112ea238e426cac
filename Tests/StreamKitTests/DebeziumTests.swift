import Testing
import Foundation
@testable import StreamKit
@testable import StreamKitJSON
@testable import StreamKitDebezium

let sourceBlock = #"{"version":"2.5.0.Final","connector":"postgresql","name":"app","ts_ms":1700000000030,"snapshot":"false","db":"app","sequence":"[\"100\",\"164\"]","schema":"public","table":"user_interactions","txId":1001,"lsn":100000064,"xmin":null}"#

func event(op: String, before: String = "null", after: String = "null", extra: String = "") -> String {
    #"{"before":\#(before),"after":\#(after),"source":\#(sourceBlock),"op":"\#(op)","ts_ms":1700000000040\#(extra)}"#
}

let rowA = #"{"id":1,"user_id":75414,"item_id":42292,"interaction_type":"view","amount":290.31,"ts_ms":1700000000030}"#
let rowB = #"{"id":1,"user_id":75414,"item_id":42292,"interaction_type":"click","amount":10.5,"ts_ms":1700000000050}"#

struct Document: Decodable, Equatable {
    var id: Int
    var title: String
    var body: String?
    var score: Int?
}

func record<Row>(_ decoder: DebeziumDecoder<Row>, _ text: String) throws -> DebeziumRecord<Row> {
    try decoder.decode(Array(text.utf8))
}

func debeziumError(_ text: String) -> String? {
    do {
        _ = try record(DebeziumDecoder<Interaction>(), text)
        return nil
    } catch {
        return (error as? StreamKitError)?.message
    }
}

@Suite struct DebeziumTests {
    @Test func sampleLineUnwrapped() throws {
        let decoder = DebeziumDecoder<Interaction>()
        let envelope = try #require(try record(decoder, sampleLine).envelope)
        #expect(envelope.op == .create)
        #expect(envelope.before == nil)
        #expect(envelope.after == Interaction(id: 1, userId: 75414, itemId: 42292, interactionType: "view", amount: 290.31, tsMs: 1_700_000_000_030))
        #expect(envelope.source.table == "user_interactions")
        #expect(envelope.source.txId == 1001 && envelope.source.lsn == 100_000_064)
        #expect(envelope.source.snapshot == nil && envelope.source.sequence == nil)
        #expect(envelope.tsMs == 1_700_000_000_040)
        #expect(envelope.unavailableColumns.isEmpty)
    }

    @Test func wrappedWithSchema() throws {
        let wrapped = #"{"schema":{"type":"struct","fields":[{"type":"struct","field":"before"}],"optional":false,"name":"app.public.user_interactions.Envelope"},"payload":\#(event(op: "u", before: rowA, after: rowB))}"#
        let decoder = DebeziumDecoder<Interaction>()
        let envelope = try #require(try record(decoder, wrapped).envelope)
        #expect(envelope.op == .update)
        #expect(envelope.before?.interactionType == "view")
        #expect(envelope.after?.interactionType == "click")
        #expect(envelope.source.snapshot == "false")
        #expect(envelope.source.sequence == #"["100","164"]"#)
        #expect(envelope.source.xmin == nil)
    }

    @Test func tombstones() throws {
        let decoder = DebeziumDecoder<Interaction>()
        #expect(try decoder.decode([UInt8]()).isTombstone)
        #expect(try decoder.decode(nil as [UInt8]?).isTombstone)
        #expect(try record(decoder, "  \n").isTombstone)
        #expect(try record(decoder, "null").isTombstone)
        #expect(try record(decoder, #"{"schema":null,"payload":null}"#).isTombstone)
    }

    @Test func everyOperation() throws {
        let decoder = DebeziumDecoder<Interaction>()
        #expect(try record(decoder, event(op: "c", after: rowA)).envelope?.op == .create)
        #expect(try record(decoder, event(op: "r", after: rowA)).envelope?.op == .read)
        #expect(try record(decoder, event(op: "u", before: rowA, after: rowB)).envelope?.op == .update)
        let delete = try #require(try record(decoder, event(op: "d", before: rowA)).envelope)
        #expect(delete.op == .delete && delete.after == nil && delete.before?.id == 1)
        let truncate = try #require(try record(decoder, event(op: "t")).envelope)
        #expect(truncate.op == .truncate && truncate.before == nil && truncate.after == nil)
        #expect(DebeziumOperation.allCases.map(\.rawValue) == ["c", "u", "d", "r", "t"])
    }

    @Test func snapshotAndTransaction() throws {
        let decoder = DebeziumDecoder<Interaction>()
        let boolSnapshot = event(op: "r", after: rowA).replacingOccurrences(of: #""snapshot":"false""#, with: #""snapshot":true"#)
        #expect(try record(decoder, boolSnapshot).envelope?.source.snapshot == "true")
        let last = event(op: "r", after: rowA).replacingOccurrences(of: #""snapshot":"false""#, with: #""snapshot":"last""#)
        #expect(try record(decoder, last).envelope?.source.snapshot == "last")
        let tx = event(op: "c", after: rowA, extra: #","transaction":{"id":"571:53195832","total_order":1,"data_collection_order":1}"#)
        #expect(try record(decoder, tx).envelope?.transaction == DebeziumTransaction(id: "571:53195832", totalOrder: 1, dataCollectionOrder: 1))
    }

    @Test func invalidEnvelopes() {
        #expect(debeziumError(event(op: "x", after: rowA)) == "invalid Debezium message: invalid value at op: unknown Debezium operation 'x'")
        #expect(debeziumError(event(op: "c")) == "invalid Debezium message: invalid value at after: op 'c' requires a non-null 'after' image")
        #expect(debeziumError(#"{"before":null,"after":\#(rowA),"op":"c"}"#) == "invalid Debezium message: missing key at source")
        #expect(debeziumError(#"{"after":\#(rowA),"source":\#(sourceBlock)}"#) == "invalid Debezium message: missing key at op")
        #expect(debeziumError("[1]") == "invalid Debezium message: expected a JSON object, found array")
        #expect(debeziumError(#"{"payload":5}"#) == "invalid Debezium message: 'payload' must be an object or null, found number")
        #expect(debeziumError(String(sampleLine.dropLast())) == "invalid Debezium message: unexpected end of input at byte \(sampleLine.utf8.count - 1)")
        #expect(debeziumError(event(op: "c", after: #"{"id":1}"#)) == "invalid Debezium message: missing key at after.user_id")
        #expect(debeziumError(event(op: "c", after: rowA.replacingOccurrences(of: "75414", with: "\"75414\"")))
                == "invalid Debezium message: type mismatch at after.user_id: expected Int64, found string")
    }

    @Test func unavailablePlaceholder() throws {
        let decoder = DebeziumDecoder<Document>()
        let before = #"{"id":7,"title":"old","body":"long text","score":3}"#
        let after = #"{"id":7,"title":"__debezium_unavailable_value","body":"__debezium_unavailable_value","score":"__debezium_unavailable_value"}"#
        let envelope = try #require(try record(decoder, event(op: "u", before: before, after: after)).envelope)
        #expect(envelope.unavailableColumns.after == ["title", "body", "score"])
        #expect(envelope.unavailableColumns.before.isEmpty)
        #expect(envelope.after == Document(id: 7, title: "__debezium_unavailable_value", body: nil, score: nil))
        #expect(envelope.before == Document(id: 7, title: "old", body: "long text", score: 3))

        struct Strict: Decodable { var id: Int; var score: Int }
        do {
            _ = try record(DebeziumDecoder<Strict>(), event(op: "u", after: after))
            Issue.record("expected an error")
        } catch {
            #expect((error as? StreamKitError)?.message == "invalid Debezium message: type mismatch at after.score: expected Int, found the Debezium unavailable-value placeholder")
        }
    }

    @Test func snakeCaseRows() throws {
        let decoder = DebeziumDecoder<SnakeRow>(keyDecodingStrategy: .convertFromSnakeCase)
        let row = #"{"user_id":5,"ts_ms":9,"interaction_type":"view"}"#
        let envelope = try #require(try record(decoder, event(op: "c", after: row)).envelope)
        #expect(envelope.after?.userId == 5 && envelope.source.tsMs == 1_700_000_000_030 && envelope.tsMs == 1_700_000_000_040)
    }
}

@Suite struct ExtractNewRecordStateTests {
    let decoder = DebeziumDecoder<Interaction>()

    func typed(_ smt: ExtractNewRecordState, _ text: String) throws -> ExtractNewRecordState.Output<Interaction>? {
        smt.apply(try record(decoder, text))
    }

    func json(_ smt: ExtractNewRecordState, _ text: String) throws -> (ExtractNewRecordState.JSONOutcome, String) {
        var writer = JSONWriter()
        let outcome = try Array(text.utf8).withUnsafeBytes { (raw) throws(StreamKitError) in
            try smt.apply(json: raw, using: FastJSONDecoder(), into: &writer)
        }
        return (outcome, String(decoding: writer.bytes, as: UTF8.self))
    }

    @Test func typedUnwrapping() throws {
        let smt = ExtractNewRecordState()
        guard case .row(let row, let deleted, _)? = try typed(smt, event(op: "u", before: rowA, after: rowB)) else {
            Issue.record("expected a row"); return
        }
        #expect(row.interactionType == "click" && !deleted)
        guard case .tombstone? = try typed(smt, event(op: "d", before: rowA)) else { Issue.record("expected tombstone"); return }
        #expect(try typed(smt, "").isNone) // tombstones dropped by default
        #expect(try typed(smt, event(op: "t")).isNone)

        var keep = smt
        keep.dropTombstones = false
        guard case .tombstone? = try typed(keep, "") else { Issue.record("expected tombstone"); return }

        let rewrite = ExtractNewRecordState(deleteHandling: .rewrite)
        guard case .row(let before, let isDeleted, _)? = try typed(rewrite, event(op: "d", before: rowA)) else {
            Issue.record("expected a row"); return
        }
        #expect(before.interactionType == "view" && isDeleted)
        #expect(try typed(ExtractNewRecordState(deleteHandling: .drop), event(op: "d", before: rowA)).isNone)
    }

    @Test func typedFilters() throws {
        let byTable = ExtractNewRecordState(tables: ["public.user_interactions"])
        #expect(try !typed(byTable, event(op: "c", after: rowA)).isNone)
        #expect(try !typed(ExtractNewRecordState(tables: ["user_interactions"]), event(op: "c", after: rowA)).isNone)
        #expect(try typed(ExtractNewRecordState(tables: ["orders"]), event(op: "c", after: rowA)).isNone)
        #expect(try typed(ExtractNewRecordState(operations: [.update]), event(op: "c", after: rowA)).isNone)
        #expect(try !typed(ExtractNewRecordState(operations: [.create]), event(op: "c", after: rowA)).isNone)
    }

    @Test func jsonModes() throws {
        let smt = ExtractNewRecordState(droppedColumns: ["item_id"])
        let (o1, s1) = try json(smt, event(op: "c", after: rowA))
        #expect(o1 == .row(deleted: false))
        #expect(s1 == #"{"id":1,"user_id":75414,"interaction_type":"view","amount":290.31,"ts_ms":1700000000030}"#)
        #expect(try json(smt, event(op: "d", before: rowA)).0 == .tombstone)
        #expect(try json(smt, "").0 == .dropped)
        #expect(try json(smt, event(op: "t")).0 == .dropped)

        let rewrite = ExtractNewRecordState(deleteHandling: .rewrite)
        let (o2, s2) = try json(rewrite, event(op: "d", before: #"{"id":1,"s":"a\"b"}"#))
        #expect(o2 == .row(deleted: true))
        #expect(s2 == #"{"id":1,"s":"a\"b","__deleted":"true"}"#)
        #expect(try json(rewrite, event(op: "r", after: #"{"id":2}"#)).1 == #"{"id":2,"__deleted":"false"}"#)
        #expect(try json(ExtractNewRecordState(deleteHandling: .drop), event(op: "d", before: rowA)).0 == .dropped)

        let wrapped = #"{"schema":{},"payload":\#(event(op: "u", before: rowA, after: #"{"id":1,"body":"__debezium_unavailable_value","n":[1,{"a":null}]}"#))}"#
        #expect(try json(smt, wrapped).1 == #"{"id":1,"n":[1,{"a":null}]}"#)
        #expect(try json(ExtractNewRecordState(tables: ["x"]), wrapped).0 == .dropped)
        #expect(try json(ExtractNewRecordState(operations: [.update]), wrapped).0 == .row(deleted: false))

        do {
            _ = try json(smt, event(op: "z", after: rowA))
            Issue.record("expected an error")
        } catch {
            #expect((error as? StreamKitError)?.message == "invalid Debezium message: unknown Debezium operation 'z' at op")
        }
    }
}


extension Optional {
    var isNone: Bool { self == nil }
}
