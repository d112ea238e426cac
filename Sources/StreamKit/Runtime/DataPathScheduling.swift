#if canImport(Glibc)
import Glibc
#endif
import CStreamKitShims
import Synchronization

/// How the data path's threads are scheduled next to the rest of the process.
///
/// A process that also answers latency-bound requests (the control plane's feature reads) runs
/// its captures and jobs at a lower CPU priority, so that on a busy machine a request's thread
/// preempts them instead of waiting behind a batch: `niceness` is added to every data-path
/// thread when it starts (the runtime's task and checkpoint threads, capture threads, and the
/// Kafka client's threads). Throughput is unchanged while nothing else wants the CPU.
///
/// ``cpus`` goes further: every data-path thread runs only on those CPUs, so that the request
/// path (``RequestPathScheduling/cpus``) can have cores of its own.
///
/// On Linux each thread has its own nice value (`setpriority(PRIO_PROCESS, tid, …)`); raising it
/// needs no privilege. Elsewhere this does nothing.
///
/// ```swift
/// DataPathScheduling.niceness = 10   // before the jobs and captures start
/// DataPathScheduling.cpus = try CPUSet(parsing: "1-3")
/// ```
public enum DataPathScheduling {
    private static let storage = Atomic<Int32>(0)
    private static let baseline = Atomic<Int32>(0)

    /// Nice value added to each data-path thread as it starts (0: inherit the process's, the default; at most 19).
    /// Setting it records the calling thread's nice value as the baseline the data path is lowered from.
    public static var niceness: Int32 {
        get { storage.load(ordering: .relaxed) }
        set {
            baseline.store(currentThreadNice() ?? 0, ordering: .relaxed)
            storage.store(min(max(newValue, 0), 19), ordering: .relaxed)
        }
    }

    private static let placement = CPUPlacement()

    /// The CPUs every data-path thread runs on (nil: wherever the process may, the default).
    /// Applies to threads that start (or call ``applyToCurrentThread()``) after it is set.
    public static var cpus: CPUSet? {
        get { placement.cpus }
        set { placement.cpus = newValue }
    }

    /// Whether anything is set that data-path threads apply as they start.
    public static var isConfigured: Bool { niceness > 0 || cpus != nil }

    /// Sets the calling thread to the baseline plus ``niceness`` and moves it to ``cpus``; call
    /// first thing on a data-path thread. Absolute, not relative: a thread started by another
    /// data-path thread (librdkafka's broker threads, started by its main thread) inherits the
    /// lowered value and stays there.
    public static func applyToCurrentThread() {
        apply(niceness: niceness, baseline: baseline.load(ordering: .relaxed))
        placement.applyToCurrentThread()
    }

    /// Sets the calling thread's nice value to `baseline + niceness` (capped at 19) unless it is already that low.
    static func apply(niceness n: Int32, baseline b: Int32) {
        guard n > 0, let current = currentThreadNice() else { return }
        let target = min(b + n, 19)
        if current < target { lowerCurrentThread(by: target - current) }
    }

    /// The calling thread's nice value; nil where per-thread priorities are not available.
    public static func currentThreadNice() -> Int32? {
        #if os(Linux)
        errno = 0
        let current = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(streamkit_gettid()))
        return current == -1 && errno != 0 ? nil : current
        #else
        return nil
        #endif
    }

    /// Adds `amount` to the calling thread's nice value (capped at 19); returns the new value, nil
    /// where per-thread priorities are not available.
    @discardableResult
    public static func lowerCurrentThread(by amount: Int32) -> Int32? {
        #if os(Linux)
        let tid = id_t(streamkit_gettid())
        let which = __priority_which_t(PRIO_PROCESS.rawValue)
        errno = 0
        let current = getpriority(which, tid)
        if current == -1 && errno != 0 { return nil }
        let target = min(current + max(amount, 0), 19)
        guard setpriority(which, tid, target) == 0 else { return nil }
        return getpriority(which, tid)
        #else
        return nil
        #endif
    }
}
