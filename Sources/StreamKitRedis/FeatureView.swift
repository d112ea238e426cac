public import StreamKit

/// A named, versioned set of features of one entity type, declared once in Swift and shared by
/// the writer (``RedisFeatureSink``) and the readers (``FeatureClient``, `cdc-features features get`).
///
/// ## Key layout in Redis
/// For view `user_activity`, entity `42`, version `3` (namespace `feature`):
/// - `feature:user_activity:42:v3` — a hash: one field per feature (values as text: integers in
///   decimal, doubles in their shortest round-trip form, strings as UTF-8) plus `__event_time`
///   (event time of the update, ms since the epoch) and `__updated` (wall-clock ms of the write).
///   Expires `ttl` after the last write.
/// - `feature:user_activity:42:latest` — the newest version written for the entity, as a decimal
///   string, with the same expiry. It never moves back to an older version.
///
/// Both keys are written by one Lua script that only writes when the update's event time is ≥ the
/// stored `__event_time`, so replays and stale updates never overwrite newer values. (The two
/// keys of an entity are not hash-tagged: on Redis Cluster they would need a `{…}` tag around
/// `view:entity` to land in one slot.)
///
/// ```swift
/// let userActivity = FeatureView(name: "user_activity", entityKey: "user_id",
///                                features: [.int("clicks_5m"), .double("amount_sum_5m"), .string("last_page")],
///                                ttl: .hours(24), version: 3)
/// ```
public struct FeatureView: Sendable, Hashable {
    /// The view's name (part of every key; avoid `:`).
    public var name: String
    /// What the entity id is, e.g. `user_id` (documentation and output only).
    public var entityKey: String
    /// The features, in order.
    public var features: [Feature]
    /// How long an entity's features live after its last write; also the freshness bound of reads
    /// (a vector is fresh when now − event time ≤ ttl).
    public var ttl: Duration
    /// The schema version written by the sink and read by default when following no pointer.
    public var version: Int
    /// First part of every key. Default: `feature`.
    public var namespace: String

    public init(name: String, entityKey: String, features: [Feature], ttl: Duration, version: Int = 1,
                namespace: String = "feature") {
        self.name = name; self.entityKey = entityKey; self.features = features
        self.ttl = ttl; self.version = version; self.namespace = namespace
    }

    /// One feature: its name (a hash field) and how its text is read back.
    public struct Feature: Sendable, Hashable {
        public var name: String
        public var type: FeatureType
        public init(_ name: String, type: FeatureType) { self.name = name; self.type = type }
        public static func double(_ name: String) -> Feature { Feature(name, type: .double) }
        public static func int(_ name: String) -> Feature { Feature(name, type: .int) }
        public static func string(_ name: String) -> Feature { Feature(name, type: .string) }
    }

    /// The value type of a feature.
    public enum FeatureType: String, Sendable, Hashable { case double, int, string }

    /// `namespace:name:entity:v<version>` — the hash of one version of an entity's features.
    public func versionKey(entity: String, version: Int? = nil) -> String {
        "\(namespace):\(name):\(entity):v\(version ?? self.version)"
    }
    /// `namespace:name:entity:latest` — the entity's latest-version pointer.
    public func latestKey(entity: String) -> String { "\(namespace):\(name):\(entity):latest" }

    /// Hash field with the update's event time (ms).
    public static let eventTimeField = "__event_time"
    /// Hash field with the wall-clock time of the write (ms).
    public static let updatedField = "__updated"
}

