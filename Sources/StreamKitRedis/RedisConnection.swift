import CHiredis
import CRedisReplyArena
import StreamKit
import StreamKitJSON
import Glibc
import Logging

/// One blocking connection to Redis (hiredis `redisContext`), for one thread at a time.
///
/// Nothing is allocated per command or reply once the buffers have grown: commands are written
/// in Redis's protocol into one reused buffer and handed to hiredis at once, and hiredis builds
/// its replies in the connection's arena (`CRedisReplyArena`), released when the read is done,
/// instead of one `malloc` per reply object and string.
///
/// The connection owns its C context and frees it in `deinit`. Every call blocks the calling
/// thread: use it from a dedicated thread (a sink's subtask thread) or a `DispatchQueue`
/// (``FeatureClient`` does this), never from the Swift concurrency pool.
///
/// I/O errors (connection reset, timeout, server restart) drop the context; the next attempt
/// reconnects with exponential backoff (``RedisConfiguration/reconnectBackoff``) and re-sends the
/// whole command or pipeline — so commands sent with `retry: true` must be idempotent. After
/// ``RedisConfiguration/maxReconnectAttempts`` the call throws a retriable `.connector` error.
///
/// ```swift
/// let redis = try RedisConnection(try RedisConfiguration(url: "redis://127.0.0.1:6379"))
/// _ = try redis.command(["SET", "greeting", "hello", "EX", "60"])
/// let reply = try redis.command(["GET", "greeting"])   // .bulk(Array("hello".utf8))
/// ```
public final class RedisConnection {
    /// Where and how this connection connects.
    public let configuration: RedisConfiguration
    /// The live hiredis context, nil after an I/O error until the next reconnect.
    private var context: UnsafeMutablePointer<redisContext>?
    /// Where hiredis builds this connection's replies: reads nest (a read inside another's use
    /// of its replies), each releasing back to where it started.
    private let arena: OpaquePointer
    /// The commands of one round trip in Redis's protocol, reused.
    private var protocolBytes: [UInt8] = []
    /// The reply arena's and the command buffer's size to start with (a 100-entity read needs
    /// about 40 KiB) and the most each keeps between round trips.
    private static let initialBufferBytes = 64 << 10
    private static let keptBufferBytes = 4 << 20
    /// Times the connection was re-established after an I/O error.
    public private(set) var reconnects: Int = 0

    /// Connects (with retries and backoff on connection errors).
    ///
    /// - Throws: a retriable `.connector` error when the server cannot be reached after
    ///   ``RedisConfiguration/maxReconnectAttempts`` attempts; a non-retriable one when `AUTH` or
    ///   `SELECT` is refused.
    public init(_ configuration: RedisConfiguration) throws {
        self.configuration = configuration
        guard let arena = streamkit_reply_arena_create(Self.initialBufferBytes, Self.keptBufferBytes) else {
            throw StreamKitError(.connector, "cannot allocate the Redis reply arena")
        }
        self.arena = arena
        protocolBytes.reserveCapacity(Self.initialBufferBytes)
        try withReconnects { }
    }

    /// Connects to `url` (`redis://[[user]:password@]host[:port][/db]`).
    public convenience init(url: String) throws {
        try self.init(try RedisConfiguration(url: url))
    }

    deinit {
        if let context { redisFree(context) }
        streamkit_reply_arena_destroy(arena)
    }

    /// True while a context is established (it is dropped after an I/O error).
    public var isConnected: Bool { context != nil }

    /// Closes the connection; the next call reconnects.
    public func close() {
        if let context { redisFree(context) }
        context = nil
    }

    // MARK: Commands

    /// Sends one command and waits for its reply. An error reply is returned, not thrown.
    /// With `retry` (the default) an I/O error reconnects and re-sends: the command must be idempotent.
    @discardableResult
    public func command(_ args: [String], retry: Bool = true) throws -> RedisReply {
        var commands = RedisCommandBuffer(capacity: 256)
        commands.command(args)
        var replies: [RedisReply] = []
        try pipeline(commands, into: &replies, retry: retry)
        return replies[0]
    }

