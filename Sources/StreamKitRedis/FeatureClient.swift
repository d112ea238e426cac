import Dispatch
public import StreamKit
public import StreamKitJSON

/// One entity's features as read from the store.
public struct FeatureVector: Sendable, Equatable {
    /// A feature's name and value.
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: FeatureValue
    }
    public var entity: String
    /// The version whose hash was read.
    public var version: Int
    /// Event time of the newest update written (ms since the epoch).
    public var eventTime: EventTime
    /// Wall-clock time of that write (ms).
    public var updated: Int64
    /// now − event time, in ms, at read time.
    public var ageMillis: Int64
    /// Whether `ageMillis` ≤ the view's TTL; nil when the view (so its TTL) is not known.
    public var isFresh: Bool?
    /// The features found, in the view's order (or by name when the view is not known).
    public var features: [Field]

    /// The value of feature `name`, if stored.
    public subscript(name: String) -> FeatureValue? { features.first { $0.name == name }?.value }

    /// The features as one JSON object (`{"name": value, …}`), for every JSON rendering of a vector.
    public func writeFeatures(into w: inout JSONWriter) {
        w.beginObject()
        for f in features {
            w.key(f.name)
            switch f.value {
            case .double(let d): w.value(d)
            case .int(let i): w.value(i)
            case .string(let s): w.value(s)
            }
        }
        w.endObject()
    }
}

/// Reads feature vectors written by ``RedisFeatureSink``.
///
/// The async methods run Redis I/O on the client's own serial `DispatchQueue` (one connection),
/// never on the Swift concurrency pool; the `…Blocking` variants are for dedicated threads.
/// `getMany` is one round trip: a script reads the latest pointers and the hashes they name atomically.
/// The JSON lookups of the control API read them in one transaction instead (a quarter of the
/// server time; see `render`).
///
/// ```swift
/// let client = try FeatureClient(url: "redis://127.0.0.1:6379")
/// if let v = try await client.get(view: userActivity, entity: "42") {
///     print(v["clicks_5m"] ?? 0, v.ageMillis, v.isFresh == true)
/// }
/// ```
public final class FeatureClient: @unchecked Sendable {
    // @unchecked: `connection` is only touched under `lock`.
    public let configuration: RedisConfiguration
    private let queue: DispatchQueue
    private let lock = ConditionLock()
    private var connection: RedisConnection?
    /// Per `namespace:view`: the version most of its entities pointed to at the last read.
    private var versionGuesses: [String: Int] = [:]
    private let now: @Sendable () -> Int64

    /// A client of the server in `configuration`; connects lazily on first use.
    /// `now` is the clock of ages and freshness (ms since the epoch).
    public init(configuration: RedisConfiguration, now: @escaping @Sendable () -> Int64 = { WallClock.millis() }) {
        self.configuration = configuration
        self.now = now
        queue = DispatchQueue(label: "streamkit.feature-client")
    }

    /// A client of the server at `url` (`redis://[[user]:password@]host[:port][/db]`).
    public convenience init(url: String) throws {
        self.init(configuration: try RedisConfiguration(url: url))
    }

    // MARK: Async

    /// The features of `entity` in `view` (at `version`, or the entity's latest pointer); nil when missing or expired.
    public func get(view: FeatureView, entity: String, version: Int? = nil) async throws -> FeatureVector? {
        try await getMany(view: view, entities: [entity], version: version)[0]
    }

    /// The features of each of `entities`, in order (nil where missing), in one round trip.
    public func getMany(view: FeatureView, entities: [String], version: Int? = nil) async throws -> [FeatureVector?] {
        try await onQueue { try self.read(view, typed: true, entities: entities, version: version) }
    }

    /// Like ``getMany(view:entities:version:)`` for a view known only by name: every stored field is
    /// returned with its type inferred (integer, double, else string), and `isFresh` is nil.
    public func getMany(viewNamed name: String, namespace: String = "feature", entities: [String],
                        version: Int? = nil) async throws -> [FeatureVector?] {
        let view = FeatureView(name: name, entityKey: "", features: [], ttl: .zero, version: version ?? 0, namespace: namespace)
        return try await onQueue { try self.read(view, typed: false, entities: entities, version: version) }
    }

