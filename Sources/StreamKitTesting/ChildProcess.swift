#if canImport(Glibc)
import Glibc
#endif
import Foundation
import StreamKit
import CStreamKitShims

/// Runs a tool (`chromium`, `promtool`, `psql`, the `cdc-features` binary…) to its end for a test,
/// and never longer than a limit.
///
/// Foundation's `Process` has no time limit, and `waitUntilExit()` and `readDataToEndOfFile()`
/// wait for as long as anything holds the child's pipes — a headless browser's helper
/// processes, say. One stuck tool then held a concurrency-pool thread for good, and the whole
/// suite starved behind it. Here the child starts a process group of its own; everything in that
/// group is killed at the limit (the run throws, naming the command and what it printed), and
/// after the child exits (its helpers must not outlive it).
///
/// ```swift
/// let r = try ChildProcess.run("/usr/bin/promtool", ["check", "metrics"], input: Array(body.utf8), timeout: .seconds(60))
/// #expect(r.status == 0, "\(r.stdout)")
/// ```
///
/// The `async` variant waits on a thread of its own, so the concurrency pool keeps running the
/// other tests meanwhile.
public enum ChildProcess {
    /// How a run ended and what the child printed.
    public struct Output: Sendable {
        /// The exit status, or 128 + the signal's number when a signal ended it.
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `executable` with `arguments`; `input` is written to its standard input (closed
    /// after it; /dev/null without it). `terminateAfter`: SIGTERM to the child then (to test a
    /// command's shutdown). Throws when the child runs longer than `timeout`.
    public static func run(_ executable: String, _ arguments: [String], input: [UInt8]? = nil,
                           environment: [String: String]? = nil, workingDirectory: String? = nil,
                           terminateAfter: Duration? = nil, timeout: Duration = .seconds(300)) throws -> Output {
        let started = try spawn(executable, arguments, hasInput: input != nil, environment: environment,
                                workingDirectory: workingDirectory)
        return try collect(started, executable: executable, input: input ?? [], terminateAfter: terminateAfter, timeout: timeout)
    }

    /// ``run(_:_:input:environment:workingDirectory:terminateAfter:timeout:)`` waiting on a
    /// thread of its own instead of a concurrency-pool thread.
    public static func run(_ executable: String, _ arguments: [String], input: [UInt8]? = nil,
                           environment: [String: String]? = nil, workingDirectory: String? = nil,
                           terminateAfter: Duration? = nil, timeout: Duration = .seconds(300)) async throws -> Output {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Output, any Error>) in
            Thread.detachNewThread {
                c.resume(with: Result {
                    try run(executable, arguments, input: input, environment: environment, workingDirectory: workingDirectory,
                            terminateAfter: terminateAfter, timeout: timeout) as Output
                })
            }
        }
    }

    private struct Started {
        let pid: pid_t
        let stdout: Int32, stderr: Int32, stdin: Int32
    }

