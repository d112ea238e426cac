#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
@testable import StreamKit

@Suite struct RequestPathSchedulingTests {
    /// The kernel's `se.slice` of one thread of this process (ns), from /proc (nil if not shown).
    static func sliceOfThread(_ tid: Int32) throws -> Int? {
        let sched = try String(contentsOfFile: "/proc/self/task/\(tid)/sched", encoding: .utf8)
        guard let line = sched.split(separator: "\n").first(where: { $0.hasPrefix("se.slice") }) else { return nil }
        return Int(line.split(separator: ":").last!.trimmingCharacters(in: .whitespaces))
    }

    /// Linux ≥ 6.12 takes a fair thread's `sched_runtime` as its slice request.
    static var kernelTakesSliceRequests: Bool {
        var u = utsname()
        uname(&u)
        let release = withUnsafeBytes(of: u.release) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        let parts = release.split(separator: ".").prefix(2).map { Int($0.prefix(while: \.isNumber)) ?? 0 }
        return parts.count == 2 && (parts[0], parts[1]) >= (6, 12)
    }

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
        while result.withLock({ $0.tid }) == 0 { usleep(1000) }
        let (tid, applied, again, nice) = result.withLock { $0 }
        let slice = try Self.sliceOfThread(tid)
        let mine = try Self.sliceOfThread(DataPathSchedulingTests.currentThreadID())
        done.signal()
        #expect(applied && again, "sched_setattr refused the slice")
        #expect(nice != nil, "the nice value changed")
        if Self.kernelTakesSliceRequests {
            #expect(slice == 150_000)
            #expect(mine != 150_000, "only the calling thread asks")
        }
        #expect(RequestPathScheduling.apply(sliceNanos: 0) == false)
        #endif
    }
}