    /// Sends every command of `commands` in one round trip (pipelined) and stores their replies,
    /// in order, in `replies` (replacing its contents). Error replies are returned, not thrown.
    ///
    /// - Parameters:
    ///   - scripts: scripts the commands call by `EVALSHA`: a `NOSCRIPT` reply (the server lost its
    ///     script cache, e.g. after a restart) loads them with `SCRIPT LOAD` and re-sends just the
    ///     commands that failed.
    ///   - retry: on an I/O error, reconnect with backoff and re-send the whole pipeline. Only for
    ///     idempotent commands (some of them may have been executed before the error).
    public func pipeline(_ commands: RedisCommandBuffer, into replies: inout [RedisReply],
                         scripts: [RedisScript] = [], retry: Bool = true) throws {
        replies.removeAll(keepingCapacity: true)
        guard !commands.isEmpty else { return }
        if retry {
            try withReconnects { try roundTrip(commands, into: &replies) }
        } else {
            if context == nil { try connect() }
            try roundTrip(commands, into: &replies)
        }
        guard !scripts.isEmpty else { return }
        var missing: [Int] = []
        for (i, r) in replies.enumerated() {
            if case .error(let message) = r, message.hasPrefix("NOSCRIPT") { missing.append(i) }
        }
        guard !missing.isEmpty else { return }
        for s in scripts { try load(s) }
        var again = RedisCommandBuffer(capacity: 4096)
        for i in missing { again.appendCommand(i, of: commands) }
        var second: [RedisReply] = []
        try withReconnects { try roundTrip(again, into: &second) }
        for (j, i) in missing.enumerated() { replies[i] = second[j] }
    }

    /// `EVALSHA` of `script`, loading it (`SCRIPT LOAD`) when the server does not know it.
    @discardableResult
    public func evaluate(_ script: RedisScript, keys: [String], arguments: [String], retry: Bool = true) throws -> RedisReply {
        var commands = RedisCommandBuffer(capacity: 256)
        commands.arg("EVALSHA"); commands.arg(script.sha1); commands.arg(keys.count)
        for k in keys { commands.arg(k) }
        for a in arguments { commands.arg(a) }
        commands.endCommand()
        var replies: [RedisReply] = []
        try pipeline(commands, into: &replies, scripts: [script], retry: retry)
        return replies[0]
    }

    /// Loads `script` into the server's script cache (`SCRIPT LOAD`) and checks its SHA-1.
    public func load(_ script: RedisScript) throws {
        let reply = try command(["SCRIPT", "LOAD", script.source])
        guard case .bulk(let sha) = reply else {
            throw StreamKitError(.connector, "SCRIPT LOAD failed: \(reply)")
        }
        let got = String(decoding: sha, as: UTF8.self)
        configuration.logger.debug("Redis script loaded", metadata: [LogMetadataKey.redisServer: "\(server)", "sha1": "\(got)"])
        guard got == script.sha1 else {
            throw StreamKitError(.connector, "SCRIPT LOAD returned SHA-1 \(got), expected \(script.sha1)")
        }
    }

    /// The server's id of this connection (`CLIENT ID`), e.g. for `CLIENT KILL ID`.
    public func clientID() throws -> Int64 {
        let r = try command(["CLIENT", "ID"])
        guard let id = r.integer else { throw StreamKitError(.connector, "CLIENT ID failed: \(r)") }
        return id
    }

    /// Deletes every key matching `pattern` (`SCAN` + `UNLINK`); returns how many were deleted.
    /// For tests and benchmarks — it walks the whole keyspace.
    @discardableResult
    public func deleteKeys(matching pattern: String) throws -> Int {
        var cursor = "0"
        var deleted = 0
        repeat {
            let r = try command(["SCAN", cursor, "MATCH", pattern, "COUNT", "1000"])
            let parts = r.elements
            guard parts.count == 2, let next = parts[0].string else { throw StreamKitError(.connector, "SCAN failed: \(r)") }
            cursor = next
            let keys = parts[1].elements.compactMap(\.string)
            if !keys.isEmpty { deleted += Int(try command(["UNLINK"] + keys).integer ?? 0) }
        } while cursor != "0"
        return deleted
    }

    // MARK: Internals

