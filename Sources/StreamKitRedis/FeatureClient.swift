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
/// Every read is one round trip and one atomic step on the server in the common case: a
/// transaction of the latest pointers and the hashes of the version they named last time; an
/// entity that points elsewhere is read again by a script that reads its pointer and hash together
/// (see `withStoredHashes`).
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
    private func render(viewNamed name: String, namespace: String, entities: [String], version: Int?, single: Bool) throws -> [UInt8]? {
        let view = FeatureView(name: name, entityKey: "", features: [], ttl: .zero, version: version ?? 0, namespace: namespace)
        let now = self.now()
        return try withStoredHashes(view, fields: nil, entities: entities, version: version) { stored in
            Self.renderJSON(view: name, entities: entities, single: single, now: now, stored)
        }
    }

    /// Runs under `lock`: reads each entity's version and stored hash — its `fields` (`HMGET`), or
    /// all of it (`HGETALL`) when nil — and hands `body` entity `i`'s version and hash (nil when it
    /// has no pointer), valid inside `body` only.
    ///
    /// One round trip and one atomic step on the server in the common case: a transaction reads
    /// every entity's latest pointer (`MGET`) and the hash of the version the view's entities
    /// pointed to last time (`…:v<guess>`). A transaction costs Redis a quarter of the read
    /// script's time (which converts every hash to Lua values and back), and the server time is
    /// what a read waits for behind the pipeline's own work. An entity whose pointer names another
    /// version (a view between versions) is read again by the read script, which reads its pointer
    /// and the hash it names atomically, so no vector is assembled from a pointer and a hash of
    /// different versions. With `version` given, that version's hashes are read directly.
    private func withStoredHashes<T>(_ view: FeatureView, fields: [String]?, entities: [String], version: Int?,
                                     _ body: ((Int) -> (version: Int64, hash: RedisReplyView)?) throws -> T) throws -> T {
        if connection == nil { connection = try RedisConnection(configuration) }
        let redis = connection!
        let name = view.name
        let guessKey = view.namespace + ":" + name
        let guess = Int64(version ?? versionGuesses[guessKey] ?? 1)
        let guessText = Array(String(guess).utf8)
        let fieldBytes = fields?.reduce(0) { $0 + $1.utf8.count + 16 } ?? 0
        var commands = RedisCommandBuffer(capacity: entities.count * (2 * (name.utf8.count + view.namespace.utf8.count + 32) + fieldBytes) + 64)
        if version == nil {
            commands.arg("MGET")
            for e in entities { FeatureUpsert.appendKeyPrefix(view, e, to: &commands); commands.part(":latest"); commands.endArg() }
            commands.endCommand()
        }
        for e in entities {
            commands.arg(fields == nil ? "HGETALL" : "HMGET")
            FeatureUpsert.appendKeyPrefix(view, e, to: &commands); commands.part(":v"); commands.part(guess); commands.endArg()
            for f in fields ?? [] { commands.arg(f) }
            commands.endCommand()
        }
        return try redis.withTransaction(commands) { reply -> T in
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
            if misses.isEmpty { return try body(read) }
            // The misses through the read script (pointer and hash together).
            var script = RedisCommandBuffer(capacity: misses.count * 64 + 64 + fieldBytes)
            script.arg("EVALSHA"); script.arg(FeatureRead.script.sha1); script.arg(misses.count)
            for i in misses { FeatureUpsert.appendKeyPrefix(view, entities[i], to: &script); script.endArg() }
            script.arg("")
            for f in fields ?? [] { script.arg(f) }
            script.endCommand()
            return try redis.withReply(script, scripts: [FeatureRead.script]) { again -> T in
                if again.isError { throw StreamKitError(.connector, "reading \(misses.count) entities of \(name): \(again.copied)") }
                guard again.count == misses.count else {
                    throw StreamKitError(.connector, "reading \(name): \(again.count) replies for \(misses.count) entities")
                }
                var slot = [Int](repeating: -1, count: entities.count)
                for (j, i) in misses.enumerated() { slot[i] = j }
                return try body { i in
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

    /// Runs under `lock` (on `queue`, or on the blocking caller's thread): the vectors of
    /// `entities`, read as ``withStoredHashes(_:fields:entities:version:_:)`` reads them — typed:
    /// the sink's fields and the view's features; else the whole hash, each value's type inferred.
    private func read(_ view: FeatureView, typed: Bool, entities: [String], version: Int?) throws -> [FeatureVector?] {
        let fields = typed ? [FeatureView.eventTimeField, FeatureView.updatedField] + view.features.map(\.name) : nil
        return try withStoredHashes(view, fields: fields, entities: entities, version: version) { stored in
            let now = self.now()
            let ttl = view.ttl.milliseconds
            var out = [FeatureVector?](repeating: nil, count: entities.count)
            for i in entities.indices {
                guard let (version, items) = stored(i) else { continue }
                if items.isError {
                    throw StreamKitError(.connector, "reading \(view.versionKey(entity: entities[i], version: Int(version))): \(items.copied)")
                }
                var eventTime: Int64? = nil
                var updated: Int64 = 0
                var features: [FeatureVector.Field] = []
                if typed {
                    guard items.count == 2 + view.features.count else { continue }
                    eventTime = Self.text(items[0]).flatMap { Int64($0) }
                    updated = Self.text(items[1]).flatMap { Int64($0) } ?? 0
                    for (k, f) in view.features.enumerated() {
                        guard let text = Self.text(items[2 + k]), let value = FeatureValue(text: text, as: f.type) else { continue }
                        features.append(.init(name: f.name, value: value))
                    }
                } else {
                    var pairs: [(String, String)] = []
                    var k = 0
                    while k + 1 < items.count {
                        if let name = Self.text(items[k]), let text = Self.text(items[k + 1]) { pairs.append((name, text)) }
                        k += 2
                    }
                    for (name, text) in pairs.sorted(by: { $0.0 < $1.0 }) {
                        switch name {
                        case FeatureView.eventTimeField: eventTime = Int64(text)
                        case FeatureView.updatedField: updated = Int64(text) ?? 0
                        default: features.append(.init(name: name, value: FeatureValue(inferring: text)))
                        }
                    }
                }
                // No event time: the hash expired (or was never written by the sink).
                guard let eventTime else { continue }
                let age = now - eventTime
                out[i] = FeatureVector(entity: entities[i], version: Int(version), eventTime: eventTime, updated: updated,
                                       ageMillis: age, isFresh: typed ? age <= ttl : nil, features: features)
            }
            return out
        }
    }

    /// The text of a string reply (nil for a missing field).
    private static func text(_ reply: RedisReplyView) -> String? {
        reply.isString ? String(decoding: reply.bytes, as: UTF8.self) : nil
    }
}
