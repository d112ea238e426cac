import Foundation
import StreamKit

/// A capture's durable state as a JSON file, replaced atomically (write, fsync, rename), so a
/// crash leaves the old or the new state, never a torn one.
public enum CaptureStateFile {
    /// The state in `path`; nil when missing or unreadable (cold path: once per start).
    public static func load<State: Decodable>(_ type: State.Type, from path: String) -> State? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(State.self, from: data)
    }

    /// Writes `state` to `path`.
    public static func save<State: Encodable>(_ state: State, to path: String) throws {
        do {
            try DurableFile.replaceAtomically(path, contents: Array(try JSONEncoder().encode(state)))
        } catch {
            throw CaptureError(.stateFile, "cannot write the capture state to \(path): \(error.captureMessage) — check the directory exists and is writable")
        }
    }
}
