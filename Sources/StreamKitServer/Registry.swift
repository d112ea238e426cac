import Foundation
import GRDB

/// The control plane's durable registry: sources, jobs (and what each should be doing) in SQLite
/// through GRDB under the data directory. Each kind is one table `(id, spec, desired_state,
/// created_at)`; `spec` is the validated request as JSON. A write is committed before the API
/// answers, so a server killed at any point restarts with every acknowledged change.
final class Registry: Sendable {
    /// The tables of the registry.
    enum Kind: String, Sendable, CaseIterable {
        case source, job, consumer, replay
    }

    /// What a registered source or job should be doing: a restarted server resumes the `running` ones.
    enum DesiredState: String, Sendable {
        case running, stopped
    }

    /// One row.
    struct Entry: Sendable, Equatable {
        var id: String
        var spec: Data
        var desiredState: DesiredState
        var createdAt: Int64
    }

    private let database: DatabaseQueue
    let path: String

    /// Opens (creating and migrating when needed) `registry.sqlite` in `directory`.
    init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/registry.sqlite"
        var config = Configuration()
        config.label = "streamkit.registry"
        config.prepareDatabase { db in
            // WAL: readers never wait for the writer; NORMAL sync survives a process crash (kill -9).
            try db.execute(sql: "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL")
        }
        database = try DatabaseQueue(path: path, configuration: config)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            for kind in [Kind.source, .job] {
                try db.create(table: kind.rawValue) { t in
                    t.primaryKey("id", .text)
                    t.column("spec", .blob).notNull()
                    t.column("desired_state", .text).notNull()
                    t.column("created_at", .integer).notNull()
                }
            }
        }
        migrator.registerMigration("v2 consumers") { db in
            try db.create(table: Kind.consumer.rawValue) { t in
                t.primaryKey("id", .text)
                t.column("spec", .blob).notNull()
                t.column("desired_state", .text).notNull()
                t.column("created_at", .integer).notNull()
            }
        }
        migrator.registerMigration("v3 replays") { db in
            try db.create(table: Kind.replay.rawValue) { t in
                t.primaryKey("id", .text)
                t.column("spec", .blob).notNull()
                t.column("desired_state", .text).notNull()
                t.column("created_at", .integer).notNull()
            }
        }
        try migrator.migrate(database)
    }

    func insert(_ kind: Kind, id: String, spec: Data, desiredState: DesiredState) async throws {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        try await database.write { db in
            try db.execute(sql: "INSERT INTO \(kind.rawValue)(id, spec, desired_state, created_at) VALUES (?, ?, ?, ?)",
                           arguments: [id, spec, desiredState.rawValue, now])
        }
    }

    func setDesiredState(_ kind: Kind, id: String, _ state: DesiredState) async throws {
        try await database.write { db in
            try db.execute(sql: "UPDATE \(kind.rawValue) SET desired_state = ? WHERE id = ?", arguments: [state.rawValue, id])
        }
    }

    /// Returns whether a row was deleted.
    @discardableResult
    func delete(_ kind: Kind, id: String) async throws -> Bool {
        try await database.write { db in
            try db.execute(sql: "DELETE FROM \(kind.rawValue) WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    func entry(_ kind: Kind, id: String) async throws -> Entry? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT id, spec, desired_state, created_at FROM \(kind.rawValue) WHERE id = ?", arguments: [id])
                .map(Self.entry)
        }
    }

    /// Every row of `kind`, oldest first.
    func entries(_ kind: Kind) async throws -> [Entry] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT id, spec, desired_state, created_at FROM \(kind.rawValue) ORDER BY created_at, id")
                .map(Self.entry)
        }
    }

    private static func entry(_ row: Row) -> Entry {
        Entry(id: row["id"], spec: row["spec"], desiredState: DesiredState(rawValue: row["desired_state"]) ?? .stopped,
              createdAt: row["created_at"])
    }
}
