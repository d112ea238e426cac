import Foundation
import StreamKit
import Testing
import StreamKitRedis
@testable import cdc_features

/// Against the real Redis of `scripts/services up` (REDIS_URL). Every test uses its own key
/// prefix (a unique view name) and deletes its keys.
@Suite("Redis feature store")
struct RedisFeatureStoreTests {
    static func config() throws -> RedisConfiguration { try RedisConfiguration(url: Services.redisURL) }
    static func unique(_ name: String) -> String { "t_\(name)_\(UInt32.random(in: 0...UInt32.max))" }

    /// A view with a unique name, and a cleanup of its keys.
    static func view(_ name: String, ttl: Duration = .seconds(600), version: Int = 1) -> FeatureView {
        FeatureView(name: unique(name), entityKey: "user_id",
                    features: [.int("clicks"), .double("amount"), .string("page")], ttl: ttl, version: version,
                    namespace: "feature")
    }
    static func cleanUp(_ view: FeatureView) throws {
        try RedisConnection(try config()).deleteKeys(matching: "\(view.namespace):\(view.name):*")
    }

    struct Event: Sendable {
        var user: String; var ts: Int64; var clicks: Int64; var amount: Double; var page: String
    }
    static func update(_ e: Event) -> FeatureUpdate? {
        FeatureUpdate(entity: e.user, eventTime: e.ts, features: ["clicks": .int(e.clicks), "amount": .double(e.amount), "page": .string(e.page)])
    }
    static func runSink(_ view: FeatureView, _ events: [Event], metrics: RedisFeatureSinkMetrics = RedisFeatureSinkMetrics()) async throws -> RedisFeatureSinkMetrics {
        let config = RedisFeatureSinkConfiguration(redis: try config())
        let job = Job("redis-sink-test") { env in
            env.fromCollection(events).sink("features") {
                RedisFeatureSink(view: view, configuration: config, metrics: metrics, update: RedisFeatureStoreTests.update)
            }
        }
        try await job.run()
        return metrics
    }
    static func hash(_ redis: RedisConnection, _ key: String) throws -> [String: String] {
        let items = try redis.command(["HGETALL", key]).elements
        var out: [String: String] = [:]
        var i = 0
        while i + 1 < items.count { out[items[i].string!] = items[i + 1].string!; i += 2 }
        return out
    }

    @Test func urlParsingAndRedaction() throws {
        let c = try RedisConfiguration(url: "redis://user:s%40cret@example.com:6380/3")
        #expect(c.host == "example.com" && c.port == 6380 && c.database == 3)
        #expect(c.username == "user" && c.password == "s@cret")
        #expect(!c.description.contains("cret"))
        let d = try RedisConfiguration(url: "redis://127.0.0.1")
        #expect(d.port == 6379 && d.database == 0 && d.password == nil)
        #expect(throws: StreamKitError.self) { try RedisConfiguration(url: "http://x") }
        #expect(throws: StreamKitError.self) { try RedisConfiguration(url: "redis://h:99999") }
    }

    @Test func connectionAndPipelining() throws {
        let redis = try RedisConnection(try Self.config())
        let prefix = Self.unique("pipe")
        defer { _ = try? redis.deleteKeys(matching: "\(prefix):*") }
        #expect(try redis.command(["PING"]) == .status("PONG"))
        var commands = RedisCommandBuffer()
        for i in 0..<1000 {
            commands.arg("SET"); commands.part(prefix); commands.part(":"); commands.part(Int64(i)); commands.endArg()
            commands.arg(Double(i) * 0.5); commands.arg("EX"); commands.arg(60 as Int64); commands.endCommand()
        }
        var replies: [RedisReply] = []
        try redis.pipeline(commands, into: &replies)
        #expect(replies.count == 1000 && replies.allSatisfy { $0 == .status("OK") })
        commands.removeAll()
        for i in [0, 3, 999] { commands.arg("GET"); commands.arg("\(prefix):\(i)"); commands.endCommand() }
        commands.arg("GET"); commands.arg("\(prefix):missing"); commands.endCommand()
        commands.arg("TTL"); commands.arg("\(prefix):7"); commands.endCommand()
        commands.arg("HGET"); commands.arg("\(prefix):7"); commands.arg("x"); commands.endCommand()   // WRONGTYPE
        try redis.pipeline(commands, into: &replies)
        #expect(replies[0].string == "0.0" && replies[1].string == "1.5" && replies[2].string == "499.5")
        #expect(replies[3] == .null)
        #expect((55...60).contains(replies[4].integer ?? -1))
        #expect(replies[5].isError)
        #expect(try redis.command(["MGET", "\(prefix):1", "\(prefix):nope"]) == .array([.bulk(Array("0.5".utf8)), .null]))
    }

