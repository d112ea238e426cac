#if canImport(Glibc)
import Glibc
#endif
public import Foundation

extension Process {
    /// Waits until the process exited, at most `timeout`; then kills it (SIGKILL) and returns
    /// false. A test that stops a child and waits for it fails with the signal's status instead
    /// of waiting forever (`waitUntilExit()` has no limit).
    @discardableResult
    public func waitForExit(timeout: Duration = .seconds(120)) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while isRunning {
            if ContinuousClock.now > deadline {
                kill(processIdentifier, SIGKILL)
                waitUntilExit()
                return false
            }
            usleep(10_000)
        }
        waitUntilExit()   // returns at once: the status is final
        return true
    }
}
