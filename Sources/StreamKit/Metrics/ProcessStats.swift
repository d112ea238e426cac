import Glibc

/// Process resource usage.
public enum ProcessStats {
    /// Peak resident set size in MiB (VmHWM), or nil when unavailable.
    public static func peakRSSMegabytes() -> Double? {
        guard let f = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, 256, f) != nil {
            let s = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if s.hasPrefix("VmHWM:") {
                let digits = s.split(separator: " ").compactMap { Double($0) }
                if let kb = digits.first { return kb / 1024 }
            }
        }
        return nil
    }
}