    private static func spawn(_ executable: String, _ arguments: [String], hasInput: Bool,
                              environment: [String: String]?, workingDirectory: String?) throws -> Started {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0], inPipe: [Int32] = [-1, -1]
        guard streamkit_pipe_cloexec(&outPipe) == 0, streamkit_pipe_cloexec(&errPipe) == 0, !hasInput || streamkit_pipe_cloexec(&inPipe) == 0 else {
            throw StreamKitError(.io, "pipe: \(String(cString: strerror(errno)))")
        }
        let rc = posixSpawn(executable, arguments, environment: environment, workingDirectory: workingDirectory) { actions in
            if hasInput { posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0) } else {
                posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            }
            posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
            posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        }
        for fd in [outPipe[1], errPipe[1], inPipe[0]] where fd >= 0 { close(fd) }
        guard rc.code == 0 else {
            for fd in [outPipe[0], errPipe[0], inPipe[1]] where fd >= 0 { close(fd) }
            throw StreamKitError(.io, "cannot start \(executable): \(String(cString: strerror(rc.code)))")
        }
        return Started(pid: rc.pid, stdout: outPipe[0], stderr: errPipe[0], stdin: inPipe[1])
    }

    /// Starts `executable` in a process group of its own (its pid), with the signal mask cleared,
    /// SIGPIPE, SIGTERM, SIGINT and SIGCHLD at their defaults, and no descriptor of this process
    /// but the standard ones that `standardIO` sets up (other tests' pipes and sockets must not
    /// leak into it). Returns posix_spawn's result and the pid.
    static func posixSpawn(_ executable: String, _ arguments: [String], environment: [String: String]?, workingDirectory: String?,
                           standardIO: (inout posix_spawn_file_actions_t) -> Void) -> (code: Int32, pid: pid_t) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        standardIO(&actions)
        streamkit_spawn_add_closefrom(&actions, 3)
        if let workingDirectory { streamkit_spawn_add_chdir(&actions, workingDirectory) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), defaults = sigset_t()
        sigemptyset(&noSignals)
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGTERM, SIGINT, SIGCHLD] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)   // a group of its own: the child's pid
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let code = withCStrings([executable] + arguments) { argv in
            withCStrings(env) { envp in posix_spawn(&pid, executable, &actions, &attributes, argv, envp) }
        }
        return (code, pid)
    }

    /// Reads both pipes, feeds the input and reaps the child, all on the calling thread.
    private static func collect(_ child: Started, executable: String, input: [UInt8], terminateAfter: Duration?,
                                timeout: Duration) throws -> Output {
        let start = MonotonicClock.nanos()
        func elapsed() -> Duration { .nanoseconds(Int64(MonotonicClock.nanos() &- start)) }
        var out: [UInt8] = [], err: [UInt8] = []
        var openFDs: Set<Int32> = [child.stdout, child.stderr]
        var stdinFD = child.stdin, written = 0
        if stdinFD >= 0 && input.isEmpty { close(stdinFD); stdinFD = -1 }
        // Writes never block: a child that prints while it reads needs its output read meanwhile.
        if stdinFD >= 0 { _ = fcntl(stdinFD, F_SETFL, fcntl(stdinFD, F_GETFL) | O_NONBLOCK) }
        var status: Int32? = nil, exitedAt: Duration? = nil, terminated = false
        var buffer = [UInt8](repeating: 0, count: 65_536)
        defer {
            for fd in openFDs { close(fd) }
            if stdinFD >= 0 { close(stdinFD) }
        }
        while true {
            var fds = openFDs.sorted().map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if stdinFD >= 0 { fds.append(pollfd(fd: stdinFD, events: Int16(POLLOUT), revents: 0)) }
            _ = poll(&fds, nfds_t(fds.count), 50)
            for p in fds where p.revents != 0 {
                if p.fd == stdinFD {
                    let n = input.withUnsafeBytes { write(stdinFD, $0.baseAddress! + written, $0.count - written) }
                    if n > 0 { written += n }
                    if n < 0 && errno != EAGAIN && errno != EINTR || written == input.count { close(stdinFD); stdinFD = -1 }
                    continue
                }
                let n = buffer.withUnsafeMutableBytes { read(p.fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    if p.fd == child.stdout { out += buffer[0..<n] } else { err += buffer[0..<n] }
                } else if n == 0 || errno != EINTR && errno != EAGAIN {
                    close(p.fd); openFDs.remove(p.fd)
                }
            }
            if status == nil {
                var raw: Int32 = 0
                let reaped = waitpid(child.pid, &raw, WNOHANG)
                if reaped == child.pid || reaped < 0 && errno == ECHILD {
                    // ECHILD: something else in this process reaped it; its status is lost (-1).
                    status = reaped == child.pid ? exitStatus(raw) : -1
                    exitedAt = elapsed()
                    kill(-child.pid, SIGKILL)   // helpers it left behind (they may hold its pipes)
                }
            }
            if let exitedAt {
                // Exited: done once both pipes are at their end, or a little later if something
                // outside the group still holds them.
                if openFDs.isEmpty || elapsed() - exitedAt > .seconds(5) { break }
                continue
            }
            if let terminateAfter, !terminated, elapsed() >= terminateAfter {
                kill(child.pid, SIGTERM)
                terminated = true
            }
            if elapsed() > timeout {
                kill(-child.pid, SIGKILL)
                var raw: Int32 = 0
                waitpid(child.pid, &raw, 0)
                throw StreamKitError(.io, """
                    \(executable) ran longer than \(timeout) and was killed (its process group). \
                    stdout: \(String(decoding: out.suffix(2000), as: UTF8.self)) \
                    stderr: \(String(decoding: err.suffix(2000), as: UTF8.self))
                    """)
            }
        }
        return Output(status: status ?? -1, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
    }

    /// A `waitpid` status as a shell shows it: the exit code, or 128 + the signal's number.
    static func exitStatus(_ raw: Int32) -> Int32 {
        let signal = raw & 0x7f
        return signal == 0 ? (raw >> 8) & 0xff : 128 + signal
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        var pointers = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for p in pointers { free(p) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
