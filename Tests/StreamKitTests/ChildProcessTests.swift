#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import StreamKit
import StreamKitTesting

@Suite struct ChildProcessTests {
    @Test func collectsBothStreamsTheStatusAndFeedsTheInput() throws {
        let r = try ChildProcess.run("/bin/sh", ["-c", "cat; echo err >&2; exit 3"], input: Array("in\n".utf8))
        #expect(r.status == 3)
        #expect(r.stdout == "in\n")
        #expect(r.stderr == "err\n")
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)   // more than a pipe holds, both ways
        let echoed = try ChildProcess.run("/bin/cat", [], input: big)
        #expect(echoed.status == 0 && echoed.stdout.utf8.count == big.count)
    }

    /// At the limit the whole group goes, the child's own children too, and the run throws.
    @Test func aRunPastItsLimitIsKilledWithItsChildren() throws {
        let marker = "streamkit-child-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        #expect {
            try ChildProcess.run("/bin/bash", ["-c", "exec -a \(marker) sleep 300 & echo started; wait"], timeout: .seconds(1))
        } throws: { error in
            (error as? StreamKitError)?.message.contains("ran longer than") == true
        }
        #expect(Self.disappears(marker), "the grandchild was killed")
    }

    /// A helper the child leaves running does not keep the run waiting for the pipes' end.
    @Test func helpersOutlivingTheChildAreKilledAndDoNotHoldItsPipes() throws {
        let marker = "streamkit-helper-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let r = try ChildProcess.run("/bin/bash", ["-c", "(exec -a \(marker) sleep 300) & echo done"], timeout: .seconds(60))
        #expect(r.status == 0 && r.stdout == "done\n")
        #expect(Self.disappears(marker))
    }

    @Test func terminateAfterSendsSIGTERM() async throws {
        let r = try await ChildProcess.run("/bin/bash", ["-c", "trap 'echo got-term; exit 7' TERM; while true; do sleep 0.05; done"],
                                           terminateAfter: .milliseconds(300), timeout: .seconds(60))
        #expect(r.status == 7 && r.stdout == "got-term\n")
    }

    /// DaemonScript waits for the script alone: what it started keeps running.
    @Test func aDaemonScriptLeavesItsDaemonRunning() throws {
        let marker = "streamkit-daemon-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try DaemonScript.run("/bin/bash", ["-c", "(exec -a \(marker) sleep 300) & echo started"],
                             environment: ProcessInfo.processInfo.environment, timeout: .seconds(60))
        // The background subshell may exec its `sleep` after the script has exited.
        let left = Self.appears(marker)
        #expect(left.count == 1, "the daemon outlives the script")
        for pid in left { kill(pid_t(pid)!, SIGKILL) }
        #expect(Self.disappears(marker))
    }

    /// A failing script throws with its log; a script past its limit is killed with its group.
    @Test func aDaemonScriptThatFailsOrHangsThrows() throws {
        #expect {
            try DaemonScript.run("/bin/bash", ["-c", "echo no-such-service >&2; exit 4"], environment: ["PATH": "/usr/bin:/bin"], timeout: .seconds(60))
        } throws: { error in
            let message = (error as? StreamKitError)?.message ?? ""
            return message.contains("status 4") && message.contains("no-such-service")
        }
        let marker = "streamkit-stuck-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        #expect {
            try DaemonScript.run("/bin/bash", ["-c", "(exec -a \(marker) sleep 300) & wait"], environment: ["PATH": "/usr/bin:/bin"], timeout: .seconds(1))
        } throws: { error in
            (error as? StreamKitError)?.message.contains("ran longer than") == true
        }
        #expect(Self.disappears(marker), "the script's group was killed")
    }

    @Test func aMissingExecutableThrows() {
        #expect(throws: StreamKitError.self) { try ChildProcess.run("/nonexistent/tool", []) }
    }

    /// Whether every process named `name` is gone within ten seconds: SIGKILL is sent, but a
    /// killed process still has to run its exit, which a loaded machine delays (a clean-clone
    /// run found it still there right after the kill).
    static func disappears(_ name: String) -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if (try? processes(named: name).isEmpty) == true { return true }
            usleep(10_000)
        }
        return false
    }

    /// The processes named `name` once there are any (within ten seconds; empty if none came).
    static func appears(_ name: String) -> [String] {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let found = try? processes(named: name), !found.isEmpty { return found }
            usleep(10_000)
        }
        return []
    }

    /// Processes whose command line starts with `name` (a zombie's is empty: it has exited).
    static func processes(named name: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc").filter { Int($0) != nil }.filter { pid in
            let cmdline = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
            return String(decoding: cmdline, as: UTF8.self).hasPrefix(name)
        }
    }
}
