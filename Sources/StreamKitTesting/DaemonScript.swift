#if canImport(Glibc)
import Glibc
#endif
import Foundation
import StreamKit

/// Runs a script that starts or stops a daemon (`scripts/services up postgres`) to its end for a
/// test, and never longer than a limit.
///
/// Unlike ``ChildProcess`` it leaves running what the script started: the script writes to
/// /dev/null and a log file, not to pipes (the daemon would hold a pipe open for its lifetime),
/// and its process group — its own — is killed only at the limit, when the run throws with the
/// log's tail. A script that exits non-zero throws with its log.
public enum DaemonScript {
    public static func run(_ script: String, _ arguments: [String], environment: [String: String],
                           timeout: Duration = .seconds(300)) throws {
        let log = NSTemporaryDirectory() + "daemon-script-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
        defer { unlink(log) }
        let command = ([script] + arguments).joined(separator: " ")
        func logText() -> String { String((try? String(contentsOfFile: log, encoding: .utf8))?.suffix(4000) ?? "") }

        // ChildProcess's spawn (its own group, clean signals, no inherited descriptors), with
        // files instead of pipes.
        let (rc, pid) = ChildProcess.posixSpawn(script, arguments, environment: environment, workingDirectory: nil) { actions in
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        }
        guard rc == 0 else { throw StreamKitError(.io, "cannot run \(script): \(String(cString: strerror(rc)))") }

        let deadline = ContinuousClock.now.advanced(by: timeout)
        var raw: Int32 = 0
        while true {
            let reaped = waitpid(pid, &raw, WNOHANG)
            if reaped == pid { break }
            if reaped < 0 && errno != EINTR { throw StreamKitError(.io, "\(command): waitpid: \(String(cString: strerror(errno)))") }
            if ContinuousClock.now >= deadline {
                kill(-pid, SIGKILL)
                while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
                throw StreamKitError(.io, "\(command) ran longer than \(timeout) and was killed (its process group); its log: \(logText())")
            }
            _ = poll(nil, 0, 20)   // until it exits
        }
        let status = ChildProcess.exitStatus(raw)
        guard status == 0 else { throw StreamKitError(.io, "\(command) failed (status \(status)): \(logText())") }
    }
}
