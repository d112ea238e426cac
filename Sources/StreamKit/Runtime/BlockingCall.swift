import Foundation

/// Runs a blocking call (a C library's request, a wait on other threads) on a thread of its own,
/// so an async caller does not hold one of the Swift concurrency pool's few threads while it waits.
package enum BlockingCall {
    package static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }
}
