import CStreamKitShims

/// A set of CPUs, written as `taskset -c` and `/sys/fs/cgroup/cpuset.cpus` write them: `0`,
/// `1-3`, `0,2-3`.
///
/// Used to keep two kinds of threads of one process apart (see ``DataPathScheduling/cpus`` and
/// ``RequestPathScheduling/cpus``): the request path on a core of its own answers in microseconds
/// while the data path keeps the other cores busy.
///
/// ```swift
/// let cpus = try CPUSet(parsing: "1-3")
/// cpus.applyToCurrentThread()   // this thread runs on CPUs 1, 2 and 3 only
/// ```
public struct CPUSet: Sendable, Hashable, CustomStringConvertible {
    /// The CPUs, ascending, each once.
    public let cpus: [Int32]

    /// The largest CPU number a set may name (the kernel's `CPU_SETSIZE` − 1).
    public static let maximumCPU: Int32 = 1023

    public init<S: Sequence>(_ cpus: S) where S.Element == Int32 {
        self.cpus = Array(Set(cpus)).sorted()
    }

    /// Parses `0`, `1-3`, `0,2-3`; throws naming the part that is not a CPU number or range.
    public init(parsing text: String) throws {
        var cpus: [Int32] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            guard let low = bounds.first.flatMap({ Int32($0) }), low >= 0, low <= Self.maximumCPU,
                  let high = bounds.count == 2 ? Int32(bounds[1]) : low, high >= low, high <= Self.maximumCPU
            else {
                throw StreamKitError(.configuration,
                                     "'\(part)' in '\(text)' is not a CPU or a range of CPUs (like 0, 1-3 or 0,2-3; at most \(Self.maximumCPU))")
            }
            cpus.append(contentsOf: low...high)
        }
        self.init(cpus)
    }

    /// The CPUs the calling thread may run on now (nil where that cannot be read).
    public static func ofCurrentThread() -> CPUSet? {
        #if os(Linux)
        var buffer = [Int32](repeating: 0, count: Int(maximumCPU) + 1)
        let n = streamkit_get_thread_cpus(&buffer, Int32(buffer.count))
        return n < 0 ? nil : CPUSet(buffer.prefix(Int(n)))
        #else
        return nil
        #endif
    }

    /// Restricts the calling thread (not the process) to these CPUs; threads it starts later
    /// inherit them. False where the kernel refused (none of them available) or on other systems.
    @discardableResult
    public func applyToCurrentThread() -> Bool {
        #if os(Linux)
        guard !cpus.isEmpty else { return false }
        return cpus.withUnsafeBufferPointer { streamkit_set_thread_cpus($0.baseAddress, Int32($0.count)) } == 0
        #else
        return false
        #endif
    }

    public func isSubset(of other: CPUSet) -> Bool { Set(cpus).isSubset(of: other.cpus) }

    /// `0-1,3`: ranges of consecutive CPUs joined.
    public var description: String {
        var parts: [String] = []
        var i = cpus.startIndex
        while i < cpus.endIndex {
            var j = i
            while j + 1 < cpus.endIndex, cpus[j + 1] == cpus[j] + 1 { j += 1 }
            parts.append(i == j ? "\(cpus[i])" : "\(cpus[i])-\(cpus[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}
