#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
@testable import StreamKit
import StreamKitTesting

@Suite struct RequestPathSchedulingTests {
    static func sliceOfThread(_ tid: Int32) throws -> Int? { try SchedulerProbe.slice(pid: getpid(), tid: tid) }

    /// The request slice lands on the calling thread only, and keeps its nice value (the system
    /// call sets policy, nice and slice together: a wrong nice would silently undo the data
    /// path's lowered priority or raise a thread's).
    @Test func asksForTheSliceOnTheCallingThreadAndKeepsItsNice() throws {
        #if os(Linux)
        let result = Mutex<(tid: Int32, applied: Bool, again: Bool, nice: Int32?)>((0, false, false, nil))
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            let lowered = DataPathScheduling.lowerCurrentThread(by: 2)
            let applied = RequestPathScheduling.apply(sliceNanos: 150_000)
            let again = RequestPathScheduling.apply(sliceNanos: 150_000)
            let nice = DataPathScheduling.currentThreadNice()
            result.withLock { $0 = (DataPathSchedulingTests.currentThreadID(), applied, again, nice == lowered ? nice : nil) }
            done.wait()   // stays alive while the test reads its sched file
        }
        thread.start()
        DataPathSchedulingTests.waitForThread { result.withLock { $0.tid } != 0 }
        let (tid, applied, again, nice) = result.withLock { $0 }
        let slice = try Self.sliceOfThread(tid)
        let mine = try Self.sliceOfThread(DataPathSchedulingTests.currentThreadID())
        done.signal()
        #expect(applied && again, "sched_setattr refused the slice")
        #expect(nice != nil, "the nice value changed")
        if SchedulerProbe.kernelTakesSliceRequests {
            #expect(slice == 150_000)
            #expect(mine != 150_000, "only the calling thread asks")
        }
        #expect(RequestPathScheduling.apply(sliceNanos: 0) == false)
        #endif
    }
}
