#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
@testable import StreamKit

@Suite struct DataPathSchedulingTests {
    /// The nice value of one thread of this process, read back from /proc (field 19 of its stat line).
    static func niceOfThread(_ tid: Int32) throws -> Int {
        let stat = try String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8)
        let fields = stat[stat.range(of: ") ")!.upperBound...].split(separator: " ")
        return Int(fields[16])!   // field 19 overall: after pid and comm, the 17th
    }

    /// The calling thread's kernel id: /proc/thread-self links to PID/task/TID.
    static func currentThreadID() -> Int32 {
        let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
        return Int32(link.split(separator: "/").last ?? "") ?? 0
    }

    /// Polls `condition` for at most a minute: a test waiting for a thread it started to report
    /// (the caller then requires what the thread reported).
    static func waitForThread(_ condition: () -> Bool) {
        let deadline = ContinuousClock.now + .seconds(60)
        while !condition() && ContinuousClock.now < deadline { usleep(1000) }
    }

    @Test func lowersOnlyTheCallingThread() throws {
        #if os(Linux)
        let mine = try Self.niceOfThread(Self.currentThreadID())
        let result = Mutex<(tid: Int32, returned: Int32?)>((0, nil))
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            let r = DataPathScheduling.lowerCurrentThread(by: 3)
            result.withLock { $0 = (Self.currentThreadID(), r) }
            done.wait()   // stays alive while the test reads its stat
        }
        thread.start()
        Self.waitForThread { result.withLock { $0.tid } != 0 }
        let (tid, returned) = result.withLock { $0 }
        let other = try Self.niceOfThread(tid)
        done.signal()
        #expect(returned == Int32(min(mine + 3, 19)))
        #expect(other == min(mine + 3, 19))
        #expect(try Self.niceOfThread(Self.currentThreadID()) == mine)   // the caller's own thread is untouched
        #endif
    }

    /// A data-path thread started by another one (librdkafka's broker threads by its main thread)
    /// inherits the lowered value; applying again keeps it at baseline + niceness, not twice that.
    @Test func applyIsAbsoluteNotCumulative() throws {
        #if os(Linux)
        let result = Mutex<(tid: Int32, nice: Int32?)>((0, nil))
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            let base = DataPathScheduling.currentThreadNice() ?? 0
            DataPathScheduling.apply(niceness: 2, baseline: base)
            DataPathScheduling.apply(niceness: 2, baseline: base)
            result.withLock { $0 = (Self.currentThreadID(), DataPathScheduling.currentThreadNice().map { $0 - base }) }
            done.wait()
        }
        thread.start()
        Self.waitForThread { result.withLock { $0.tid } != 0 }
        let (_, delta) = result.withLock { $0 }
        done.signal()
        #expect(delta == 2)
        #endif
    }

    @Test func offByDefault() throws {
        // No command but `serve --data-path-nice N` sets it: the tests' jobs run at the process's priority.
        #expect(DataPathScheduling.niceness == 0)
        #if os(Linux)
        let before = try Self.niceOfThread(Self.currentThreadID())
        #expect(DataPathScheduling.lowerCurrentThread(by: 0) == Int32(before))
        #endif
    }
}
