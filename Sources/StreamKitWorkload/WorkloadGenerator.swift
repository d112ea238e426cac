#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
public import StreamKit

/// One event of the standard benchmark workload (see `WORKLOAD.md`): an insert into the
/// `user_interactions` table, as carried by a Debezium change event.
public struct WorkloadEvent: Sendable, Hashable {
    /// The kind of user interaction.
    public enum InteractionType: UInt8, Sendable, Hashable, CaseIterable {
        /// A page view (80 % of generated events).
        case view
        /// A click (15 %).
        case click
        /// A purchase (5 %).
        case purchase

        /// The name written into the event JSON (`"view"`, `"click"`, `"purchase"`).
        public var name: String {
            switch self {
            case .view: "view"
            case .click: "click"
            case .purchase: "purchase"
            }
        }
    }

    /// Row id, 1-based and consecutive.
    public var id: Int64
    /// The user (the workload's key), 1...100_000.
    public var userId: Int64
    /// The item, 1...50_000.
    public var itemId: Int64
    /// What the user did.
    public var interactionType: InteractionType
    /// The amount in cents, 0...50_000 (written as `0.00`...`500.00`).
    public var amountCents: Int64
    /// Event time in milliseconds since the Unix epoch.
    public var tsMs: Int64

    /// Creates an event from its fields.
    public init(id: Int64, userId: Int64, itemId: Int64, interactionType: InteractionType,
                amountCents: Int64, tsMs: Int64) {
        self.id = id
        self.userId = userId
        self.itemId = itemId
        self.interactionType = interactionType
        self.amountCents = amountCents
        self.tsMs = tsMs
    }
}

/// The project's standard benchmark input generator, byte-for-byte identical to the reference
/// `gen_events.py` described in `WORKLOAD.md`.
///
/// It is an iterator (and sequence) of ``WorkloadEvent``s: SplitMix64 seeded with `seed`
/// (default 42), exactly five draws per event. ``appendLine(of:to:)`` renders an event as its
/// newline-terminated Debezium JSON line and ``writeFile(path:events:seed:)`` writes a whole input
/// file.
///
/// ```swift
/// var generator = WorkloadGenerator(seed: 42)
/// var bytes: [UInt8] = []
/// while let event = generator.next(), event.id <= 1000 {
///     WorkloadGenerator.appendLine(of: event, to: &bytes)
/// }
/// ```
public struct WorkloadGenerator: IteratorProtocol, Sequence, Sendable {
    /// The SplitMix64 generator of `WORKLOAD.md` (see ``StreamKit/SplitMix64``).
    public typealias SplitMix64 = StreamKit.SplitMix64

    /// The seed used by the standard workload.
    public static let defaultSeed: UInt64 = 42
    /// Event time of event index 0 before jitter (2023-11-14T22:13:20Z).
    public static let baseTimestampMs: Int64 = 1_700_000_000_000
    /// An upper bound on the length of one line produced by ``appendLine(of:to:)``.
    public static let maxLineLength = 512

    @usableFromInline
    internal var random: SplitMix64
    @usableFromInline
    internal var index: Int64
    @usableFromInline
    internal let limit: Int64

    /// Creates a generator producing events 1, 2, 3, ... from `seed`; endless if `count` is nil,
    /// otherwise `count` events.
    @inlinable
    public init(seed: UInt64 = WorkloadGenerator.defaultSeed, count: Int? = nil) {
        precondition((count ?? 0) >= 0, "count must not be negative")
        random = SplitMix64(seed: seed)
        index = 0
        limit = count.map(Int64.init) ?? Int64.max
    }

    /// The next event (five PRNG draws), or `nil` once `count` events were produced.
    @inlinable
    public mutating func next() -> WorkloadEvent? {
        guard index < limit else { return nil }
        let i = index
        index += 1
        let userId = 1 + random.next() % 100_000
        let itemId = 1 + random.next() % 50_000
        let r = random.next() % 100
        let type: WorkloadEvent.InteractionType = r < 80 ? .view : (r < 95 ? .click : .purchase)
        let cents = random.next() % 50_001
        let jitter = Int64(random.next() % 2_001) - 1_000
        return WorkloadEvent(id: i + 1, userId: Int64(userId), itemId: Int64(itemId), interactionType: type,
                             amountCents: Int64(cents), tsMs: WorkloadGenerator.baseTimestampMs + i + jitter)
    }

    /// Appends up to `maxCount` further events as lines to `buffer`; returns how many were appended
    /// (fewer only when the generator's `count` is exhausted).
    public mutating func appendLines(_ maxCount: Int, to buffer: inout [UInt8]) -> Int {
        if maxCount < Int.max / 512 { buffer.reserveCapacity(buffer.count + maxCount * 360) }
        var appended = 0
        while appended < maxCount, let event = next() {
            WorkloadGenerator.appendLine(of: event, to: &buffer)
            appended += 1
        }
        return appended
    }

    // MARK: Line rendering