/// A feature value: written as text, read back by the feature's declared type.
public enum FeatureValue: Sendable, Hashable, CustomStringConvertible,
                          ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral, ExpressibleByStringLiteral {
    case double(Double)
    case int(Int64)
    case string(String)

    public init(floatLiteral value: Double) { self = .double(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(stringLiteral value: String) { self = .string(value) }

    public var description: String {
        switch self {
        case .double(let d): return "\(d)"
        case .int(let i): return "\(i)"
        case .string(let s): return s
        }
    }
    /// The value as a double (ints converted; strings parsed).
    public var doubleValue: Double? {
        switch self {
        case .double(let d): return d
        case .int(let i): return Double(i)
        case .string(let s): return Double(s)
        }
    }

    /// Reads stored text as `type`; nil when it does not parse.
    public init?(text: String, as type: FeatureView.FeatureType) {
        switch type {
        case .double: guard let d = Double(text) else { return nil }; self = .double(d)
        case .int: guard let i = Int64(text) else { return nil }; self = .int(i)
        case .string: self = .string(text)
        }
    }
    /// Reads stored text of an unknown type: an integer, else a double, else a string.
    public init(inferring text: String) {
        if let i = Int64(text) { self = .int(i) } else if let d = Double(text), text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" || $0 == "n" || $0 == "i" }) {
            self = .double(d)
        } else { self = .string(text) }
    }

    package func append(to commands: inout RedisCommandBuffer) {
        switch self {
        case .double(let d): commands.arg(d)
        case .int(let i): commands.arg(i)
        case .string(let s): commands.arg(s)
        }
    }
}

/// What the sink writes for one element: the entity, the event time and the feature values.
///
/// Values are given by name (`features:`, convenient) or by position in the view's feature order
/// (`values:`, no dictionary per element). Features left out are not written (the stored value, if
/// any, stays).
public struct FeatureUpdate: Sendable {
    /// The entity id (part of the key; avoid `:`).
    public var entity: String
    /// Event time of the update in ms since the epoch: the write is skipped when the stored
    /// version already has a newer one.
    public var eventTime: EventTime
    @usableFromInline enum Values: Sendable { case named([String: FeatureValue]), positional([FeatureValue?]) }
    @usableFromInline var values: Values

    /// Values by feature name (names the view does not declare are ignored).
    public init(entity: String, eventTime: EventTime, features: [String: FeatureValue]) {
        self.entity = entity; self.eventTime = eventTime; values = .named(features)
    }
    /// Values in the view's feature order (nil: leave that feature unwritten).
    public init(entity: String, eventTime: EventTime, values: [FeatureValue?]) {
        self.entity = entity; self.eventTime = eventTime; self.values = .positional(values)
    }
}

/// The monotonic upsert: one `EVALSHA` per entity.
package enum FeatureUpsert {
    /// KEYS[1] version hash, KEYS[2] latest pointer.
    /// ARGV[1] event time, ARGV[2] updated, ARGV[3] ttl ms, ARGV[4] version, ARGV[5…] field/value pairs.
    /// Returns 1 when written, 0 when the stored event time is newer (stale update).
    package static let script = RedisScript("""
        local cur = redis.call('HGET', KEYS[1], '__event_time')
        if cur and tonumber(cur) > tonumber(ARGV[1]) then return 0 end
        if #ARGV > 4 then
          redis.call('HSET', KEYS[1], '__event_time', ARGV[1], '__updated', ARGV[2], unpack(ARGV, 5))
        else
          redis.call('HSET', KEYS[1], '__event_time', ARGV[1], '__updated', ARGV[2])
        end
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        local v = redis.call('GET', KEYS[2])
        if not v or tonumber(v) <= tonumber(ARGV[4]) then
          redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[3])
        end
        return 1
        """)

    /// Appends the `EVALSHA` of one update to `commands`.
    package static func append(_ update: FeatureUpdate, view: FeatureView, ttlMillis: Int64, updated: Int64,
                       to commands: inout RedisCommandBuffer) {
        commands.arg("EVALSHA"); commands.arg(script.sha1); commands.arg("2")
        appendKeyPrefix(view, update.entity, to: &commands); commands.part(":v"); commands.part(Int64(view.version)); commands.endArg()
        appendKeyPrefix(view, update.entity, to: &commands); commands.part(":latest"); commands.endArg()
        commands.arg(update.eventTime); commands.arg(updated); commands.arg(ttlMillis); commands.arg(view.version)
        switch update.values {
        case .positional(let values):
            for (i, v) in values.enumerated() where i < view.features.count {
                guard let v else { continue }
                commands.arg(view.features[i].name); v.append(to: &commands)
            }
        case .named(let dict):
            for f in view.features {
                guard let v = dict[f.name] else { continue }
                commands.arg(f.name); v.append(to: &commands)
            }
        }
        commands.endCommand()
    }

    package static func appendKeyPrefix(_ view: FeatureView, _ entity: String, to commands: inout RedisCommandBuffer) {
        commands.part(view.namespace); commands.part(":"); commands.part(view.name); commands.part(":"); commands.part(entity)
    }
}
