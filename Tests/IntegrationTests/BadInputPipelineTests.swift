import Foundation
import Testing
import StreamKit
import StreamKitJobs
import StreamKitKafka
import StreamKitQuery

/// Ten classes of bad input through the Kafka → windows → Redis pipeline (`cdc-features
/// pipeline`), each in the middle of a stream of good events on the real broker and Redis: the bad
/// record lands in the dead-letter topic (reason code in `streamkit.dlq.reason`, original value,
/// source topic/partition/offset) or in the late output, is counted by reason, and every good
/// event's features in Redis are exactly what the good events alone give.
@Suite(.serialized) struct BadInputPipelineTests {
    typealias B = BadInput

    /// 30 good events for users 1…5 with `bad` at offset 15.
    static func withBadInTheMiddle(_ bad: KafkaMessage, good: [B.Event] = B.goodEvents(30)) -> [KafkaMessage] {
        var messages = good.map(B.message)
        messages.insert(bad, at: 15)
        return messages
    }
    static let users: [Int64] = Array(1...10)

    @Test(.timeLimit(.minutes(15)))
    func malformedJSONIsDeadLettered() async throws {
        let bad = #"{"before":null,"after":{"id":999,"user_id":3,"amount":12.5,"ts_ms":"#
        let outcome = try await B.run(Self.withBadInTheMiddle(KafkaMessage(key: "3", value: bad)), users: Self.users)
        B.expectOneDeadLetter(outcome, reason: .malformedJSON, payload: bad, offset: 15, good: B.goodEvents(30))
        #expect(outcome.deadLetters.first?.keyString == "3", "the dead letter keeps the original key")
    }

    @Test(.timeLimit(.minutes(15)))
    func unknownOperationIsDeadLettered() async throws {
        let bad = B.line(B.Event(id: 999, user: 3, ts: B.base + 1_550, amount: 500), op: "x")
        let outcome = try await B.run(Self.withBadInTheMiddle(KafkaMessage(key: "3", value: bad)), users: Self.users)
        B.expectOneDeadLetter(outcome, reason: .unknownOperation, payload: bad, offset: 15, good: B.goodEvents(30))
        #expect(outcome.deadLetters.first?.header(KafkaDeadLetterHeader.error)?.stringValue?.contains("\"x\"") == true)
    }

