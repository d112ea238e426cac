import Testing
import StreamKit
import StreamKitQuery
import StreamKitDebezium

/// ``StrictFieldRecordDecoder``: each class of bad input is thrown with its dead-letter code and a
/// message naming the field; good rows decode as ``FieldRecordDecoder`` reads them.
struct BadInputDecoderTests {
    static let now: Int64 = 1_700_000_000_000

    static func decoder(identity: [String] = [], capacity: Int = 4) throws -> StrictFieldRecordDecoder<Int64> {
        var v = FieldRecordValidation()
        v.maxFutureSkew = .hours(1)
        v.clock = { now }
        v.identityPaths = identity
        v.identityCapacity = capacity
        return try StrictFieldRecordDecoder(keyPath: "after.user_id", timePath: "after.ts_ms", valuePaths: ["after.amount"], validation: v)
    }

    static func row(user: String = "7", ts: String = "1700000000000", amount: String = "12.5", op: String = #""c""#, extra: String = "", lsn: Int = 1) -> String {
        #"{"before":null,"after":{"user_id":\#(user),"ts_ms":\#(ts),"amount":\#(amount)\#(extra)},"source":{"lsn":\#(lsn)},"op":\#(op)}"#
    }

    func decode(_ d: inout StrictFieldRecordDecoder<Int64>, _ line: String) throws -> FieldRecord<Int64>? {
        var bytes = Array(line.utf8)
        return try bytes.withUnsafeMutableBytes { try d.decodeIfRelevant(UnsafeRawBufferPointer($0)) }
    }

    func code(_ line: String, _ d: StrictFieldRecordDecoder<Int64>? = nil) throws -> (StreamKitError.Code, String)? {
        var d = try d ?? Self.decoder()
        do { _ = try decode(&d, line); return nil } catch let e as StreamKitError { return (e.code, e.message) }
    }

    @Test func goodRowsDecodeAndExtraColumnsAreIgnored() throws {
        var d = try Self.decoder()
        let r = try #require(try decode(&d, Self.row(extra: #","discount":0.1,"tags":["a"]"#)))
        #expect(r.key == 7 && r.time == Self.now && r.v0 == 12.5)
        let nullAmount = try #require(try decode(&d, Self.row(amount: "null")))
        #expect(nullAmount.v0.isNaN, "SQL NULL is a missing number, not an error")
        #expect(try decode(&d, Self.row(op: #""d""#)) == nil, "deletes are skipped")
        #expect(try decode(&d, "null") == nil, "tombstones are skipped")
        #expect(try decode(&d, "") == nil, "null Kafka values are skipped")
    }

