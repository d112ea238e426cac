#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// What Linux's scheduler shows of a thread, for tests of per-thread scheduling requests.
public enum SchedulerProbe {
    /// The kernel's `se.slice` of thread `tid` of process `pid` (ns), from /proc (nil if not shown).
    public static func slice(pid: Int32, tid: Int32) throws -> Int? {
        let sched = try String(contentsOfFile: "/proc/\(pid)/task/\(tid)/sched", encoding: .utf8)
        guard let line = sched.split(separator: "\n").first(where: { $0.hasPrefix("se.slice") }) else { return nil }
        return Int(line.split(separator: ":").last!.trimmingCharacters(in: .whitespaces))
    }

    /// The CPUs thread `tid` of process `pid` may run on, as /proc shows them (`Cpus_allowed_list`: `0-1`, `1`).
    public static func cpus(pid: Int32, tid: Int32) throws -> String? {
        let status = try String(contentsOfFile: "/proc/\(pid)/task/\(tid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }) else { return nil }
        return line.split(separator: ":").last!.trimmingCharacters(in: .whitespaces)
    }

    /// Linux ≥ 6.12 takes a fair thread's `sched_runtime` as its slice request.
    public static var kernelTakesSliceRequests: Bool {
        var u = utsname()
        uname(&u)
        let release = withUnsafeBytes(of: u.release) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        let parts = release.split(separator: ".").prefix(2).map { Int($0.prefix(while: \.isNumber)) ?? 0 }
        return parts.count == 2 && (parts[0], parts[1]) >= (6, 12)
    }
}
