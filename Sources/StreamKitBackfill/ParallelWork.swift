import Glibc
import Synchronization

/// Runs independent pieces of a backfill's serial phases (sorting parts of the label buffer,
/// putting chunks of the training set together) on `threads` threads — the calling thread and
/// threads of its own, started for the call and joined before it returns — and returns their
/// results in order. The pieces do blocking file I/O, so they run on no shared pool (Dispatch's
/// `concurrentPerform` also runs serially when called from Swift concurrency's pool).
enum ParallelWork {
    /// `body(0) … body(count − 1)` on up to `threads` threads, each taking the next index; the
    /// first error (by index) is thrown after all have finished.
    static func map<T>(_ count: Int, threads: Int, _ body: (Int) throws -> T) throws -> [T] {
        let threads = Swift.min(count, threads)
        if threads <= 1 { return try (0..<count).map(body) }
        let slots = UnsafeMutableBufferPointer<Result<T, any Error>?>.allocate(capacity: count)
        slots.initialize(repeating: nil)
        defer { _ = slots.deinitialize(); slots.deallocate() }
        withoutActuallyEscaping(body) { body in
            let shared = Shared(body: body, slots: slots.baseAddress!, count: count)
            onThreads(threads) { shared.drain() }
        }
        return try slots.map { try $0!.get() }
    }

    /// Runs `work` on the calling thread and on `threads − 1` threads started for it; returns
    /// when every one has returned. A thread that cannot be started leaves its share to the others.
    private static func onThreads(_ threads: Int, _ work: () -> Void) {
        withoutActuallyEscaping(work) { work in
            let task = Unmanaged.passRetained(ThreadWork(work))
            var started: [pthread_t] = []
            for _ in 1..<threads {
                var tid = pthread_t()
                _ = task.retain()
                let rc = pthread_create(&tid, nil, { raw in
                    Unmanaged<ThreadWork>.fromOpaque(raw!).takeRetainedValue().work()
                    return nil
                }, task.toOpaque())
                if rc == 0 { started.append(tid) } else { task.release() }
            }
            task.takeUnretainedValue().work()
            for tid in started { pthread_join(tid, nil) }
            task.release()
        }
    }

    /// The work a thread runs.
    private final class ThreadWork: @unchecked Sendable {
        let work: () -> Void
        init(_ work: @escaping () -> Void) { self.work = work }
    }

    /// What the threads share: the next index to take and where each result goes (each slot is
    /// written by the one thread that took its index, and read after every thread is joined).
    private final class Shared<T>: @unchecked Sendable {
        let body: (Int) throws -> T
        let slots: UnsafeMutablePointer<Result<T, any Error>?>
        let count: Int
        let next = Atomic<Int>(0)

        init(body: @escaping (Int) throws -> T, slots: UnsafeMutablePointer<Result<T, any Error>?>, count: Int) {
            self.body = body; self.slots = slots; self.count = count
        }

        func drain() {
            while true {
                let i = next.add(1, ordering: .relaxed).oldValue
                if i >= count { return }
                slots[i] = Result { try body(i) }
            }
        }
    }
}
