import CStreamKitShims

/// Names the calling OS thread after the work it does, so that `top -H`, `perf`, `gdb` and
/// `/proc/PID/task/*/comm` show a job's subtasks (`windows[1]`), the checkpointer or a capture
/// instead of the name inherited from whichever thread started it.
///
/// Linux keeps 15 bytes of a thread's name. A longer name keeps its end when that is a subtask
/// index (`…[3]`), so the subtasks of one operator stay distinguishable: `user-activity-features[1]`
/// becomes `user-activit[1]`.
public enum ThreadName {
    /// The longest name the kernel keeps (bytes, without the terminating NUL).
    public static let limit = 15

    /// Sets the calling thread's name (shortened to ``limit`` bytes, see ``shortened(_:)``).
    public static func setCurrent(_ name: String) {
        #if os(Linux)
        _ = shortened(name).withCString { streamkit_set_thread_name($0) }
        #endif
    }

    /// The calling thread's name as the kernel keeps it.
    public static func current() -> String {
        #if os(Linux)
        var buffer = [CChar](repeating: 0, count: 32)
        guard streamkit_get_thread_name(&buffer) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        #else
        return ""
        #endif
    }

    /// `name` within ``limit`` UTF-8 bytes: a trailing `[n]` is kept and the part before it is cut,
    /// never inside a character.
    public static func shortened(_ name: String) -> String {
        let bytes = Array(name.utf8)
        guard bytes.count > limit else { return name }
        var suffix: ArraySlice<UInt8> = []
        if bytes.last == UInt8(ascii: "]"), let open = bytes.lastIndex(of: UInt8(ascii: "[")), bytes.count - open < limit {
            suffix = bytes[open...]
        }
        var head = bytes[..<(bytes.count - suffix.count)].prefix(limit - suffix.count)
        // Do not end inside a multi-byte character: drop continuation bytes and the lead byte they follow.
        if let last = head.last, last & 0x80 != 0 {
            while let b = head.last, b & 0xC0 == 0x80 { head = head.dropLast() }
            head = head.dropLast()
        }
        return String(decoding: Array(head) + Array(suffix), as: UTF8.self)
    }
}
