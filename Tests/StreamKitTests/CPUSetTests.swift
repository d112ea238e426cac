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
            let child = Mutex<CPUSet?>(nil)
            let inner = Thread { child.withLock { $0 = CPUSet.ofCurrentThread() } }
            inner.start()
            while child.withLock({ $0 == nil }) { usleep(1000) }
            seen.withLock { $0 = (applied, CPUSet.ofCurrentThread(), child.withLock { $0 }) }
        }
        thread.start()
        while seen.withLock({ $0 == nil }) { usleep(1000) }
        let (applied, own, child) = try #require(seen.withLock { $0 })
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
        done.wait()
        placement.cpus = first
        next.signal(); done.wait()
        placement.cpus = last
        next.signal(); done.wait()
        #expect(steps.withLock { $0 } == [allowed, first, allowed, last])
        #expect(placement.cpus == last)
        #endif
    }
}
