#if canImport(Glibc)
import Glibc
#endif
import CStreamKitShims
import Synchronization

/// How the threads that answer latency-bound requests (the control plane's feature reads) are
/// scheduled: with a short time slice.
///
/// On a busy machine a request crosses several threads (the HTTP event loop, the handler's,
/// the feature store client's), and each of them, when woken, may wait for a core that another
/// runnable thread holds. Linux's EEVDF scheduler (6.6 and later) gives every fair thread a
/// virtual deadline one slice after it becomes eligible and lets a woken thread preempt only if
/// its deadline is earlier; since 6.12 a thread can ask for a shorter slice (`sched_setattr`
/// with `sched_runtime`, no privilege needed, 0.1–100 ms). A thread that asks for a short slice
/// and does little per wakeup is picked sooner — without a higher priority: its share of the CPU
/// (its nice value) is unchanged, it is only preempted sooner too. On older kernels and other
/// systems this does nothing.
///
/// A slice shortens each wait for a core; ``cpus`` removes most of them: the request path's
/// threads run only on those CPUs, and with ``DataPathScheduling/cpus`` on the others, a request
/// never waits behind a batch of the data path.
///
/// ```swift
/// RequestPathScheduling.slice = .microseconds(100)   // once, at startup
/// RequestPathScheduling.cpus = try CPUSet(parsing: "0")  // optional
/// RequestPathScheduling.applyToCurrentThread()       // on each thread of the request path
/// ```
public enum RequestPathScheduling {
    private static let sliceNanos = Atomic<UInt64>(0)

    /// The slice the request path's threads ask for (nil: the kernel's default, the default).
    public static var slice: Duration? {
        get { let n = sliceNanos.load(ordering: .relaxed); return n == 0 ? nil : .nanoseconds(Int64(n)) }
        set {
            let n = newValue.map { max(UInt64(clamping: $0.components.seconds) &* 1_000_000_000 &+ UInt64(clamping: $0.components.attoseconds / 1_000_000_000), 1) } ?? 0
            sliceNanos.store(n, ordering: .relaxed)
        }
    }

    private static let placement = CPUPlacement()

    /// The CPUs the request path's threads run on (nil: wherever the process may, the default).
    public static var cpus: CPUSet? {
        get { placement.cpus }
        set { placement.cpus = newValue }
    }

    /// Whether anything is set that the request path's threads apply.
    public static var isConfigured: Bool { slice != nil || cpus != nil }

    /// Per thread: the slice it asked for last (nil: none; with ``refused`` set: the kernel said
    /// no), so that repeated calls cost a load — also where the request is refused (a seccomp
    /// filter, another system), instead of two system calls per request.
    private static let applied: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Moves the calling thread to ``cpus`` and asks for ``slice``, once per thread (thread-local
    /// checks after the first call); false when no slice is set or the kernel refused it.
    @discardableResult
    public static func applyToCurrentThread() -> Bool {
        placement.applyToCurrentThread()
        return apply(sliceNanos: sliceNanos.load(ordering: .relaxed))
    }

    /// Asks for a slice of `want` ns on the calling thread, keeping its nice value.
    static func apply(sliceNanos want: UInt64) -> Bool {
        guard want > 0 else { return false }
        let key = applied
        let asked = UInt64(UInt(bitPattern: pthread_getspecific(key)))
        if asked == want { return true }
        if asked == want | refused { return false }
        #if os(Linux)
        let granted = DataPathScheduling.currentThreadNice().map { streamkit_request_slice(want, $0) == 0 } ?? false
        #else
        let granted = false
        #endif
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: UInt(granted ? want : want | refused)))
        return granted
    }

    /// Marks a refused request in the per-thread record.
    private static let refused: UInt64 = 1 << 63
}
