import Foundation
import Testing
import StreamKit
import StreamKitPostgres
import StreamKitTesting

/// The pgoutput decoder on what a real PostgreSQL 15 (from scripts/services) emits: changes are
/// read with `pg_logical_slot_get_binary_changes(…, 'proto_version', '1', 'publication_names', …)`,
/// which returns exactly the pgoutput messages a replication connection streams.
@Suite(.serialized) struct PgOutputPostgresTests {
    static func psql(_ sql: String) throws -> String {
        let r = try ChildProcess.run("/usr/bin/env", ["psql", Services.postgresDSN, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                                     timeout: .seconds(120))
        guard r.status == 0 else { throw StreamKitError(.connector, "psql: \(r.stderr)") }
        return r.stdout
    }

    static func hex(_ s: Substring) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex, let j = s.index(i, offsetBy: 2, limitedBy: s.endIndex) {
            out.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    @Test func decodesWhatPostgresEmits() throws {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let table = "pgout_\(suffix)", slot = "slot_\(suffix)", publication = "pub_\(suffix)"
        _ = try Self.psql("CREATE TABLE \(table)(id int PRIMARY KEY, name text, amount numeric(10,2)); ALTER TABLE \(table) REPLICA IDENTITY FULL; CREATE PUBLICATION \(publication) FOR TABLE \(table);")
        _ = try Self.psql("SELECT pg_create_logical_replication_slot('\(slot)', 'pgoutput');")
        defer { _ = try? Self.psql("SELECT pg_drop_replication_slot('\(slot)'); DROP PUBLICATION \(publication); DROP TABLE \(table);") }
        _ = try Self.psql("INSERT INTO \(table) VALUES (1, 'ada', 12.50), (2, NULL, 3);")
        _ = try Self.psql("UPDATE \(table) SET name = 'grace' WHERE id = 1;")
        _ = try Self.psql("DELETE FROM \(table) WHERE id = 2;")
        _ = try Self.psql("TRUNCATE \(table);")
        let rows = try Self.psql("SELECT encode(data, 'hex') FROM pg_logical_slot_get_binary_changes('\(slot)', NULL, NULL, 'proto_version', '1', 'publication_names', '\(publication)');")
        let messages = try rows.split(separator: "\n").map { try PgOutput.decodeMessage(Self.hex($0)) }
        var relationID: UInt32 = 0
        var summary: [String] = []
        for m in messages {
            switch m {
            case .begin: summary.append("B")
            case .commit: summary.append("C")
            case let .relation(id, ns, name, identity, columns):
                relationID = id
                #expect(ns == "public" && name == table && identity == UInt8(ascii: "f"))
                #expect(columns.map(\.name) == ["id", "name", "amount"] && columns.map(\.isKey) == [true, true, true], "REPLICA IDENTITY FULL: every column is part of the identity")
                #expect(columns.map(\.typeOID) == [23, 25, 1700])
                summary.append("R")
            case let .insert(rel, new):
                #expect(rel == relationID)
                summary.append("I" + new.map(Self.show).joined(separator: ","))
            case let .update(rel, old, keyOnly, new):
                #expect(rel == relationID && !keyOnly)
                summary.append("U" + (old ?? []).map(Self.show).joined(separator: ",") + ">" + new.map(Self.show).joined(separator: ","))
            case let .delete(rel, old, keyOnly):
                #expect(rel == relationID && !keyOnly, "REPLICA IDENTITY FULL sends the whole old row")
                summary.append("D" + old.map(Self.show).joined(separator: ","))
            case let .truncate(relations, _, _):
                #expect(relations == [relationID])
                summary.append("T")
            default: summary.append("?")
            }
        }
        // A Relation message precedes the first change of the relation in a decoding session.
        #expect(summary.firstIndex(of: "R") == 1, "\(summary)")
        #expect(summary.filter { $0 != "R" } == ["B", "I1,ada,12.50", "I2,null,3.00", "C",
                                                 "B", "U1,ada,12.50>1,grace,12.50", "C",
                                                 "B", "D2,null,3.00", "C",
                                                 "B", "T", "C"], "\(summary)")
    }

    static func show(_ v: PgOutput.Value) -> String {
        switch v { case .null: return "null"; case .unchangedToast: return "toast"; case let .text(t): return t }
    }
}
