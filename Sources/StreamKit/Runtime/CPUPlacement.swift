#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The CPUs one kind of thread is kept on (the data path's, the request path's): each thread
/// moves there the first time it calls ``applyToCurrentThread()``; later calls cost an atomic
/// load and a thread-local read, so a request handler may call it on every request.
///
/// Setting ``cpus`` again moves each thread at its next call; setting nil leaves threads where
/// they are (it only stops moving them).
final class CPUPlacement: Sendable {
    private let state = Mutex<(cpus: CPUSet?, generation: UInt64)>((nil, 0))
    /// Bumped on every change (0: never set, the fast way out).
    private let generation = Atomic<UInt64>(0)
    /// Per thread: the generation it last applied.
    private let applied: pthread_key_t

    init() {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        applied = key
    }

    var cpus: CPUSet? {
        get { state.withLock { $0.cpus } }
        set {
            state.withLock {
                $0.cpus = newValue
                $0.generation &+= 1
                generation.store($0.generation, ordering: .releasing)
            }
        }
    }

    /// Moves the calling thread to ``cpus`` unless it already applied the current setting.
    func applyToCurrentThread() {
        let current = generation.load(ordering: .acquiring)
        guard current != 0, UInt64(UInt(bitPattern: pthread_getspecific(applied))) != current else { return }
        let (cpus, seen) = state.withLock { ($0.cpus, $0.generation) }
        cpus?.applyToCurrentThread()
        pthread_setspecific(applied, UnsafeRawPointer(bitPattern: UInt(seen)))
    }
}