    /// The lookup as the JSON printed by `cdc-features features get`:
    /// `{"view":…,"entities":[{"entity":…,"found":true,"version":…,"event_time":…,"age_ms":…,"features":{…}},…]}`;
    /// a missing entity is `{"entity":…,"found":false}`.
    public func lookupJSON(viewNamed name: String, namespace: String = "feature", entities: [String],
                           version: Int? = nil) async throws -> String {
        String(decoding: try await lookupJSONBytes(viewNamed: name, namespace: namespace, entities: entities, version: version),
               as: UTF8.self)
    }

    /// ``lookupJSON(viewNamed:namespace:entities:version:)`` as UTF-8 bytes, rendered straight from
    /// the reply (no ``FeatureVector`` or `String` per value): the control API's batch-get.
    package func lookupJSONBytes(viewNamed name: String, namespace: String = "feature", entities: [String],
                                 version: Int? = nil) async throws -> [UInt8] {
        try await onQueue { try self.render(viewNamed: name, namespace: namespace, entities: entities, version: version, single: false)! }
    }

    /// One entity as `{"view":…,"entity":…,"found":true,"version":…,"event_time":…,"age_ms":…,"features":{…}}`,
    /// nil when missing or expired (the control API's single-entity read).
    package func lookupOneJSONBytes(viewNamed name: String, namespace: String = "feature", entity: String) async throws -> [UInt8]? {
        try await onQueue { try self.render(viewNamed: name, namespace: namespace, entities: [entity], version: nil, single: true) }
    }

    // MARK: Blocking

    /// Blocking ``getMany(view:entities:version:)`` — only from a dedicated thread.
    public func getManyBlocking(view: FeatureView, entities: [String], version: Int? = nil) throws -> [FeatureVector?] {
        try lock.withLock { try read(view, typed: true, entities: entities, version: version) }
    }