    /// Commands go out in Redis's protocol written by the connection: arguments holding CR LF,
    /// NUL, protocol markers, nothing at all, or non-ASCII text come back byte for byte.
    @Test func protocolArgumentsRoundTripEveryByte() throws {
        let redis = try RedisConnection(try Self.config())
        let prefix = Self.unique("resp")
        defer { _ = try? redis.deleteKeys(matching: "\(prefix):*") }
        let values: [[UInt8]] = [
            Array("a\r\nb".utf8), [0, 13, 10, 0], Array("$5\r\n*1\r\n".utf8), [], Array("zürich · 東京".utf8),
            (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) },
        ]
        var commands = RedisCommandBuffer()
        for (i, v) in values.enumerated() {
            commands.arg("SET"); commands.arg("\(prefix):\(i)")
            v.withUnsafeBytes { commands.part(bytes: $0) }; commands.endArg()
            commands.endCommand()
        }
        commands.arg("MGET")
        for i in values.indices { commands.arg("\(prefix):\(i)") }
        commands.endCommand()
        var replies: [RedisReply] = []
        try redis.pipeline(commands, into: &replies)
        #expect(replies.prefix(values.count).allSatisfy { $0 == .status("OK") })
        #expect(replies.last == .array(values.map { .bulk($0) }))
        // The server counts each argument as sent (STRLEN of the 70,000-byte value).
        #expect(try redis.command(["STRLEN", "\(prefix):5"]) == .integer(70_000))
    }

    /// Replies are built in the connection's arena: a read nested inside another read's use of
    /// its replies (the feature client's misses) leaves the outer replies intact; once the arena
    /// has grown to a read's size, the same read keeps its capacity (no allocation); a reply
    /// larger than the retain limit is read whole and its memory given back afterwards (also the
    /// command buffer of a round trip that large).
    @Test func repliesInTheArenaNestAndKeepTheirCapacity() throws {
        let redis = try RedisConnection(try Self.config())
        let prefix = Self.unique("arena")
        defer { _ = try? redis.deleteKeys(matching: "\(prefix):*") }
        var fill = RedisCommandBuffer()
        fill.arg("HSET"); fill.arg("\(prefix):wide")
        for f in 0..<5_000 { fill.arg("field-\(f)"); fill.arg("value-\(f * 7)") }
        fill.endCommand()
        fill.arg("HSET"); fill.arg("\(prefix):other")
        for f in 0..<5_000 { fill.arg("o\(f)"); fill.arg("\(f)") }
        fill.endCommand()
        fill.command(["SET", "\(prefix):inner", "inner-value"])
        var replies: [RedisReply] = []
        try redis.pipeline(fill, into: &replies)
        #expect(replies.first == .integer(5_000))

        var read = RedisCommandBuffer()
        read.command(["HGETALL", "\(prefix):wide"]); read.command(["GET", "\(prefix):inner"])
        var inner = RedisCommandBuffer()
        inner.command(["HGETALL", "\(prefix):other"])
        func readBoth() throws -> (fields: Int, checked: Int, inner: Int) {
            try redis.withTransaction(read) { reply in
                let wide = reply[0]
                // A nested read of another 5,000 fields, then the outer replies (still intact).
                let innerCount = try redis.withReply(inner) { $0.count }
                var checked = 0
                for p in 0..<(wide.count / 2) {
                    let name = String(decoding: wide[2 * p].bytes, as: UTF8.self)
                    let value = String(decoding: wide[2 * p + 1].bytes, as: UTF8.self)
                    if let f = Int(name.dropFirst("field-".count)), value == "value-\(f * 7)" { checked += 1 }
                }
                #expect(String(decoding: reply[1].bytes, as: UTF8.self) == "inner-value")
                return (wide.count, checked, innerCount)
            }
        }
        let first = try readBoth()
        #expect(first.fields == 10_000 && first.checked == 5_000 && first.inner == 10_000)
        let grown = redis.replyArenaCapacity
        #expect(grown > 64 << 10)   // two 5,000-field replies at once do not fit the first chunk
        for _ in 0..<3 {
            let again = try readBoth()
            #expect(again.checked == 5_000)
            #expect(redis.replyArenaCapacity == grown)
        }
        // 6 MiB in one reply: read whole, then the arena shrinks back within its 4 MiB limit.
        let big = [UInt8](repeating: 0x61, count: 6 << 20)
        var set = RedisCommandBuffer()
        set.arg("SET"); set.arg("\(prefix):big"); big.withUnsafeBytes { set.part(bytes: $0) }; set.endArg(); set.endCommand()
        try redis.pipeline(set, into: &replies)
        var get = RedisCommandBuffer()
        get.command(["GET", "\(prefix):big"])
        #expect(try redis.withReply(get) { $0.bytes.count == big.count && $0.bytes.allSatisfy { $0 == 0x61 } })
        #expect(redis.replyArenaCapacity <= 4 << 20)
        // The 6 MiB SET's command buffer is not kept either.
        #expect(redis.commandBufferCapacity <= 4 << 20)
    }

    @Test func scriptsLoadOnNoScript() throws {
        let redis = try RedisConnection(try Self.config())
        // A script the server has never seen: EVALSHA answers NOSCRIPT, the connection loads it and retries.
        let script = RedisScript("-- \(Self.unique("script"))\nreturn tonumber(ARGV[1]) + 1")
        #expect(try redis.evaluate(script, keys: [], arguments: ["41"]) == .integer(42))
        // The locally computed SHA-1 is the server's.
        #expect(try redis.command(["SCRIPT", "LOAD", script.source]).string == script.sha1)
        #expect(try redis.command(["SCRIPT", "EXISTS", script.sha1]) == .array([.integer(1)]))
    }

    @Test func reconnectsAfterClientKill() throws {
        let redis = try RedisConnection(try Self.config())
        let killer = try RedisConnection(try Self.config())
        let id = try redis.clientID()
        #expect(try killer.command(["CLIENT", "KILL", "ID", String(id)]) == .integer(1))
        // The next command hits a closed socket (I/O error), reconnects with backoff and succeeds.
        #expect(try redis.command(["PING"]) == .status("PONG"))
        #expect(redis.reconnects == 1)
        #expect(try redis.clientID() != id)
        // A pipeline after a kill is re-sent whole.
        try killer.command(["CLIENT", "KILL", "ID", String(try redis.clientID())])
        var commands = RedisCommandBuffer()
        for _ in 0..<100 { commands.arg("PING"); commands.endCommand() }
        var replies: [RedisReply] = []
        try redis.pipeline(commands, into: &replies)
        #expect(replies.count == 100 && replies.allSatisfy { $0 == .status("PONG") })
        #expect(redis.reconnects == 2)
    }

    @Test func unreachableServerIsRetriable() throws {
        var c = RedisConfiguration()
        c.port = 1; c.maxReconnectAttempts = 2; c.reconnectBackoff = .milliseconds(5)
        do { _ = try RedisConnection(c); Issue.record("connected to port 1?") } catch let e as StreamKitError {
            #expect(e.code == .connector && e.isRetriable)
        }
    }

    @Test func sinkWritesHashTTLAndLatestPointer() async throws {
        let view = Self.view("sink", ttl: .seconds(600), version: 3)
        defer { try? Self.cleanUp(view) }
        let events = (0..<50).map { i in Event(user: "u\(i)", ts: 1_700_000_000_000 + Int64(i), clicks: Int64(i), amount: Double(i) + 0.25, page: "p\(i)") }
        let before = WallClock.millis()
        let m = try await Self.runSink(view, events)
        #expect(m.written.current == 50 && m.skippedStale.current == 0 && m.errors.current == 0)
        let redis = try RedisConnection(try Self.config())
        let h = try Self.hash(redis, view.versionKey(entity: "u7"))
        #expect(view.versionKey(entity: "u7") == "feature:\(view.name):u7:v3")
        #expect(h["clicks"] == "7" && h["amount"] == "7.25" && h["page"] == "p7")
        #expect(h["__event_time"] == "1700000000007")
        #expect(Int64(h["__updated"]!)! >= before)
        // The TTL was set during the run: it has run down by at most the time since `before`.
        let elapsed = (WallClock.millis() - before) / 1000 + 1
        let ttl = try redis.command(["TTL", view.versionKey(entity: "u7")]).integer!
        #expect(((600 - elapsed)...600).contains(ttl))
        #expect(try redis.command(["GET", view.latestKey(entity: "u7")]).string == "3")
        let pttl = try redis.command(["PTTL", view.latestKey(entity: "u7")]).integer!
        #expect(((600 - elapsed) * 1000...600_000).contains(pttl))
        #expect(try redis.command(["EXISTS", view.versionKey(entity: "u49")]) == .integer(1))
    }

    /// `eventToWrite` holds `__updated − __event_time` of every applied update, and nothing for a
    /// skipped one.
    @Test func eventToWriteRecordsEveryAppliedUpdate() async throws {
        let view = Self.view("age")
        defer { try? Self.cleanUp(view) }
        let now = WallClock.millis()
        let events = (0..<50).map { i in Event(user: "u\(i)", ts: now - 20_000 + Int64(i) * 300, clicks: 1, amount: 1, page: "p") }
        let m = try await Self.runSink(view, events)
        #expect(m.written.current == 50 && m.eventToWrite.count == 50)
        let redis = try RedisConnection(try Self.config())
        var ages: [Double] = []
        for e in events {
            let h = try Self.hash(redis, view.versionKey(entity: e.user))
            ages.append(Double(Int64(h["__updated"]!)! - Int64(h["__event_time"]!)!))
        }
        ages.sort()
        // HdrHistogram with three significant digits: within 0.1 % (plus the ms → µs rounding).
        func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= b * 0.001 + 1 }
        #expect(close(m.eventToWrite.percentileMillis(100), ages[49]))
        #expect(close(m.eventToWrite.percentileMillis(50), ages[24]))
        #expect(ages[0] >= 5_300 && ages[49] >= 20_000)
        // An update older than the stored one is skipped by the script and not recorded.
        let stale = try await Self.runSink(view, [Event(user: "u0", ts: now - 60_000, clicks: 0, amount: 0, page: "old")])
        #expect(stale.written.current == 0 && stale.skippedStale.current == 1 && stale.eventToWrite.count == 0)
    }

    @Test func staleUpdatesAreSkippedAndReplaysAreIdempotent() async throws {
        let view = Self.view("stale")
        defer { try? Self.cleanUp(view) }
        _ = try await Self.runSink(view, [Event(user: "a", ts: 2000, clicks: 5, amount: 5.5, page: "new")])
        // An older update (in another job: not coalesced away) is skipped by the script.
        let m = try await Self.runSink(view, [Event(user: "a", ts: 1000, clicks: 1, amount: 1.0, page: "old")])
        #expect(m.written.current == 0 && m.skippedStale.current == 1)
        let redis = try RedisConnection(try Self.config())
        var h = try Self.hash(redis, view.versionKey(entity: "a"))
        #expect(h["clicks"] == "5" && h["page"] == "new" && h["__event_time"] == "2000")
        // Replaying the same update (as after a restore) writes the same values.
        let r = try await Self.runSink(view, [Event(user: "a", ts: 2000, clicks: 5, amount: 5.5, page: "new")])
        #expect(r.written.current == 1 && r.skippedStale.current == 0)
        h = try Self.hash(redis, view.versionKey(entity: "a"))
        #expect(h["clicks"] == "5" && h["amount"] == "5.5" && h["page"] == "new" && h["__event_time"] == "2000")
        #expect(h.count == 5)
    }

    @Test func updatesOfOneEntityInAFlushAreCoalesced() async throws {
        let view = Self.view("coalesce")
        defer { try? Self.cleanUp(view) }
        let events = [
            Event(user: "x", ts: 1000, clicks: 1, amount: 1, page: "1"),
            Event(user: "x", ts: 3000, clicks: 3, amount: 3, page: "3"),
            Event(user: "y", ts: 500, clicks: 9, amount: 9, page: "9"),
            Event(user: "x", ts: 2000, clicks: 2, amount: 2, page: "2"),   // older than 3000: loses
        ]
        let m = try await Self.runSink(view, events)
        #expect(m.written.current == 2 && m.coalesced.current == 2 && m.roundTrips.current == 1)
        let h = try Self.hash(try RedisConnection(try Self.config()), view.versionKey(entity: "x"))
        #expect(h["clicks"] == "3" && h["page"] == "3" && h["__event_time"] == "3000")
    }

    @Test func featureClientGetAndGetMany() async throws {
        let view = Self.view("client", ttl: .seconds(600), version: 2)
        defer { try? Self.cleanUp(view) }
        let base: Int64 = 1_800_000_000_000
        _ = try await Self.runSink(view, [
            Event(user: "fresh", ts: base - 1000, clicks: 4, amount: 2.5, page: "home"),
            Event(user: "old", ts: base - 700_000, clicks: 1, amount: 0.1, page: "cart"),
        ])
        let client = FeatureClient(configuration: try Self.config(), now: { base })
        let v = try #require(try await client.get(view: view, entity: "fresh"))
        #expect(v.version == 2 && v.eventTime == base - 1000 && v.ageMillis == 1000 && v.isFresh == true)
        #expect(v["clicks"] == .int(4) && v["amount"] == .double(2.5) && v["page"] == .string("home"))
        #expect(v.features.map(\.name) == ["clicks", "amount", "page"])
        let many = try await client.getMany(view: view, entities: ["old", "missing", "fresh"])
        #expect(many.count == 3 && many[1] == nil)
        #expect(many[0]?.ageMillis == 700_000 && many[0]?.isFresh == false)
        #expect(many[2] == v)
        // An explicit version: v2 exists, v1 does not.
        #expect(try await client.get(view: view, entity: "fresh", version: 2) != nil)
        #expect(try await client.get(view: view, entity: "fresh", version: 1) == nil)
        // Blocking variant (dedicated threads).
        #expect(try client.getManyBlocking(view: view, entities: ["fresh"])[0] == v)
        // The read script survives a server that lost its script cache (NOSCRIPT → SCRIPT LOAD).
        let redis = try RedisConnection(try Self.config())
        #expect(try redis.command(["SCRIPT", "FLUSH"]) == .status("OK"))
        #expect(try await client.getMany(view: view, entities: ["old", "missing", "fresh"]) == many)
        // A pointer whose hash expired reads as missing, not as an empty vector.
        _ = try redis.command(["DEL", view.versionKey(entity: "old")])
        #expect(try await client.getMany(view: view, entities: ["old", "fresh"]) == [nil, v])
    }

    @Test func featuresGetJSON() async throws {
        let view = Self.view("cli", version: 4)
        defer { try? Self.cleanUp(view) }
        _ = try await Self.runSink(view, [Event(user: "u1", ts: 1_000, clicks: 12, amount: 3.0, page: "a \"q\"")])
        let client = FeatureClient(configuration: try Self.config(), now: { 6_000 })
        let json = try await client.lookupJSON(viewNamed: view.name, entities: ["u1", "nobody"])
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(obj["view"] as? String == view.name)
        let ents = try #require(obj["entities"] as? [[String: Any]])
        #expect(ents.count == 2)
        #expect(ents[0]["entity"] as? String == "u1" && ents[0]["found"] as? Bool == true)
        #expect(ents[0]["version"] as? Int == 4 && ents[0]["event_time"] as? Int == 1000 && ents[0]["age_ms"] as? Int == 5000)
        let f = try #require(ents[0]["features"] as? [String: Any])
        #expect(f["clicks"] as? Int == 12 && f["amount"] as? Double == 3.0 && f["page"] as? String == "a \"q\"")
        #expect(ents[1]["entity"] as? String == "nobody" && ents[1]["found"] as? Bool == false)
        // --version N reads that version directly.
        let v1 = try await client.lookupJSON(viewNamed: view.name, entities: ["u1"], version: 1)
        #expect(v1.contains("\"found\":false"))
    }

    /// The lookup JSON rendered from the reply's bytes equals the one built from `FeatureVector`s,
    /// for every kind of stored text (integers with signs, doubles, nan/inf, strings, non-ASCII,
    /// quotes), a missing entity, an expired hash and a name order that is not the stored one.
    @Test func lookupJSONFromTheReplyEqualsTheVectorRendering() async throws {
        let view = Self.view("render")
        defer { try? Self.cleanUp(view) }
        let redis = try RedisConnection(try Self.config())
        let values = ["12", "+5", "-0", "-17", "3.0", "1e3", "2.5E-3", "nan", "inf", "-inf", "abc", "ünï", "a \"q\" \\ b",
                      "", "9223372036854775808", "0x1p3", "1.2.3", " 4", "12abc"]
        var args = ["HSET", view.versionKey(entity: "e1"), "__event_time", "1000", "__updated", "2000"]
        for (i, v) in values.enumerated() { args += ["f\(String(format: "%02d", values.count - i))", v] }
        _ = try redis.command(args)
        _ = try redis.command(["SET", view.latestKey(entity: "e1"), String(view.version)])
        _ = try redis.command(["SET", view.latestKey(entity: "gone"), String(view.version)])   // pointer without a hash
        let client = FeatureClient(configuration: try Self.config(), now: { 5_000 })
        let entities = ["e1", "missing", "gone"]
        let fast = try await client.lookupJSON(viewNamed: view.name, namespace: view.namespace, entities: entities)
        let vectors = try await client.getMany(viewNamed: view.name, namespace: view.namespace, entities: entities)
        #expect(fast == FeatureClient.json(view: view.name, entities: entities, vectors: vectors))
        #expect(try JSONSerialization.jsonObject(with: Data(fast.utf8)) is [String: Any], "valid JSON: \(fast)")
        #expect(vectors[0]?.features.count == values.count && vectors[1] == nil && vectors[2] == nil)
    }

    /// The lookup reads the pointers and the hashes of the version most entities had last time in
    /// one transaction, and the entities at another version through the read script: entities at
    /// several versions (and a pointer spelled "02") render as the script alone renders them,
    /// before and after the guessed version follows the majority, and with an explicit version.
    @Test func readsOfEntitiesAtDifferentVersions() async throws {
        let view = Self.view("versions")
        defer { try? Self.cleanUp(view) }
        let redis = try RedisConnection(try Self.config())
        func store(_ entity: String, pointer: String, versions: [Int]) throws {
            for v in versions {
                _ = try redis.command(["HSET", "\(view.namespace):\(view.name):\(entity):v\(v)", "__event_time", "\(1000 + v)",
                                       "__updated", "2000", "clicks", "\(10 * v)", "page", "p\(v)"])
            }
            _ = try redis.command(["SET", view.latestKey(entity: entity), pointer])
        }
        try store("a", pointer: "1", versions: [1, 2])
        try store("b", pointer: "2", versions: [1, 2])
        try store("c", pointer: "3", versions: [3])
        try store("d", pointer: "02", versions: [2])
        _ = try redis.command(["HSET", "\(view.namespace):\(view.name):d:v02", "__event_time", "1099", "clicks", "99"])
        let client = FeatureClient(configuration: try Self.config(), now: { 5_000 })
        let entities = ["a", "b", "c", "d", "none"]
        let expected: [[Int?]] = [[1, 2, 3, 2, nil], [2, 2, 2, 2, nil], [1, 2, 2, 2, nil]]
        for round in 0..<3 {
            let fast = try await client.lookupJSON(viewNamed: view.name, namespace: view.namespace, entities: entities)
            let vectors = try await client.getMany(viewNamed: view.name, namespace: view.namespace, entities: entities)
            #expect(fast == FeatureClient.json(view: view.name, entities: entities, vectors: vectors), "round \(round): \(fast)")
            #expect(vectors.map { $0?.version } == expected[round])
            #expect(vectors[3]?.eventTime == 1099, "the pointer's own spelling names the hash")
            // Typed reads (HMGET of the view's features) take the same path: each entity's own
            // version and that version's values, whatever the guess.
            let typed = try await client.getMany(view: view, entities: entities)
            #expect(typed.map { $0?.version } == expected[round], "round \(round): typed")
            for i in 0..<3 {
                let v = expected[round][i]!
                #expect(typed[i]?.eventTime == Int64(1000 + v) && typed[i]?["clicks"] == .int(Int64(10 * v))
                        && typed[i]?["page"] == .string("p\(v)") && typed[i]?["amount"] == nil, "round \(round): \(entities[i])")
            }
            #expect(typed[3]?.eventTime == 1099 && typed[3]?["clicks"] == .int(99) && typed[3]?["page"] == nil)
            #expect(typed[0]?.isFresh == true && typed[4] == nil)
            // Most entities at version 2 from now on: the guess follows them.
            try store("c", pointer: "2", versions: [2])
            try store("a", pointer: round == 0 ? "2" : "1", versions: [])
        }
        let pinned = try await client.lookupJSON(viewNamed: view.name, namespace: view.namespace, entities: entities, version: 1)
        let pinnedVectors = try await client.getMany(viewNamed: view.name, namespace: view.namespace, entities: entities, version: 1)
        #expect(pinned == FeatureClient.json(view: view.name, entities: entities, vectors: pinnedVectors))
        #expect(pinnedVectors.map { $0?.version } == [1, 1, nil, nil, nil])
        let pinnedTyped = try await client.getMany(view: view, entities: entities, version: 1)
        #expect(pinnedTyped.map { $0?.version } == [1, 1, nil, nil, nil])
        #expect(pinnedTyped[1]?["clicks"] == .int(10) && pinnedTyped[1]?["page"] == .string("p1"))
    }

    @Test func rawRateHelperWritesAndCleansUp() throws {
        let c = try Self.config()
        let ns = Self.unique("bench")
        for shape in [RedisBench.CommandShape.upsertScript, .hsetExpire] {
            let r = try RedisBench.pipelinedRate(configuration: c, shape: shape, entities: 2000, pipelineDepth: 500, namespace: ns)
            #expect(r.entities == 2000 && r.entitiesPerSecond > 0)
            #expect(r.commands == (shape == .upsertScript ? 2000 : 4000))
        }
        #expect(try RedisConnection(c).deleteKeys(matching: "\(ns):*") == 0)
    }
}
