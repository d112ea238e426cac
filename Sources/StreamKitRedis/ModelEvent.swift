/// One change of the ``ModelVersionRegistry`` — the audit trail, one record per change on the
/// `model-events` topic: `{"type":"promoted","model":"fraud","version":"3","alias":"champion","previous":"2",…}`.
public struct ModelEvent: Sendable, Hashable, Codable {
    /// `registered`, `alias_set`, `promoted`, `rolled_back`, `metrics`; `command_applied` when a
    /// running job applied an operator's promote or rollback command.
    public var type: String
    public var model: String
    public var version: String
    /// The alias concerned (`champion`, `challenger`), if any.
    public var alias: String?
    /// The version the alias pointed to before.
    public var previous: String?
    /// Why (a person's note, or a retraining decision's numbers).
    public var reason: String?
    /// Wall-clock time of the change (ms since the epoch).
    public var atMs: Int64

    public init(type: String, model: String, version: String, alias: String? = nil, previous: String? = nil, reason: String? = nil, atMs: Int64) {
        self.type = type; self.model = model; self.version = version; self.alias = alias; self.previous = previous
        self.reason = reason; self.atMs = atMs
    }

    enum CodingKeys: String, CodingKey {
        case type, model, version, alias, previous, reason
        case atMs = "at_ms"
    }
}
