import Dispatch

/// Runs independent pieces of a backfill's serial phases (sorting parts of the label buffer,
/// putting chunks of the training set together) on Dispatch's worker threads, the calling thread
/// included, and returns their results in order. It blocks until all are done; the pieces do
/// blocking file I/O, which is why this is Dispatch's pool and not Swift concurrency's.
enum ParallelWork {
    /// `body(0) … body(count − 1)`, at most as many at once as Dispatch has worker threads; the
    /// first error (by index) is thrown after all have finished.
    static func map<T>(_ count: Int, _ body: (Int) throws -> T) throws -> [T] {
        if count <= 1 { return try (0..<count).map(body) }
        let slots = UnsafeMutableBufferPointer<Result<T, any Error>?>.allocate(capacity: count)
        slots.initialize(repeating: nil)
        defer { _ = slots.deinitialize(); slots.deallocate() }
        let results = Slots(base: slots.baseAddress!)
        withoutActuallyEscaping(body) { body in
            let work = Work(body: body)
            DispatchQueue.concurrentPerform(iterations: count) { i in results.base[i] = Result { try work.body(i) } }
        }
        return try slots.map { try $0!.get() }
    }

    /// Each index is written by one iteration only.
    private struct Slots<T>: @unchecked Sendable { let base: UnsafeMutablePointer<Result<T, any Error>?> }
    /// `body` only reads what the caller owns for the duration of the call.
    private struct Work<T>: @unchecked Sendable { let body: (Int) throws -> T }
}