    /// Schema evolution: a new column is accepted and ignored (its events count); a dropped
    /// required column (`amount`) is dead-lettered as `missing_field`.
    @Test(.timeLimit(.minutes(15)))
    func newColumnIsIgnoredAndDroppedColumnIsDeadLettered() async throws {
        let good = B.goodEvents(30)
        var messages = good.enumerated().map { i, e in
            i >= 10 ? KafkaMessage(key: String(e.user), value: B.line(e, extra: #","discount":0.1,"channel":"web""#)) : B.message(e)
        }
        let dropped = B.Event(id: 999, user: 2, ts: B.base + 1_550, amount: 500)
        let bad = B.line(dropped).replacingOccurrences(of: #""amount":500.0,"#, with: "")
        #expect(!bad.contains("amount"))
        messages.insert(KafkaMessage(key: "2", value: bad), at: 15)
        let outcome = try await B.run(messages, users: Self.users)
        B.expectOneDeadLetter(outcome, reason: .missingField, payload: bad, offset: 15, good: good)
        #expect(outcome.deadLetters.first?.header(KafkaDeadLetterHeader.error)?.stringValue?.contains("after.amount") == true,
                "the error names the field")
    }

    @Test(.timeLimit(.minutes(15)))
    func nullKeyIsDeadLettered() async throws {
        let bad = B.line(B.Event(id: 999, user: 3, ts: B.base + 1_550, amount: 500)).replacingOccurrences(of: #""user_id":3"#, with: #""user_id":null"#)
        let outcome = try await B.run(Self.withBadInTheMiddle(KafkaMessage(key: nil as String?, value: bad)), users: Self.users)
        B.expectOneDeadLetter(outcome, reason: .nullKey, payload: bad, offset: 15, good: B.goodEvents(30))
    }

    /// A 10 MB value (beyond the pipeline's 1 MiB `maxRecordBytes`) is dead-lettered without being
    /// parsed; the dead letter keeps its first 256 KiB and says how long it was.
    @Test(.timeLimit(.minutes(15)))
    func tenMegabyteValueIsDeadLetteredUnparsed() async throws {
        let size = 10 * 1_048_576
        let e = B.Event(id: 999, user: 3, ts: B.base + 1_550, amount: 500)
        // Valid JSON with a huge string: only the size check can reject it.
        let frame = B.line(e, extra: #","blob":"""#).utf8.count
        let bad = B.line(e, extra: #","blob":""# + String(repeating: "a", count: size - frame) + "\"")
        let value = Array(bad.utf8)
        #expect(value.count == size)
        let outcome = try await B.run(Self.withBadInTheMiddle(KafkaMessage(key: Array("3".utf8), value: value)), users: Self.users,
                                      producer: ["message.max.bytes": "16000000"])
        #expect(outcome.deadLetters.count == 1)
        let d = try #require(outcome.deadLetters.first)
        #expect(d.header(KafkaDeadLetterHeader.reason)?.stringValue == "record_too_large")
        #expect(d.header(KafkaDeadLetterHeader.originalSize)?.stringValue == String(value.count))
        #expect(d.header(KafkaDeadLetterHeader.sourceOffset)?.stringValue == "15")
        #expect(d.value == Array(value.prefix(262_144)), "the first 256 KiB of the original value")
        #expect(outcome.counts.count(.recordTooLarge) == 1 && outcome.counts.total == 1)
        B.expectFeatures(outcome, good: B.goodEvents(30))
    }

    /// The issue's case: `"amount": "x"` used to be aggregated as `sum: null`.
    @Test(.timeLimit(.minutes(15)))
    func stringWhereANumberIsExpectedIsDeadLettered() async throws {
        let bad = B.line(B.Event(id: 999, user: 3, ts: B.base + 1_550, amount: 500)).replacingOccurrences(of: #""amount":500.0"#, with: #""amount":"x""#)
        #expect(bad.contains(#""amount":"x""#))
        let outcome = try await B.run(Self.withBadInTheMiddle(KafkaMessage(key: "3", value: bad)), users: Self.users)
        B.expectOneDeadLetter(outcome, reason: .wrongType, payload: bad, offset: 15, good: B.goodEvents(30))
        #expect(outcome.deadLetters.first?.header(KafkaDeadLetterHeader.error)?.stringValue?.contains("after.amount") == true)
    }

    /// A timestamp two days ahead (max skew 1 h) is dead-lettered instead of advancing the
    /// watermark: the good events after it are not late (their features are complete).
    @Test(.timeLimit(.minutes(15)))
    func farFutureTimestampIsDeadLetteredAndDoesNotAdvanceTheWatermark() async throws {
        let bad = B.line(B.Event(id: 999, user: 3, ts: WallClock.millis() + 2 * 86_400_000, amount: 500))
        let outcome = try await B.run(Self.withBadInTheMiddle(KafkaMessage(key: "3", value: bad)), users: Self.users) { o in
            o.validation.maxFutureSkew = .hours(1)
        }
        B.expectOneDeadLetter(outcome, reason: .futureTimestamp, payload: bad, offset: 15, good: B.goodEvents(30))
        #expect(outcome.result.metrics.lateRecords == 0, "no good event became late")
    }

    /// An exact duplicate (same Debezium source position `source.lsn`, re-sent at a later offset)
    /// is dead-lettered as `duplicate` and counted once in the features.
    @Test(.timeLimit(.minutes(15)))
    func exactDuplicateIsDeadLetteredAndCountedOnce() async throws {
        let good = B.goodEvents(30)
        let repeated = B.message(good[7])
        let outcome = try await B.run(Self.withBadInTheMiddle(repeated, good: good), users: Self.users) { o in
            o.validation.identityPaths = ["source.lsn"]
        }
        B.expectOneDeadLetter(outcome, reason: .duplicate, payload: B.line(good[7]), offset: 15, good: good)
    }

    /// An event later than the allowed lateness goes to the late output (not the dead letters),
    /// counted as `late`, and changes no feature.
    @Test(.timeLimit(.minutes(15)))
    func eventLaterThanAllowedLatenessGoesToTheLateOutput() async throws {
        var good = B.goodEvents(20)
        good += B.goodEvents(10, firstID: 100, start: B.base + 600_000).map { var e = $0; e.user += 5; return e }   // users 6…10, ten minutes on
        var messages = good.map(B.message)
        let lateEvent = B.Event(id: 999, user: 1, ts: B.base + 550, amount: 500)
        messages.insert(B.message(lateEvent), at: 25)   // after the watermark passed user 1's windows (+ 1 s allowed lateness)
        let outcome = try await B.run(messages, users: Self.users) { o in o.allowedLateness = .seconds(1) }
        #expect(outcome.deadLetters.isEmpty)
        #expect(outcome.late.count == 1)
        let l = try #require(outcome.late.first)
        #expect(l.header(KafkaDeadLetterHeader.reason)?.stringValue == "late")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(l.value ?? [])) as? [String: Any])
        #expect(json["user_id"] as? Int == 1 && json["ts_ms"] as? Int64 == lateEvent.ts && json["amount"] as? Double == 500)
        #expect(outcome.counts.count(.late) == 1 && outcome.counts.total == 1)
        #expect(outcome.result.metrics.lateRecords == 1)
        B.expectFeatures(outcome, good: good)
    }

    struct Poison: Error, CustomStringConvertible {
        var user: Int64
        var description: String { "poison record: amount 666 for user \(user)" }
    }

    /// A record that makes the user function throw is dead-lettered (`user_function`, the error's
    /// text in `streamkit.dlq.error`, the event as JSON); the job goes on.
    @Test(.timeLimit(.minutes(15)))
    func poisonRecordThatMakesTheUserFunctionThrowIsDeadLettered() async throws {
        let bad = B.Event(id: 999, user: 3, ts: B.base + 1_550, amount: 666)
        let outcome = try await B.run(Self.withBadInTheMiddle(B.message(bad)), users: Self.users) { o in
            o.transform = { r in
                if r.v0 == 666 { throw Poison(user: r.key) }
                return r
            }
        }
        #expect(outcome.deadLetters.count == 1)
        let d = try #require(outcome.deadLetters.first)
        #expect(d.header(KafkaDeadLetterHeader.reason)?.stringValue == "user_function")
        #expect(d.header(KafkaDeadLetterHeader.error)?.stringValue == "poison record: amount 666 for user 3")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(d.value ?? [])) as? [String: Any])
        #expect(json["user_id"] as? Int == 3 && json["ts_ms"] as? Int64 == bad.ts && json["amount"] as? Double == 666)
        #expect(outcome.counts.count(.userFunction) == 1 && outcome.counts.total == 1)
        B.expectFeatures(outcome, good: B.goodEvents(30))
    }
}
