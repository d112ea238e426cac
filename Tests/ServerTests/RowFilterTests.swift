import Foundation
import Testing
@testable import StreamKitServer

struct RowFilterTests {
    static func event(op: String = "u", table: String = "orders", before: String = "null", after: String) -> [UInt8] {
        Array(#"{"before":\#(before),"after":\#(after),"source":{"schema":"public","table":"\#(table)","lsn":1},"op":"\#(op)","ts_ms":5}"#.utf8)
    }

    func matches(_ filter: String, _ after: String, before: String = "null") throws -> Bool {
        let selector = ChangeSelector(tables: nil, operations: nil, columns: nil, rowFilter: try RowFilter(parsing: filter))
        return try selector.select(Self.event(before: before, after: after)) != nil
    }

    @Test func comparisonsBooleansInAndNull() throws {
        let row = #"{"id":7,"amount":120.5,"status":"paid","vip":true,"note":null,"price":"19.90"}"#
        #expect(try matches("after.amount >= 100", row))
        #expect(try !matches("after.amount < 100", row))
        #expect(try matches("after.id = 7 and after.status = 'paid'", row))
        #expect(try matches("after.status != 'open' or after.id > 100", row))
        #expect(try matches("after.status in ('paid', 'shipped')", row))
        #expect(try !matches("after.status not in ('paid', 'shipped')", row))
        #expect(try matches("after.note is null and after.id is not null", row))
        #expect(try matches("after.missing is null", row))
        #expect(try !matches("after.missing = 1", row))          // unknown → false
        #expect(try !matches("not (after.vip = true)", row))
        #expect(try matches("after.price > 19.5", row))           // decimals as strings
        #expect(try matches("before.id is null", row))            // an insert has no before
        #expect(try matches("before.amount < 5 and after.id = 7", row, before: #"{"id":7,"amount":1}"#))
        #expect(try !matches("before.amount > 5", row, before: #"{"id":7,"amount":1}"#))
        #expect(try matches("(after.id = 1 or after.id = 7) and not after.status = 'open'", row))
        #expect(try matches("after.status = 'it''s'", #"{"status":"it's"}"#))
    }

    @Test func badFiltersNameTheProblem() {
        for (text, expected) in [("", "is empty"), ("after.amount >", "expected a value"), ("amount > 1", "is not a field"),
                                 ("after.amount > 1 and", "expected a field"), ("after.a = 'x", "unterminated string"),
                                 ("after.a = 1)", "unexpected ')'"), ("(after.a = 1", "expected ')'"), ("after.a ~ 1", "unexpected character"),
                                 ("after.a in ()", "expected a number"), ("after.a is 1", "expected null"), ("drop table x", "is not a field"),
                                 ("after.a = after.b", "expected a number"), (String(repeating: "(", count: 100) + "after.a = 1", "nested deeper")] {
            do {
                _ = try RowFilter(parsing: text)
                Issue.record("accepted \(text)")
            } catch let e as ServerError {
                #expect(e.field == "row_filter")
                #expect(e.message.contains(expected), "\(text): \(e.message)")
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    @Test func selectorFiltersTablesAndOperationsAndProjectsColumns() throws {
        let s = ChangeSelector(tables: ["orders"], operations: ["c", "u"], columns: ["id", "status"], rowFilter: nil)
        let update = Self.event(op: "u", before: #"{"id":1,"status":"open","secret":"x"}"#, after: #"{"id":1,"status":"paid \"now\"","secret":"y"}"#)
        let out = try #require(try s.select(update))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(out)) as? [String: Any])
        let after = try #require(object["after"] as? [String: Any])
        #expect(after.keys.sorted() == ["id", "status"])
        #expect(after["status"] as? String == "paid \"now\"")
        #expect((object["before"] as? [String: Any])?.keys.sorted() == ["id", "status"])
        #expect((object["source"] as? [String: Any])?["table"] as? String == "orders")
        #expect(object["op"] as? String == "u")
        #expect(try s.select(Self.event(op: "d", after: "null")) == nil)
        #expect(try s.select(Self.event(op: "c", table: "items", after: #"{"id":1}"#)) == nil)
        #expect(try s.select([]) == nil)   // a tombstone
        let insert = try #require(try s.select(Self.event(op: "c", after: #"{"id":2,"status":"new","secret":"z"}"#)))
        #expect(!String(decoding: insert, as: UTF8.self).contains("secret"))
    }
}