    /// Runs `body` once connected; on a retriable (I/O or connect) error drops the context, waits
    /// with exponential backoff, reconnects and runs `body` again.
    private func withReconnects(_ body: () throws -> Void) throws {
        var attempt = 0
        var delay = configuration.reconnectBackoff
        while true {
            do {
                if context == nil {
                    try connect()
                    if attempt > 0 {
                        reconnects += 1
                        configuration.logger.info("reconnected to Redis", metadata: [LogMetadataKey.redisServer: "\(server)", "attempts": "\(attempt)"])
                    } else {
                        configuration.logger.debug("connected to Redis", metadata: [
                            LogMetadataKey.redisServer: "\(server)", "database": "\(configuration.database)",
                        ])
                    }
                }
                try body()
                return
            } catch let error as StreamKitError where error.isRetriable {
                close()
                attempt += 1
                if attempt > configuration.maxReconnectAttempts {
                    configuration.logger.error("giving up on Redis", metadata: [
                        LogMetadataKey.redisServer: "\(server)", "attempts": "\(attempt)", LogMetadataKey.error: "\(error.message)",
                    ])
                    throw StreamKitError(.connector, "Redis at \(configuration): \(error.message) (gave up after \(attempt) attempts)", retriable: true,
                                         libraryCode: error.libraryCode)
                }
                configuration.logger.warning("Redis I/O error; reconnecting", metadata: [
                    LogMetadataKey.redisServer: "\(server)", "attempt": "\(attempt)", "backoff_ms": "\(delay.milliseconds)",
                    LogMetadataKey.error: "\(error.message)",
                ])
                Self.sleep(delay)
                delay = min(delay * 2, configuration.maxReconnectBackoff)
            }
        }
    }

    /// `host:port` for log metadata (never the password).
    private var server: String { "\(configuration.host):\(configuration.port)" }

    private static func sleep(_ d: Duration) {
        let ms = max(d.milliseconds, 1)
        var ts = timespec(tv_sec: Int(ms / 1000), tv_nsec: Int(ms % 1000) * 1_000_000)
        var left = timespec()
        while nanosleep(&ts, &left) != 0 && errno == EINTR { ts = left }
    }

    private static func makeTimeval(_ d: Duration) -> timeval {
        let ms = max(d.milliseconds, 1)
        return Glibc.timeval(tv_sec: Int(ms / 1000), tv_usec: Int(ms % 1000) * 1000)
    }

    private func connect() throws {
        close()
        let c = configuration
        guard let ctx = redisConnectWithTimeout(c.host, Int32(c.port), Self.makeTimeval(c.connectTimeout)) else {
            throw StreamKitError(.connector, "cannot allocate a Redis context", retriable: true)
        }
        if ctx.pointee.err != 0 {
            let message = Self.errorString(ctx)
            let code = Self.errorCode(ctx)
            redisFree(ctx)
            throw StreamKitError(.connector, "cannot connect to Redis at \(c.host):\(c.port): \(message)", retriable: true,
                                 libraryCode: code.libraryCode)
        }
        if redisSetTimeout(ctx, Self.makeTimeval(c.ioTimeout)) != REDIS_OK {
            let message = Self.errorString(ctx)
            let code = Self.errorCode(ctx)
            redisFree(ctx)
            throw StreamKitError(.connector, "cannot set the Redis socket timeout: \(message)", retriable: true,
                                 libraryCode: code.libraryCode)
        }
        streamkit_reply_arena_attach(UnsafeMutableRawPointer(ctx.pointee.reader), arena)
        context = ctx
        // Session setup: these run without retry (we are inside the connect step).
        if let password = c.password {
            var b = RedisCommandBuffer(capacity: 128)
            b.command(c.username.map { ["AUTH", $0, password] } ?? ["AUTH", password])
            var r: [RedisReply] = []
            try roundTrip(b, into: &r)
            if case .error(let e) = r[0] {
                close()
                // Do not echo the reply verbatim beyond its first word: never risk logging secrets.
                throw StreamKitError(.configuration, "Redis AUTH refused at \(c.host):\(c.port): \(e.prefix { $0 != " " })")
            }
        }
        var setup = RedisCommandBuffer(capacity: 128)
        if c.database != 0 { setup.command(["SELECT", String(c.database)]) }
        if let name = c.clientName { setup.command(["CLIENT", "SETNAME", name]) }
        if !setup.isEmpty {
            var r: [RedisReply] = []
            try roundTrip(setup, into: &r)
            if let e = r.first(where: \.isError) {
                close()
                throw StreamKitError(.configuration, "Redis session setup failed at \(c.host):\(c.port): \(e)")
            }
        }
    }