    @Test func eachClassHasItsCodeAndNamesTheField() throws {
        let cases: [(String, StreamKitError.Code, String)] = [
            (#"{"op":"c","after":{"user_id":1,"#, .malformedJSON, "byte"),
            (Self.row(op: #""x""#), .unknownOperation, #""x""#),
            (Self.row(op: "5"), .unknownOperation, "op"),
            (#"{"after":{"user_id":1,"ts_ms":1,"amount":1}}"#, .unknownOperation, "op is missing"),
            (Self.row().replacingOccurrences(of: #","amount":12.5"#, with: ""), .missingField, "after.amount"),
            (Self.row().replacingOccurrences(of: #""ts_ms":1700000000000,"#, with: ""), .missingField, "after.ts_ms"),
            (Self.row(user: "null"), .nullKey, "after.user_id"),
            (Self.row(amount: #""x""#), .wrongType, "after.amount"),
            (Self.row(user: #""u7""#), .wrongType, "after.user_id"),
            (Self.row(ts: #""yesterday""#), .wrongType, "after.ts_ms"),
            (Self.row(ts: String(Self.now + 3_600_001)), .futureTimestamp, "after.ts_ms"),
        ]
        for (line, want, mention) in cases {
            let got = try code(line)
            #expect(got?.0 == want, "\(line)")
            #expect(got?.1.contains(mention) == true, "\(got?.1 ?? "no error") names \(mention)")
        }
        #expect(try code(Self.row(ts: String(Self.now + 3_600_000))) == nil, "exactly the max skew is accepted")
    }

    @Test func withoutAMaxSkewAnyTimeIsAccepted() throws {
        var v = FieldRecordValidation()
        v.maxFutureSkew = nil
        var d = try StrictFieldRecordDecoder<Int64>(keyPath: "after.user_id", timePath: "after.ts_ms", valuePaths: ["after.amount"], validation: v)
        for ts in [Self.now, Self.now + 86_400_000 * 365, Int64.max, -5] {
            #expect(try decode(&d, Self.row(ts: String(ts)))?.time == ts)
        }
    }

    @Test func duplicatesAreRejectedWithinTheCapacity() throws {
        var d = try Self.decoder(identity: ["source.lsn"], capacity: 3)
        for lsn in 1...3 { #expect(try decode(&d, Self.row(lsn: lsn)) != nil) }
        do { _ = try decode(&d, Self.row(amount: "99", lsn: 2)); Issue.record("duplicate accepted") } catch let e as StreamKitError {
            #expect(e.code == .duplicate && e.message.contains("source.lsn=2"))
        }
        #expect(try decode(&d, Self.row(lsn: 4)) != nil)   // forgets lsn 1 (capacity 3)
        #expect(try decode(&d, Self.row(lsn: 1)) != nil, "bounded: the oldest identity was forgotten")
    }

    @Test func deduplicationStateSurvivesASnapshot() throws {
        var d = try Self.decoder(identity: ["source.lsn"], capacity: 10)
        for lsn in 1...5 { _ = try decode(&d, Self.row(lsn: lsn)) }
        var w = ByteWriter()
        d.snapshotState(into: &w)
        var restored = try Self.decoder(identity: ["source.lsn"], capacity: 10)
        var r = ByteReader(w.bytes)
        try restored.restoreState(from: &r)
        #expect(try code(Self.row(lsn: 3), restored)?.0 == .duplicate)
        #expect(try code(Self.row(lsn: 6), restored) == nil)
    }

    @Test func recentIdentitiesEvictOldestFirstAndRoundTrip() throws {
        var ids = RecentIdentities(capacity: 3)
        for i: UInt64 in 1...5 { let inserted = ids.insert(i); #expect(inserted) }
        let repeats = [ids.insert(4), ids.insert(5), ids.insert(3)]
        #expect(repeats == [false, false, false])
        let evicted = ids.insert(1)
        #expect(evicted, "1 was evicted")
        var w = ByteWriter()
        ids.encode(to: &w)
        var copy = RecentIdentities(capacity: 3)
        var r = ByteReader(w.bytes)
        try copy.restore(from: &r)
        #expect(copy.count == 3)
        let again = [copy.insert(1), copy.insert(5), copy.insert(4), copy.insert(3)]
        #expect(again == [false, false, false, true])
    }

    @Test func tryMapDeadLettersCarryTheUserFunctionCode() async throws {
        let dead = CollectedOutput<DeadLetter<Int>>()
        let out = CollectedOutput<Int>()
        try await Job("poison") { env in
            let mapped = env.fromCollection([1, 2, 13, 4]).tryMap { (x: Int) -> Int in
                if x == 13 { throw StreamKitError(.configuration, "unlucky \(x)") }
                return x * 10
            }
            mapped.sideOutput(DeadLetter<Int>.self).collect(into: dead)
            mapped.collect(into: out)
        }.run()
        #expect(out.values.sorted() == [10, 20, 40])
        #expect(dead.values.map(\.record) == [13] && dead.values.first?.code == .userFunction)
        #expect(dead.values.first?.reason.contains("unlucky 13") == true)
    }
}

/// The Debezium envelope decoders classify their failures with the same dead-letter codes.
struct BadInputDebeziumCodeTests {
    struct Row: Decodable, Sendable { var user_id: Int64; var amount: Double }

    func code(_ line: String) -> StreamKitError.Code? {
        var d = DebeziumLineDecoder(Row.self)
        var bytes = Array(line.utf8)
        do { _ = try bytes.withUnsafeMutableBytes { try d.decode(UnsafeRawBufferPointer($0)) }; return nil } catch let e as StreamKitError {
            return e.code
        } catch { return nil }
    }

    @Test func debeziumDecoderErrorsCarryDeadLetterCodes() {
        let source = #""source":{"version":"2","connector":"postgresql","name":"a","ts_ms":1,"db":"a","table":"t"}"#
        #expect(code(#"{"op":"c","after":{"user_id":1,"#) == .malformedJSON)
        #expect(code(#"{"op":"x","after":{"user_id":1,"amount":1},\#(source),"ts_ms":1}"#) == .unknownOperation)
        #expect(code(#"{"op":"c","after":{"user_id":1,"amount":"x"},\#(source),"ts_ms":1}"#) == .wrongType)
        #expect(code(#"{"op":"c","after":{"user_id":1},\#(source),"ts_ms":1}"#) == .missingField)
        #expect(code(#"{"op":"c","after":{"user_id":1,"amount":2.5,"new_column":true},\#(source),"ts_ms":1}"#) == nil, "a new column is ignored")
    }
}

struct BadInputOperatorTests {
    @Test func tryFilterDeadLettersWhatThePredicateThrowsOn() async throws {
        let dead = CollectedOutput<DeadLetter<Int>>()
        let out = CollectedOutput<Int>()
        try await Job("poison-filter") { env in
            let kept = env.fromCollection([1, 2, 3, 13, 4, 5, 6]).tryFilter { (x: Int) -> Bool in
                if x == 13 { throw StreamKitError(.configuration, "unlucky \(x)") }
                return x % 2 == 0
            }
            kept.sideOutput(DeadLetter<Int>.self).collect(into: dead)
            kept.collect(into: out)
        }.run()
        #expect(out.values.sorted() == [2, 4, 6])
        #expect(dead.values.map(\.record) == [13] && dead.values.first?.code == .userFunction)
    }
}

struct RecentIdentitiesModelTests {
    /// Against a reference model (a set and a FIFO queue), with many colliding identities so
    /// probing runs, wrap-around and backward-shift deletion are all exercised.
    @Test(arguments: [1, 3, 17, 1000])
    func agreesWithASetAndAQueue(capacity: Int) {
        var ids = RecentIdentities(capacity: capacity)
        var set = Set<UInt64>(), queue: [UInt64] = []
        var rng = SplitMix64(seed: UInt64(capacity))
        for _ in 0..<200_000 {
            let id = rng.next() % UInt64(capacity * 3 + 1)   // small domain: many repeats and evictions
            let expected = !set.contains(id == 0 ? 1 : id)
            let inserted = ids.insert(id)
            #expect(inserted == expected)
            if inserted != expected { return }
            if expected {
                set.insert(id == 0 ? 1 : id); queue.append(id == 0 ? 1 : id)
                if queue.count > capacity { set.remove(queue.removeFirst()) }
            }
            #expect(ids.count == set.count)
        }
    }
}
