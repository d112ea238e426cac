public import Glibc

/// A pthread mutex with one condition variable. Used by the bounded channels between subtask
/// threads; never held across a call into user code.
@usableFromInline
package final class ConditionLock: @unchecked Sendable {
    // @unchecked: the pthread objects are only touched through the lock's own methods.
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline let cond: UnsafeMutablePointer<pthread_cond_t>

    @usableFromInline package init() {
        mutex = .allocate(capacity: 1); cond = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil); pthread_cond_init(cond, nil)
    }
    deinit {
        pthread_cond_destroy(cond); pthread_mutex_destroy(mutex)
        mutex.deallocate(); cond.deallocate()
    }
    @inlinable func lock() { pthread_mutex_lock(mutex) }
    @inlinable func unlock() { pthread_mutex_unlock(mutex) }
    @inlinable func wait() { pthread_cond_wait(cond, mutex) }
    /// Waits at most `nanos`; returns false on time-out.
    @inlinable func wait(nanos: UInt64) -> Bool {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let total = UInt64(ts.tv_nsec) + nanos
        ts.tv_sec += Int(total / 1_000_000_000)
        ts.tv_nsec = Int(total % 1_000_000_000)
        return pthread_cond_timedwait(cond, mutex, &ts) == 0
    }
    @inlinable func broadcast() { pthread_cond_broadcast(cond) }
    @inlinable package func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock(); defer { unlock() }
        return try body()
    }
}

/// Starts a dedicated OS thread (never the Swift concurrency pool: subtasks block on channels).
@usableFromInline
func startThread(name: String, _ body: @escaping @Sendable () -> Void) -> pthread_t {
    final class Box: @unchecked Sendable { let body: @Sendable () -> Void; let name: String
        init(_ b: @escaping @Sendable () -> Void, _ n: String) { body = b; name = n } }
    let box = Unmanaged.passRetained(Box(body, name)).toOpaque()
    var tid = pthread_t()
    var attr = pthread_attr_t()
    pthread_attr_init(&attr)
    pthread_attr_setstacksize(&attr, 8 << 20)
    let rc = pthread_create(&tid, &attr, { raw in
        let b = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
        ThreadName.setCurrent(b.name)
        DataPathScheduling.applyToCurrentThread()
        b.body()
        return nil
    }, box)
    pthread_attr_destroy(&attr)
    precondition(rc == 0, "pthread_create failed: \(rc)")
    return tid
}
