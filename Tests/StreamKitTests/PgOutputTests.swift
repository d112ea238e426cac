import Testing
import StreamKit
import StreamKitPostgres

/// pgoutput decoding on hand-built messages (byte layouts from PostgreSQL's protocol docs).
@Suite struct PgOutputTests {
    func be(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> UInt64((n - 1 - $0) * 8)) } }
    func str(_ s: String) -> [UInt8] { Array(s.utf8) + [0] }
    func text(_ s: String) -> [UInt8] { [UInt8(ascii: "t")] + be(UInt64(s.utf8.count), 4) + Array(s.utf8) }

    @Test func beginRelationInsertCommit() throws {
        let begin: [UInt8] = [UInt8(ascii: "B")] + be(0x16_B374_D848, 8) + be(7_000_000, 8) + be(731, 4)
        #expect(try PgOutput.decodeMessage(begin) == .begin(finalLSN: 0x16_B374_D848, commitTimeMicros: 7_000_000, xid: 731))
        let relation: [UInt8] = [UInt8(ascii: "R")] + be(16385, 4) + str("public") + str("users") + [UInt8(ascii: "f")] + be(2, 2)
            + [1] + str("id") + be(23, 4) + be(UInt64(UInt32(bitPattern: -1)), 4)
            + [0] + str("name") + be(25, 4) + be(UInt64(UInt32(bitPattern: -1)), 4)
        #expect(try PgOutput.decodeMessage(relation) == .relation(id: 16385, namespace: "public", name: "users", replicaIdentity: UInt8(ascii: "f"),
            columns: [PgOutput.Column(name: "id", typeOID: 23, typeModifier: -1, isKey: true),
                      PgOutput.Column(name: "name", typeOID: 25, typeModifier: -1, isKey: false)]))
        let insert: [UInt8] = [UInt8(ascii: "I")] + be(16385, 4) + [UInt8(ascii: "N")] + be(2, 2) + text("42") + [UInt8(ascii: "n")]
        #expect(try PgOutput.decodeMessage(insert) == .insert(relation: 16385, new: [.text("42"), .null]))
        let commit: [UInt8] = [UInt8(ascii: "C"), 0] + be(0x16_B374_D848, 8) + be(0x16_B374_D878, 8) + be(7_000_000, 8)
        #expect(try PgOutput.decodeMessage(commit) == .commit(flags: 0, commitLSN: 0x16_B374_D848, endLSN: 0x16_B374_D878, commitTimeMicros: 7_000_000))
    }

    @Test func updateDeleteTruncateAndToast() throws {
        let update: [UInt8] = [UInt8(ascii: "U")] + be(9, 4) + [UInt8(ascii: "O")] + be(2, 2) + text("1") + text("old")
            + [UInt8(ascii: "N")] + be(2, 2) + text("1") + [UInt8(ascii: "u")]
        #expect(try PgOutput.decodeMessage(update) == .update(relation: 9, old: [.text("1"), .text("old")], oldIsKeyOnly: false,
                                                             new: [.text("1"), .unchangedToast]))
        let plainUpdate: [UInt8] = [UInt8(ascii: "U")] + be(9, 4) + [UInt8(ascii: "N")] + be(1, 2) + text("x")
        #expect(try PgOutput.decodeMessage(plainUpdate) == .update(relation: 9, old: nil, oldIsKeyOnly: false, new: [.text("x")]))
        let delete: [UInt8] = [UInt8(ascii: "D")] + be(9, 4) + [UInt8(ascii: "K")] + be(1, 2) + text("1")
        #expect(try PgOutput.decodeMessage(delete) == .delete(relation: 9, old: [.text("1")], oldIsKeyOnly: true))
        let truncate: [UInt8] = [UInt8(ascii: "T")] + be(2, 4) + [3] + be(9, 4) + be(10, 4)
        #expect(try PgOutput.decodeMessage(truncate) == .truncate(relations: [9, 10], cascade: true, restartIdentity: true))
    }

    @Test func framesAndFeedback() throws {
        let insert: [UInt8] = [UInt8(ascii: "I")] + be(5, 4) + [UInt8(ascii: "N")] + be(1, 2) + text("é")
        let frame: [UInt8] = [UInt8(ascii: "w")] + be(100, 8) + be(200, 8) + be(300, 8) + insert
        #expect(try PgOutput.decodeFrame(frame) == .xLogData(walStart: 100, walEnd: 200, serverTimeMicros: 300, message: .insert(relation: 5, new: [.text("é")])))
        let keepalive: [UInt8] = [UInt8(ascii: "k")] + be(500, 8) + be(600, 8) + [1]
        #expect(try PgOutput.decodeFrame(keepalive) == .keepalive(walEnd: 500, serverTimeMicros: 600, replyRequested: true))
        let reply = PgOutput.standbyStatusUpdate(write: 1, flush: 2, apply: 3, clockMicros: 4)
        #expect(reply.count == 34 && reply[0] == UInt8(ascii: "r") && reply[8] == 1 && reply[16] == 2 && reply[24] == 3 && reply[32] == 4 && reply[33] == 0)
        #expect(PgOutput.format(0x16_B374_D848) == "16/B374D848")
        #expect(PgOutput.parseLSN("16/B374D848") == 0x16_B374_D848)
        #expect(PgOutput.parseLSN("nope") == nil)
    }

    @Test func malformedMessagesThrowWithAReason() {
        for bad: [UInt8] in [[], [UInt8(ascii: "B"), 0, 0], [UInt8(ascii: "Z")], [UInt8(ascii: "R")] + be(1, 4) + Array("public".utf8),
                             [UInt8(ascii: "I")] + be(1, 4) + [UInt8(ascii: "X")], [UInt8(ascii: "I")] + be(1, 4) + [UInt8(ascii: "N")] + be(1, 2) + [UInt8(ascii: "t")] + be(99, 4)] {
            #expect(throws: StreamKitError.self) { try PgOutput.decodeMessage(bad) }
        }
    }
}
