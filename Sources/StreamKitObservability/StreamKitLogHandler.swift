public import Logging
import Synchronization
import Glibc

/// How ``StreamKitLogHandler`` writes a log line.
public enum LogFormat: String, Sendable, CaseIterable {
    /// `2026-12-05T12:00:00.123Z info streamkit.job: job started streamkit.job=pricing`
    case text
    /// One JSON object per line: `{"timestamp":…,"level":…,"label":…,"message":…,"metadata":{…}}`.
    case json
}

/// A log handler that writes one line per message to stderr, as text or JSON (for log shippers).
///
/// Lines are built in one buffer and written with a single `write(2)`, so lines of concurrent
/// threads never interleave. Bootstrap it once, in the executable, with
/// ``Observability/bootstrapLogging(level:format:)``; libraries only take a `Logger`.
public struct StreamKitLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public let label: String
    public let format: LogFormat
    /// Where lines go (a file descriptor); default stderr.
    let fd: Int32

    public init(label: String, level: Logger.Level = .info, format: LogFormat = .text, fileDescriptor: Int32 = 2) {
        self.label = label; self.logLevel = level; self.format = format; self.fd = fileDescriptor
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        if let error = event.error { merged["error.message"] = "\(error)" }
        let line = format == .json
            ? Self.jsonLine(timestamp: Self.timestamp(), level: event.level, label: label, message: "\(event.message)", metadata: merged)
            : Self.textLine(timestamp: Self.timestamp(), level: event.level, label: label, message: "\(event.message)", metadata: merged)
        var bytes = Array(line.utf8)
        bytes.append(10)
        bytes.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                let n = write(fd, buf.baseAddress! + off, buf.count - off)
                if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
                off += n
            }
        }
    }

    /// RFC 3339 UTC time with milliseconds.
    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = ts.tv_sec
        var tm = tm()
        gmtime_r(&t, &tm)
        func pad(_ v: Int32, _ w: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s }
        return "\(pad(tm.tm_year + 1900, 4))-\(pad(tm.tm_mon + 1, 2))-\(pad(tm.tm_mday, 2))T\(pad(tm.tm_hour, 2)):\(pad(tm.tm_min, 2)):\(pad(tm.tm_sec, 2)).\(pad(Int32(ts.tv_nsec / 1_000_000), 3))Z"
    }

    static func textLine(timestamp: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var s = "\(timestamp) \(level) \(label): \(message)"
        for key in metadata.keys.sorted() { s += " \(key)=\(metadata[key]!)" }
        return s
    }

    static func jsonLine(timestamp: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var s = "{\"timestamp\":\(quote(timestamp)),\"level\":\(quote(level.rawValue)),\"label\":\(quote(label)),\"message\":\(quote(message)),\"metadata\":"
        appendJSON(.dictionary(metadata), to: &s)
        s += "}"
        return s
    }

    static func appendJSON(_ value: Logger.MetadataValue, to s: inout String) {
        switch value {
        case let .string(v): s += quote(v)
        case let .stringConvertible(v): s += quote(v.description)
        case let .array(items):
            s += "["
            for (i, item) in items.enumerated() { if i > 0 { s += "," }; appendJSON(item, to: &s) }
            s += "]"
        case let .dictionary(d):
            s += "{"
            for (i, key) in d.keys.sorted().enumerated() {
                if i > 0 { s += "," }
                s += quote(key) + ":"
                appendJSON(d[key]!, to: &s)
            }
            s += "}"
        }
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for u in text.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
