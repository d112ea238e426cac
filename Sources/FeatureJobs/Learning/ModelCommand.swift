public import StreamKit

/// An operator's command to a running ``OnlineLearner`` (`cdc-features models promote|rollback`
/// and `/api/v1/models/{name}/promote|rollback` produce one to the `model-commands` topic, keyed
/// by the model): `{"id":"…","model":"fraud","kind":"promote","version":"2","reason":"…","issued_ms":…}`.
///
/// The learner applies a command once: its id is kept in the learner's checkpointed keyed state,
/// so a command read again (a replay of the topic after a restore) changes nothing.
public struct ModelCommand: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// Make ``ModelCommand/version`` the champion.
        case promote
        /// Make the previous champion the champion again.
        case rollback
    }
    /// Unique per command (a UUID).
    public var id: String
    public var model: String
    public var kind: Kind
    /// The version to promote (nil for a rollback).
    public var version: String?
    /// The operator's note.
    public var reason: String?
    /// Wall-clock time the command was issued (ms since the epoch).
    public var issuedMs: Int64

    public init(id: String, model: String, kind: Kind, version: String? = nil, reason: String? = nil, issuedMs: Int64) {
        self.id = id; self.model = model; self.kind = kind; self.version = version; self.reason = reason; self.issuedMs = issuedMs
    }

    enum CodingKeys: String, CodingKey {
        case id, model, kind, version, reason
        case issuedMs = "issued_ms"
    }
}

/// The ids of the commands a learner key has applied (or refused), newest last: keyed state of
/// ``OnlineLearner``, so a command replayed after a restore is recognised. Keeps the last
/// ``capacity`` ids.
public struct AppliedModelCommands: Sendable, Hashable, StateCodable {
    public static let capacity = 10_000
    public private(set) var ids: [String] = []

    public init() {}

    public func contains(_ id: String) -> Bool { ids.contains(id) }

    public mutating func insert(_ id: String) {
        ids.append(id)
        if ids.count > Self.capacity { ids.removeFirst(ids.count - Self.capacity) }
    }

    public func encode(to w: inout ByteWriter) { ids.encode(to: &w) }
    public init(from r: inout ByteReader) throws { ids = try [String](from: &r) }
}