    /// Renders lookups as the `features get` JSON.
    public static func json(view: String, entities: [String], vectors: [FeatureVector?]) -> String {
        var w = JSONWriter(capacity: 256 + entities.count * 128)
        w.beginObject()
        w.field("view", view)
        w.key("entities"); w.beginArray()
        for (entity, vector) in zip(entities, vectors) {
            w.beginObject()
            w.field("entity", entity)
            if let v = vector {
                w.field("found", true)
                w.field("version", v.version)
                w.field("event_time", v.eventTime)
                w.field("age_ms", v.ageMillis)
                if let fresh = v.isFresh { w.field("fresh", fresh) }
                w.key("features"); v.writeFeatures(into: &w)
            } else {
                w.field("found", false)
            }
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return String(decoding: w.bytes, as: UTF8.self)
    }

    // MARK: Internals

    /// Runs under `lock`: the features of `entities` rendered as JSON straight from the replies.
    ///
    /// One round trip and one atomic step on the server in the common case: a transaction reads
    /// every entity's latest pointer (`MGET`) and the hash of the version the view's entities
    /// pointed to last time (`HGETALL …:v<guess>`). A transaction costs Redis a quarter of the read
    /// script's time (which converts every hash to Lua values and back), and the server time is
    /// what a read waits for behind the pipeline's own work. An entity whose pointer names another
    /// version (a view between versions) is read again by the read script, which reads its pointer
    /// and the hash it names atomically, so no vector is assembled from a pointer and a hash of
    /// different versions. With `version` given, that version's hashes are read directly.
    private func render(viewNamed name: String, namespace: String, entities: [String], version: Int?, single: Bool) throws -> [UInt8]? {
        if connection == nil { connection = try RedisConnection(configuration) }
        let redis = connection!
        let view = FeatureView(name: name, entityKey: "", features: [], ttl: .zero, version: version ?? 0, namespace: namespace)
        let guessKey = namespace + ":" + name
        let guess = Int64(version ?? versionGuesses[guessKey] ?? 1)
        let guessText = Array(String(guess).utf8)
        var commands = RedisCommandBuffer(capacity: entities.count * 2 * (name.utf8.count + namespace.utf8.count + 32) + 64)
        if version == nil {
            commands.arg("MGET")
            for e in entities { FeatureUpsert.appendKeyPrefix(view, e, to: &commands); commands.part(":latest"); commands.endArg() }
            commands.endCommand()
        }
        for e in entities {
            commands.arg("HGETALL")
            FeatureUpsert.appendKeyPrefix(view, e, to: &commands); commands.part(":v"); commands.part(guess); commands.endArg()
            commands.endCommand()
        }
        let now = self.now()
        return try redis.withTransaction(commands) { reply -> [UInt8]? in
            let first = version == nil ? 1 : 0
            for i in 0..<reply.count where reply[i].isError {
                throw StreamKitError(.connector, "reading \(entities.count) entities of \(name): \(reply[i].copied)")
            }
            // Per entity: found with the guessed version, not found (no pointer), or a miss.
            var misses: [Int] = []
            var missed: [Int64: Int] = [:]
            if version == nil {
                let pointers = reply[0]
                guard pointers.count == entities.count else {
                    throw StreamKitError(.connector, "reading \(name): \(pointers.count) pointers for \(entities.count) entities")
                }
                for i in entities.indices where !pointers[i].isNull {
                    let p = pointers[i].bytes
                    if p.elementsEqual(guessText) { continue }
                    misses.append(i)
                    if let v = pointers[i].integer { missed[v, default: 0] += 1 }
                }
                // Most entities elsewhere: guess their version next time.
                if misses.count * 2 > entities.count, let next = missed.max(by: { $0.value < $1.value })?.key,
                   let next = Int(exactly: next) {
                    if versionGuesses.count >= 1024 { versionGuesses.removeAll() }
                    versionGuesses[guessKey] = next
                }
            }
            // Entity i as the transaction read it: the guessed version's hash, nil without a pointer.
            let read: (Int) -> (version: Int64, hash: RedisReplyView)? = { i in
                version != nil || !reply[0][i].isNull ? (guess, reply[first + i]) : nil
            }
            if misses.isEmpty { return Self.renderJSON(view: name, entities: entities, single: single, now: now, read) }
            // The misses through the read script (pointer and hash together).
            var script = RedisCommandBuffer(capacity: misses.count * 64 + 64)
            script.arg("EVALSHA"); script.arg(FeatureRead.script.sha1); script.arg(misses.count)
            for i in misses { FeatureUpsert.appendKeyPrefix(view, entities[i], to: &script); script.endArg() }
            script.arg("")
            script.endCommand()
            return try redis.withReply(script, scripts: [FeatureRead.script]) { again -> [UInt8]? in
                if again.isError { throw StreamKitError(.connector, "reading \(misses.count) entities of \(name): \(again.copied)") }
                guard again.count == misses.count else {
                    throw StreamKitError(.connector, "reading \(name): \(again.count) replies for \(misses.count) entities")
                }
                var slot = [Int](repeating: -1, count: entities.count)
                for (j, i) in misses.enumerated() { slot[i] = j }
                return Self.renderJSON(view: name, entities: entities, single: single, now: now) { i in
                    if slot[i] < 0 { return read(i) }
                    let pair = again[slot[i]]
                    guard pair.isArray, pair.count == 2, let v = pair[0].integer else { return nil }
                    return (v, pair[1])
                }
            }
        }
    }

    /// The lookup JSON of `entities`; `stored(i)` is entity `i`'s version and hash, nil when it
    /// has none. With `single`, the one entity's object (nil when missing).
    private static func renderJSON(view: String, entities: [String], single: Bool, now: Int64,
                                   _ stored: (Int) -> (version: Int64, hash: RedisReplyView)?) -> [UInt8]? {
        var w = JSONWriter(capacity: 64 + entities.count * 192)
        w.beginObject()
        w.field("view", view)
        if single {
            guard let (version, hash) = stored(0),
                  StoredFeatureJSON.write(entity: entities[0], version: version, hash: hash, now: now, into: &w) else { return nil }
        } else {
            w.key("entities"); w.beginArray()
            for (i, entity) in entities.enumerated() {
                w.beginObject()
                let written = stored(i).map { StoredFeatureJSON.write(entity: entity, version: $0.version, hash: $0.hash, now: now, into: &w) }
                if written != true { w.field("entity", entity); w.field("found", false) }
                w.endObject()
            }
            w.endArray()
        }
        w.endObject()
        return w.bytes
    }

    private func onQueue<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                RequestPathScheduling.applyToCurrentThread()
                continuation.resume(with: Result { try self.lock.withLock { try body() } })
            }
        }
    }

    /// Runs under `lock` (on `queue`, or on the blocking caller's thread).
    private func read(_ view: FeatureView, typed: Bool, entities: [String], version: Int?) throws -> [FeatureVector?] {
        if connection == nil { connection = try RedisConnection(configuration) }
        let redis = connection!
        // One round trip: the script reads each entity's latest pointer (unless a version is
        // given) and the hash it names in one atomic step, so a vector is never assembled from a
        // pointer and a hash of different moments.
        var commands = RedisCommandBuffer(capacity: entities.count * 48 + 64 + view.features.count * 16)
        commands.arg("EVALSHA"); commands.arg(FeatureRead.script.sha1); commands.arg(entities.count)
        for e in entities { FeatureUpsert.appendKeyPrefix(view, e, to: &commands); commands.endArg() }
        if let version { commands.arg(version) } else { commands.arg("") }
        if typed {
            commands.arg(FeatureView.eventTimeField); commands.arg(FeatureView.updatedField)
            for f in view.features { commands.arg(f.name) }
        }
        commands.endCommand()
        var replies: [RedisReply] = []
        try redis.pipeline(commands, into: &replies, scripts: [FeatureRead.script])
        if case .error(let e) = replies[0] { throw StreamKitError(.connector, "reading \(entities.count) entities of \(view.name): \(e)") }
        let perEntity = replies[0].elements
        guard perEntity.count == entities.count else {
            throw StreamKitError(.connector, "reading \(view.name): \(perEntity.count) replies for \(entities.count) entities")
        }
        var versions = [Int?](repeating: nil, count: entities.count)
        var hashes: [RedisReply] = []
        hashes.reserveCapacity(entities.count)
        var asked: [Int] = []
        for (i, r) in perEntity.enumerated() {
            let pair = r.elements
            guard pair.count == 2, let v = pair[0].integer else { continue }
            versions[i] = Int(v)
            asked.append(i)
            hashes.append(pair[1])
        }
        replies = hashes
        let now = self.now()
        let ttl = view.ttl.milliseconds
        var out = [FeatureVector?](repeating: nil, count: entities.count)
        for (j, i) in asked.enumerated() {
            let r = replies[j]
            if case .error(let e) = r { throw StreamKitError(.connector, "reading \(view.versionKey(entity: entities[i], version: versions[i]!)): \(e)") }
            let items = r.elements
            var eventTime: Int64? = nil
            var updated: Int64 = 0
            var fields: [FeatureVector.Field] = []
            if typed {
                guard items.count == 2 + view.features.count else { continue }
                eventTime = items[0].integer
                updated = items[1].integer ?? 0
                for (k, f) in view.features.enumerated() {
                    guard let text = items[2 + k].string, let value = FeatureValue(text: text, as: f.type) else { continue }
                    fields.append(.init(name: f.name, value: value))
                }
            } else {
                var pairs: [(String, String)] = []
                var k = 0
                while k + 1 < items.count {
                    if let name = items[k].string, let text = items[k + 1].string { pairs.append((name, text)) }
                    k += 2
                }
                for (name, text) in pairs.sorted(by: { $0.0 < $1.0 }) {
                    switch name {
                    case FeatureView.eventTimeField: eventTime = Int64(text)
                    case FeatureView.updatedField: updated = Int64(text) ?? 0
                    default: fields.append(.init(name: name, value: FeatureValue(inferring: text)))
                    }
                }
            }
            // No event time: the hash expired (or was never written by the sink).
            guard let eventTime else { continue }
            let age = now - eventTime
            out[i] = FeatureVector(entity: entities[i], version: versions[i]!, eventTime: eventTime, updated: updated,
                                   ageMillis: age, isFresh: typed ? age <= ttl : nil, features: fields)
        }
        return out
    }
}
