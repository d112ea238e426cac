public import Synchronization
public import StreamKit
public import Glibc

/// Row count and Σcount, Σsum, Σavg, Σmax over emitted rows (the standard workload's checksums).
public final class WindowChecksums: Sendable {
    public struct Partial: Sendable {
        public var rows: Int64 = 0
        public var count: Int64 = 0
        public var sum = 0.0, avg = 0.0, max = 0.0
        public init() {}
        @inlinable public mutating func add<K, B>(_ r: WindowResult<K, FieldAccumulator<B>>, columns: [AggregateColumn]) {
            rows &+= 1
            count &+= r.value.count
            let s = r.value.field(0)
            if s.count > 0 {
                sum += s.sum; avg += s.sum / Double(s.count); max += s.max
            }
        }
    }
    private let total = Mutex(Partial())
    public init() {}
    public func merge(_ p: Partial) {
        total.withLock { t in
            t.rows += p.rows; t.count += p.count; t.sum += p.sum; t.avg += p.avg; t.max += p.max
        }
    }
    public var value: Partial { total.withLock { $0 } }
}