    /// One round trip: append every command, then read every reply. Throws a retriable error on I/O failure.
    private func roundTrip(_ commands: RedisCommandBuffer, into replies: inout [RedisReply]) throws {
        guard let ctx = context else { throw StreamKitError(.connector, "not connected", retriable: true) }
        replies.removeAll(keepingCapacity: true)
        replies.reserveCapacity(commands.count)
        try append(commands, to: ctx)
        try withArena {
            for _ in 0..<commands.count { replies.append(Self.decode(try nextReply(ctx))) }
        }
    }

    /// Runs `body`, which reads replies, and releases what they took of the arena afterwards:
    /// replies read inside `body` are valid until it returns.
    private func withArena<T>(_ body: () throws -> T) rethrows -> T {
        let mark = streamkit_reply_arena_mark_now(arena)
        defer { streamkit_reply_arena_release(arena, mark) }
        return try body()
    }

    /// The next reply on `ctx`, built in the arena: valid until the enclosing ``withArena(_:)`` returns.
    private func nextReply(_ ctx: UnsafeMutablePointer<redisContext>) throws -> UnsafePointer<redisReply> {
        var raw: UnsafeMutableRawPointer? = nil
        guard redisGetReply(ctx, &raw) == REDIS_OK, let raw else { throw ioError(ctx, "read") }
        return UnsafePointer(raw.assumingMemoryBound(to: redisReply.self))
    }

    /// Bytes the reply arena holds now (tests: a read allocates nothing once it has grown).
    package var replyArenaCapacity: Int { streamkit_reply_arena_capacity(arena) }
    /// Bytes the reused command buffer holds now (tests: at most 4 MiB is kept).
    package var commandBufferCapacity: Int { protocolBytes.capacity }

    /// Sends the one command in `command` and lets `body` read its reply in place (no copy into
    /// ``RedisReply``): for hot reads that render the reply straight into their output. Reconnects
    /// and re-sends on I/O errors (idempotent commands only); a `NOSCRIPT` error loads `scripts`
    /// and sends the command once more.
    package func withReply<T>(_ command: RedisCommandBuffer, scripts: [RedisScript] = [],
                              _ body: (RedisReplyView) throws -> T) throws -> T {
        precondition(command.count == 1, "withReply sends exactly one command")
        var result: T? = nil
        var loaded = false
        while result == nil {
            var noScript = false
            try withReconnects {
                guard let ctx = context else { throw StreamKitError(.connector, "not connected", retriable: true) }
                try append(command, to: ctx)
                try withArena {
                    let view = RedisReplyView(try nextReply(ctx))
                    if !loaded, !scripts.isEmpty, view.isError, view.bytes.starts(with: "NOSCRIPT".utf8) { noScript = true; return }
                    result = try body(view)
                }
            }
            if noScript {
                for s in scripts { try load(s) }
                loaded = true
            }
        }
        return result!
    }

    /// Sends `commands` as one transaction — `MULTI`, the commands, `EXEC` — in one round trip
    /// and lets `body` read `EXEC`'s reply (one element per command, in order) in place. The
    /// commands run as one atomic step on the server, like a script, without a script's cost of
    /// converting every reply to Lua values and back (a 100-entity feature read: a quarter of the
    /// server time). Read-only commands only: an I/O error reconnects and re-sends the whole
    /// transaction. A command the server refuses to queue aborts it and throws, naming the reply.
    package func withTransaction<T>(_ commands: RedisCommandBuffer, _ body: (RedisReplyView) throws -> T) throws -> T {
        var result: T? = nil
        try withReconnects {
            guard let ctx = context else { throw StreamKitError(.connector, "not connected", retriable: true) }
            try append(commands, to: ctx, transaction: true)
            let replies = commands.count + 2   // MULTI, each command's QUEUED, EXEC
            var refused: String? = nil
            try withArena {
                for i in 0..<replies {
                    let view = RedisReplyView(try nextReply(ctx))
                    if i + 1 < replies {
                        if view.isError && refused == nil { refused = String(decoding: view.bytes, as: UTF8.self) }
                        continue
                    }
                    if let refused { throw StreamKitError(.connector, "Redis refused a command of a transaction: \(refused)") }
                    guard view.isArray, view.count == commands.count else {
                        let what = view.isError ? String(decoding: view.bytes, as: UTF8.self) : "no reply"
                        throw StreamKitError(.connector, "Redis did not run the transaction: \(what)")
                    }
                    result = try body(view)
                }
            }
        }
        return result!
    }

