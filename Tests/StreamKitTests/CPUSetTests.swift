#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
@testable import StreamKit

@Suite struct CPUSetTests {
    @Test func parsesTasksetLists() throws {
        #expect(try CPUSet(parsing: "0").cpus == [0])
        #expect(try CPUSet(parsing: "1-3").cpus == [1, 2, 3])
        #expect(try CPUSet(parsing: "3,0,2-3").cpus == [0, 2, 3])
        #expect(try CPUSet(parsing: "5-5").cpus == [5])
        #expect(try CPUSet(parsing: "0-1,3,5-7").description == "0-1,3,5-7")
        #expect(CPUSet([2, 0, 1]).description == "0-2")
    }

    @Test(arguments: ["", "a", "1,", "-1", "3-1", "1-", "0-1-2", " 1", "1024", "0-1024"])
    func rejectsWhatIsNotAList(_ text: String) {
        #expect {
            try CPUSet(parsing: text)
        } throws: { error in
            guard let e = error as? StreamKitError else { return false }
            return e.message.contains("in '\(text)'") && e.message.contains("not a CPU")
        }
    }

    /// Placing a thread moves that thread only; threads it starts afterwards inherit it.
    @Test func appliesToTheCallingThreadOnly() throws {
        #if os(Linux)
        let allowed = try #require(CPUSet.ofCurrentThread())
        let one = CPUSet([allowed.cpus.last!])
        let seen = Mutex<(applied: Bool, own: CPUSet?, child: CPUSet?)?>(nil)
        let thread = Thread {
            let applied = one.applyToCurrentThread()
            let child = Mutex<(done: Bool, cpus: CPUSet?)>((false, nil))
            let inner = Thread { child.withLock { $0 = (true, CPUSet.ofCurrentThread()) } }
            inner.start()
            DataPathSchedulingTests.waitForThread { child.withLock { $0.done } }
            seen.withLock { $0 = (applied, CPUSet.ofCurrentThread(), child.withLock { $0.cpus }) }
        }
        thread.start()
        DataPathSchedulingTests.waitForThread { seen.withLock { $0 != nil } }
        let (applied, own, child) = try #require(seen.withLock { $0 }, "the thread did not report within a minute")
        #expect(applied)
        #expect(own == one)
        #expect(child == one)
        #expect(CPUSet.ofCurrentThread() == allowed, "the test's own thread did not move")
        #expect(CPUSet([Int32(CPUSet.maximumCPU)]).applyToCurrentThread() == false || allowed.cpus.contains(CPUSet.maximumCPU))
        #expect(CPUSet.ofCurrentThread() == allowed, "a refused placement leaves the thread where it was")
        #endif
    }

    /// A placement moves each thread at its first call and again only when it changes.
    @Test func placementMovesEachThreadOncePerSetting() throws {
        #if os(Linux)
        let allowed = try #require(CPUSet.ofCurrentThread())
        let placement = CPUPlacement()
        let first = CPUSet([allowed.cpus.first!]), last = CPUSet([allowed.cpus.last!])
        let steps = Mutex<[CPUSet?]>([])
        let next = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        let thread = Thread {
            placement.applyToCurrentThread()                 // nothing set: stays
            steps.withLock { $0.append(CPUSet.ofCurrentThread()) }; done.signal(); next.wait()
            placement.applyToCurrentThread()                 // `first` set: moves
            steps.withLock { $0.append(CPUSet.ofCurrentThread()) }
            allowed.applyToCurrentThread()                   // moved away by hand…
            placement.applyToCurrentThread()                 // …the same setting is not applied twice
            steps.withLock { $0.append(CPUSet.ofCurrentThread()) }; done.signal(); next.wait()
            placement.applyToCurrentThread()                 // `last` set: moves again
            steps.withLock { $0.append(CPUSet.ofCurrentThread()) }; done.signal()
        }
        thread.start()
        try #require(done.wait(timeout: .now() + 60) == .success)
        placement.cpus = first
        next.signal()
        try #require(done.wait(timeout: .now() + 60) == .success)
        placement.cpus = last
        next.signal()
        try #require(done.wait(timeout: .now() + 60) == .success)
        #expect(steps.withLock { $0 } == [allowed, first, allowed, last])
        #expect(placement.cpus == last)
        #endif
    }
}