    /// Appends the event's newline-terminated Debezium JSON line, exactly as the reference
    /// generator writes it:
    ///
    ///     {"before":null,"after":{"id":1,"user_id":75414,"item_id":42292,"interaction_type":"view","amount":290.31,"ts_ms":1700000000030},"source":{"version":"2.5.0.Final","connector":"postgresql","name":"app","ts_ms":1700000000030,"db":"app","schema":"public","table":"user_interactions","txId":1001,"lsn":100000064},"op":"c","ts_ms":1700000000040}
    ///
    /// Integers are formatted by hand into a stack buffer that is appended with one copy. (For
    /// negative amounts, which the generator never produces, the sign precedes the `units.cents`
    /// magnitude.)
    public static func appendLine(of event: WorkloadEvent, to buffer: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxLineLength) { scratch in
            var out = LineCursor(scratch.baseAddress!)
            out.put("{\"before\":null,\"after\":{\"id\":")
            out.put(event.id)
            out.put(",\"user_id\":")
            out.put(event.userId)
            out.put(",\"item_id\":")
            out.put(event.itemId)
            switch event.interactionType {
            case .view: out.put(",\"interaction_type\":\"view\",\"amount\":")
            case .click: out.put(",\"interaction_type\":\"click\",\"amount\":")
            case .purchase: out.put(",\"interaction_type\":\"purchase\",\"amount\":")
            }
            var cents = UInt64(bitPattern: event.amountCents)
            if event.amountCents < 0 {
                out.put(byte: UInt8(ascii: "-"))
                cents = 0 &- cents
            }
            out.put(unsigned: cents / 100)
            out.put(byte: UInt8(ascii: "."))
            out.putTwoDigits(Int(cents % 100))
            out.put(",\"ts_ms\":")
            let tsStart = out.position
            out.put(event.tsMs)
            let tsLength = out.position - tsStart
            out.put("},\"source\":{\"version\":\"2.5.0.Final\",\"connector\":\"postgresql\",\"name\":\"app\",\"ts_ms\":")
            out.copy(from: tsStart, count: tsLength)
            out.put(",\"db\":\"app\",\"schema\":\"public\",\"table\":\"user_interactions\",\"txId\":")
            out.put(1000 &+ event.id)
            out.put(",\"lsn\":")
            out.put(100_000_000 &+ 64 &* event.id)
            out.put("},\"op\":\"c\",\"ts_ms\":")
            out.put(event.tsMs &+ 10)
            out.put("}\n")
            buffer.append(contentsOf: UnsafeBufferPointer(start: scratch.baseAddress, count: out.position))
        }
    }

    // MARK: Files

    /// Writes the first `events` lines of the workload for `seed` to `path` (created or
    /// truncated), generating in memory and writing in 8 MiB chunks.
    /// - Returns: The number of bytes written.
    /// - Throws: `StreamKitError(.io, ...)` if the file cannot be opened or written.
    @discardableResult
    public static func writeFile(path: String, events: Int, seed: UInt64 = WorkloadGenerator.defaultSeed) throws -> Int {
        precondition(events >= 0, "events must not be negative")
        let chunkSize = 8 << 20
        let fd = try DurableFile.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC)
        var generator = WorkloadGenerator(seed: seed, count: events)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(chunkSize + maxLineLength)
        var total = 0
        do {
            while let event = generator.next() {
                appendLine(of: event, to: &buffer)
                if buffer.count >= chunkSize {
                    try buffer.withUnsafeBytes { try DurableFile.writeAll(fd, $0, path: path) }
                    total += buffer.count
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            try buffer.withUnsafeBytes { try DurableFile.writeAll(fd, $0, path: path) }
            total += buffer.count
        } catch {
            _ = close(fd)
            throw error
        }
        if close(fd) != 0 { throw DurableFile.ioError("close", path, errno: errno) }
        return total
    }
}

/// A write cursor over a scratch buffer large enough for one line (no bounds checks: callers
/// guarantee at most ``WorkloadGenerator/maxLineLength`` bytes).
private struct LineCursor {
    let base: UnsafeMutablePointer<UInt8>
    var position = 0

    init(_ base: UnsafeMutablePointer<UInt8>) { self.base = base }

    /// "00" "01" ... "99": two ASCII digits per value, indexed by `2 * value`.
    private static let digitPairs: StaticString =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

    @inline(__always)
    mutating func put(_ text: StaticString) {
        (base + position).update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        position += text.utf8CodeUnitCount
    }

    @inline(__always)
    mutating func put(byte: UInt8) {
        base[position] = byte
        position += 1
    }

    @inline(__always)
    mutating func copy(from start: Int, count: Int) {
        (base + position).update(from: base + start, count: count)
        position += count
    }

    @inline(__always)
    mutating func putTwoDigits(_ value: Int) {
        let pairs = Self.digitPairs.utf8Start
        base[position] = pairs[2 &* value]
        base[position &+ 1] = pairs[2 &* value &+ 1]
        position += 2
    }

    @inline(__always)
    mutating func put(_ value: Int64) {
        if value < 0 {
            put(byte: UInt8(ascii: "-"))
            put(unsigned: 0 &- UInt64(bitPattern: value))
        } else {
            put(unsigned: UInt64(value))
        }
    }

    /// Writes `value` in decimal: count the digits, then fill from the right two at a time.
    @inline(__always)
    mutating func put(unsigned value: UInt64) {
        var length = 1
        var probe = value
        while probe >= 100 {
            probe /= 100
            length &+= 2
        }
        if probe >= 10 { length &+= 1 }

        let pairs = Self.digitPairs.utf8Start
        var end = base + position + length
        var rest = value
        while rest >= 100 {
            let quotient = rest / 100
            let pair = Int(truncatingIfNeeded: rest &- quotient &* 100) &* 2
            end -= 2
            end[0] = pairs[pair]
            end[1] = pairs[pair &+ 1]
            rest = quotient
        }
        if rest >= 10 {
            let pair = Int(truncatingIfNeeded: rest) &* 2
            end -= 2
            end[0] = pairs[pair]
            end[1] = pairs[pair &+ 1]
        } else {
            end -= 1
            end[0] = UInt8(truncatingIfNeeded: rest) &+ UInt8(ascii: "0")
        }
        position &+= length
    }
}
