import HeapModule

/// Time-to-live of keyed state (processing time, like Flink's `StateTtlConfig`).
public struct StateTTL: Sendable, Hashable {
    public enum UpdateType: Sendable, Hashable {
        /// The TTL restarts when the value is created or written.
        case onCreateAndWrite
        /// The TTL restarts on reads too.
        case onReadAndWrite
    }
    public var ttlMillis: Int64
    public var update: UpdateType
    public init(_ ttl: Duration, update: UpdateType = .onCreateAndWrite) {
        precondition(ttl.milliseconds > 0, "TTL must be positive")
        ttlMillis = ttl.milliseconds; self.update = update
    }
}

/// The key the keyed operator is processing now, and processing time; shared by its state handles.
public final class KeyContext<Key: StreamKey>: @unchecked Sendable {
    // @unchecked: used only on its operator's subtask thread.
    public var currentKey: Key?
    public var now: Int64 = 0
    public init() {}
    @inlinable var key: Key {
        guard let k = currentKey else { preconditionFailure("keyed state used outside of a keyed context") }
        return k
    }
}

/// A keyed state table that can be checkpointed by key group.
public protocol KeyedStateTable: AnyObject {
    var name: String { get }
    func snapshot(into groups: inout [Int: ByteWriter], keyGroups: KeyGroups, now: Int64)
    func restore(from reader: inout ByteReader, now: Int64) throws
    /// Drops expired entries; returns how many.
    @discardableResult func purgeExpired(now: Int64) -> Int
}

@usableFromInline
struct TTLEntry<Value> {
    @usableFromInline var value: Value
    @usableFromInline var touched: Int64
    @inlinable init(value: Value, touched: Int64) { self.value = value; self.touched = touched }
}

/// Per-key single value (Flink's `ValueState`).
public final class ValueState<Key: StreamKey, Value: Sendable & StateCodable>: KeyedStateTable, @unchecked Sendable {
    // @unchecked: used only on its operator's subtask thread.
    public let name: String
    @usableFromInline let context: KeyContext<Key>
    @usableFromInline let ttl: StateTTL?
    @usableFromInline var entries: [Key: TTLEntry<Value>] = [:]

    @inlinable init(name: String, context: KeyContext<Key>, ttl: StateTTL?) {
        self.name = name; self.context = context; self.ttl = ttl
    }

    @inlinable func expired(_ e: TTLEntry<Value>) -> Bool {
        guard let ttl else { return false }
        return context.now &- e.touched >= ttl.ttlMillis
    }

    /// The value of the current key, nil if absent or expired.
    @inlinable public var value: Value? {
        let k = context.key
        guard let e = entries[k] else { return nil }
        if expired(e) { entries[k] = nil; return nil }
        if ttl?.update == .onReadAndWrite { entries[k]!.touched = context.now }
        return e.value
    }
    /// Sets the value of the current key.
    @inlinable public func update(_ value: Value) { entries[context.key] = TTLEntry(value: value, touched: context.now) }
    /// Removes the value of the current key.
    @inlinable public func clear() { entries[context.key] = nil }
    /// Number of keys holding a value (expired ones included until purged).
    public var keyCount: Int { entries.count }

    public func snapshot(into groups: inout [Int: ByteWriter], keyGroups: KeyGroups, now: Int64) {
        for (k, e) in entries {
            if let ttl, now &- e.touched >= ttl.ttlMillis { continue }
            let kg = keyGroups.keyGroup(of: k)
            var w = groups[kg] ?? ByteWriter()
            w.writeString(name); k.encode(to: &w); w.writeVarInt(e.touched); e.value.encode(to: &w)
            groups[kg] = w
        }
    }
    public func restore(from r: inout ByteReader, now: Int64) throws {
        let k = try Key(from: &r); let t = try r.readVarInt(); let v = try Value(from: &r)
        entries[k] = TTLEntry(value: v, touched: t)
    }
    @discardableResult public func purgeExpired(now: Int64) -> Int {
        guard let ttl else { return 0 }
        let before = entries.count
        entries = entries.filter { now &- $0.value.touched < ttl.ttlMillis }
        return before - entries.count
    }
}