    /// Writes `commands` (inside `MULTI` … `EXEC` with `transaction`) in Redis's protocol into
    /// ``protocolBytes`` and appends them to the context's output buffer at once.
    private func append(_ commands: RedisCommandBuffer, to ctx: UnsafeMutablePointer<redisContext>, transaction: Bool = false) throws {
        protocolBytes.removeAll(keepingCapacity: true)
        if transaction { Self.appendProtocol(literal: "*1\r\n$5\r\nMULTI\r\n", to: &protocolBytes) }
        Self.appendProtocol(commands, to: &protocolBytes)
        if transaction { Self.appendProtocol(literal: "*1\r\n$4\r\nEXEC\r\n", to: &protocolBytes) }
        let appended = protocolBytes.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { redisAppendFormattedCommand(ctx, $0.baseAddress, $0.count) == REDIS_OK }
        }
        // hiredis copied them: a huge round trip's buffer is not kept (the arena's limit).
        if protocolBytes.capacity > Self.keptBufferBytes { protocolBytes = []; protocolBytes.reserveCapacity(Self.initialBufferBytes) }
        guard appended else { throw ioError(ctx, "append") }
    }

    /// Every complete command of `commands` as RESP arrays of bulk strings
    /// (`*<n>\r\n` then `$<length>\r\n<bytes>\r\n` per argument).
    static func appendProtocol(_ commands: RedisCommandBuffer, to out: inout [UInt8]) {
        commands.bytes.withUnsafeBufferPointer { bytes in
            var arg = 0
            var argStart = 0
            for end in commands.commandEnds {
                appendHeader(UInt8(ascii: "*"), end - arg, to: &out)
                while arg < end {
                    let argEnd = commands.argEnds[arg]
                    appendHeader(UInt8(ascii: "$"), argEnd - argStart, to: &out)
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[argStart..<argEnd]))
                    out.append(13); out.append(10)
                    argStart = argEnd; arg += 1
                }
            }
        }
    }

    private static func appendProtocol(literal: StaticString, to out: inout [UInt8]) {
        literal.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    /// `<prefix><n>\r\n`.
    private static func appendHeader(_ prefix: UInt8, _ n: Int, to out: inout [UInt8]) {
        out.append(prefix)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { digits in
            let count = _jsonFormatInteger(Int64(n), into: digits.baseAddress!, at: 0)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[..<count]))
        }
        out.append(13); out.append(10)
    }

    private func ioError(_ ctx: UnsafeMutablePointer<redisContext>, _ what: String) -> StreamKitError {
        let message = Self.errorString(ctx)
        let code = Self.errorCode(ctx)
        close()
        return StreamKitError(.connector, "Redis \(what) failed at \(configuration.host):\(configuration.port): \(message)",
                              // No code (0): an I/O failure hiredis did not classify; retry as before.
                              retriable: code.rawValue == 0 || code.isRetriable,
                              libraryCode: code.rawValue == 0 ? nil : code.libraryCode)
    }

    /// The context's hiredis error code (`REDIS_ERR_*`).
    private static func errorCode(_ ctx: UnsafeMutablePointer<redisContext>) -> RedisErrorCode {
        RedisErrorCode(rawValue: ctx.pointee.err)
    }

    private static func errorString(_ ctx: UnsafeMutablePointer<redisContext>) -> String {
        let s = withUnsafeBytes(of: ctx.pointee.errstr) { b in
            String(decoding: b.prefix { $0 != 0 }, as: UTF8.self)
        }
        return s.isEmpty ? "error \(ctx.pointee.err)" : s
    }

    static func decode(_ r: UnsafePointer<redisReply>) -> RedisReply {
        let reply = r.pointee
        switch reply.type {
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(reply.integer))
        case REDIS_REPLY_STRING:
            return .bulk(reply.len == 0 ? [] : Array(UnsafeRawBufferPointer(start: reply.str, count: reply.len)))
        case REDIS_REPLY_STATUS:
            return .status(String(decoding: UnsafeRawBufferPointer(start: reply.str, count: reply.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: UnsafeRawBufferPointer(start: reply.str, count: reply.len), as: UTF8.self))
        case REDIS_REPLY_ARRAY:
            var out: [RedisReply] = []
            out.reserveCapacity(reply.elements)
            for i in 0..<reply.elements { out.append(decode(UnsafePointer(reply.element[i]!))) }
            return .array(out)
        default:
            return .null
        }
    }
}