/// Per-key map (Flink's `MapState`). TTL applies per map entry.
public final class MapState<Key: StreamKey, MapKey: Hashable & Sendable & StateCodable, Value: Sendable & StateCodable>:
    KeyedStateTable, @unchecked Sendable {
    // @unchecked: used only on its operator's subtask thread.
    public let name: String
    @usableFromInline let context: KeyContext<Key>
    @usableFromInline let ttl: StateTTL?
    @usableFromInline var entries: [Key: [MapKey: TTLEntry<Value>]] = [:]

    @inlinable init(name: String, context: KeyContext<Key>, ttl: StateTTL?) {
        self.name = name; self.context = context; self.ttl = ttl
    }
    @inlinable public subscript(mapKey: MapKey) -> Value? {
        get {
            let k = context.key
            guard let e = entries[k]?[mapKey] else { return nil }
            if let ttl, context.now &- e.touched >= ttl.ttlMillis { entries[k]?[mapKey] = nil; return nil }
            if ttl?.update == .onReadAndWrite { entries[k]![mapKey]!.touched = context.now }
            return e.value
        }
        set {
            let k = context.key
            if let v = newValue { entries[k, default: [:]][mapKey] = TTLEntry(value: v, touched: context.now) }
            else { entries[k]?[mapKey] = nil; if entries[k]?.isEmpty == true { entries[k] = nil } }
        }
    }
    /// The live entries of the current key. Reading them counts as a read for the TTL (like
    /// Flink's map-state iteration): with `.onReadAndWrite` they are refreshed, expired ones dropped.
    @inlinable public var entriesOfCurrentKey: [(MapKey, Value)] {
        let k = context.key
        guard var m = entries[k] else { return [] }
        guard let ttl else { return m.map { ($0.key, $0.value.value) } }
        var live: [(MapKey, Value)] = []
        live.reserveCapacity(m.count)
        for (mk, e) in m {
            if context.now &- e.touched >= ttl.ttlMillis { m[mk] = nil; continue }
            if ttl.update == .onReadAndWrite { m[mk]!.touched = context.now }
            live.append((mk, e.value))
        }
        entries[k] = m.isEmpty ? nil : m
        return live
    }
    @inlinable public func clear() { entries[context.key] = nil }

    public func snapshot(into groups: inout [Int: ByteWriter], keyGroups: KeyGroups, now: Int64) {
        for (k, m) in entries {
            let live = m.filter { ttl == nil || now &- $0.value.touched < ttl!.ttlMillis }
            if live.isEmpty { continue }
            let kg = keyGroups.keyGroup(of: k)
            var w = groups[kg] ?? ByteWriter()
            w.writeString(name); k.encode(to: &w); w.writeVarUInt(UInt64(live.count))
            for (mk, e) in live { mk.encode(to: &w); w.writeVarInt(e.touched); e.value.encode(to: &w) }
            groups[kg] = w
        }
    }
    public func restore(from r: inout ByteReader, now: Int64) throws {
        let k = try Key(from: &r)
        let n = try r.readVarUInt()
        var m: [MapKey: TTLEntry<Value>] = [:]
        for _ in 0..<n {
            let mk = try MapKey(from: &r); let t = try r.readVarInt()
            m[mk] = TTLEntry(value: try Value(from: &r), touched: t)
        }
        entries[k] = m
    }
    @discardableResult public func purgeExpired(now: Int64) -> Int {
        guard let ttl else { return 0 }
        var removed = 0
        for (k, m) in entries {
            let live = m.filter { now &- $0.value.touched < ttl.ttlMillis }
            removed += m.count - live.count
            entries[k] = live.isEmpty ? nil : live
        }
        return removed
    }
}

/// Per-key list (Flink's `ListState`). TTL applies to the whole list, restarted on append.
public final class ListState<Key: StreamKey, Element: Sendable & StateCodable>: KeyedStateTable, @unchecked Sendable {
    // @unchecked: used only on its operator's subtask thread.
    public let name: String
    @usableFromInline let inner: ValueState<Key, [Element]>
    @inlinable init(name: String, context: KeyContext<Key>, ttl: StateTTL?) {
        self.name = name; inner = ValueState(name: name, context: context, ttl: ttl)
    }
    /// The list of the current key (empty when absent or expired).
    @inlinable public var elements: [Element] { inner.value ?? [] }
    @inlinable public func append(_ element: Element) {
        var list = inner.value ?? []
        inner.clear()
        list.append(element)
        inner.update(list)
    }
    @inlinable public func update(_ elements: [Element]) { inner.update(elements) }
    @inlinable public func clear() { inner.clear() }
    public func snapshot(into groups: inout [Int: ByteWriter], keyGroups: KeyGroups, now: Int64) {
        inner.snapshot(into: &groups, keyGroups: keyGroups, now: now)
    }
    public func restore(from r: inout ByteReader, now: Int64) throws { try inner.restore(from: &r, now: now) }
    @discardableResult public func purgeExpired(now: Int64) -> Int { inner.purgeExpired(now: now) }
}

/// Declares and owns the keyed state of one operator instance.
public final class KeyedStateStore<Key: StreamKey>: @unchecked Sendable {
    // @unchecked: used only on its operator's subtask thread.
    public let keyContext = KeyContext<Key>()
    @usableFromInline var tables: [String: any KeyedStateTable] = [:]
    public init() {}

    /// Declares (or returns the existing) value state `name`.
    public func valueState<V: Sendable & StateCodable>(_ name: String, of: V.Type = V.self, ttl: StateTTL? = nil) -> ValueState<Key, V> {
        if let t = tables[name] as? ValueState<Key, V> { return t }
        let t = ValueState<Key, V>(name: name, context: keyContext, ttl: ttl); tables[name] = t; return t
    }
    /// Declares (or returns the existing) map state `name`.
    public func mapState<MK: Hashable & Sendable & StateCodable, V: Sendable & StateCodable>(
        _ name: String, of: (MK, V).Type = (MK, V).self, ttl: StateTTL? = nil) -> MapState<Key, MK, V> {
        if let t = tables[name] as? MapState<Key, MK, V> { return t }
        let t = MapState<Key, MK, V>(name: name, context: keyContext, ttl: ttl); tables[name] = t; return t
    }
    /// Declares (or returns the existing) list state `name`.
    public func listState<E: Sendable & StateCodable>(_ name: String, of: E.Type = E.self, ttl: StateTTL? = nil) -> ListState<Key, E> {
        if let t = tables[name] as? ListState<Key, E> { return t }
        let t = ListState<Key, E>(name: name, context: keyContext, ttl: ttl); tables[name] = t; return t
    }

    func snapshot(into groups: inout [Int: ByteWriter], keyGroups: KeyGroups, now: Int64) {
        for name in tables.keys.sorted() { tables[name]!.snapshot(into: &groups, keyGroups: keyGroups, now: now) }
    }
    func restoreEntry(from r: inout ByteReader, now: Int64) throws {
        let name = try r.readString()
        guard let t = tables[name] else {
            throw StreamKitError(.state, "checkpoint has state '\(name)' that the job no longer declares")
        }
        try t.restore(from: &r, now: now)
    }
    /// Drops every expired entry of every table.
    @discardableResult public func purgeExpired(now: Int64) -> Int {
        tables.values.reduce(0) { $0 + $1.purgeExpired(now: now) }
    }
}
