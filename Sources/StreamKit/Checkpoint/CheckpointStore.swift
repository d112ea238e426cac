public import Foundation

/// A directory of durable, atomically published checkpoints.
///
/// Layout under ``directory``:
///
///     chk-<id>/                 a complete checkpoint (published by an atomic rename)
///         MANIFEST.json         id, creation time, metadata, per-file sizes and CRC-32s
///         <name>.zst            each file's content, zstd-compressed
///     chk-<id>.inprogress/      a checkpoint being written (or abandoned by a crash): ignored
///     chk-<id>.deleting/        a checkpoint being removed by retention: ignored
///     CONFIRMED                 the newest confirmed checkpoint id (see ``confirm(checkpointID:)``)
///
/// ``write(checkpointID:files:metadata:)`` writes and fsyncs every file into
/// `chk-<id>.inprogress/`, writes the manifest last, fsyncs the folder, renames it to `chk-<id>/`
/// and fsyncs the parent, so after a crash a `chk-<id>/` folder is either complete or absent.
/// ``latestComplete()`` still verifies what it returns (manifest present and parseable, every file
/// present with the recorded size and checksum) and falls back to older checkpoints if the newest
/// is damaged.
///
/// The store is a value with no mutable state; it assumes a single writer per directory.
public struct CheckpointStore: Sendable {
    /// The directory holding the checkpoints (created on first write).
    public let directory: String
    /// How many complete checkpoints ``write(checkpointID:files:metadata:)`` keeps (at least 1).
    public let retain: Int
    /// The zstd level used for checkpoint files.
    public let compressionLevel: Int32

    /// Creates a store rooted at `directory`, keeping the newest `retain` checkpoints.
    /// Nothing touches the file system until the first write or read.
    public init(directory: String, retain: Int = 3, compressionLevel: Int32 = Zstd.defaultLevel) {
        precondition(retain >= 1, "CheckpointStore must retain at least one checkpoint")
        self.directory = directory
        self.retain = retain
        self.compressionLevel = compressionLevel
    }

    // MARK: Writing

    /// Durably writes checkpoint `checkpointID` and then prunes checkpoints beyond ``retain``.
    ///
    /// - Parameters:
    ///   - checkpointID: A non-negative id; ids order checkpoints (higher is newer).
    ///   - files: File name → content. Names must be non-empty, without `/` or NUL, not `.` or
    ///     `..`, and at most 200 bytes of UTF-8.
    ///   - metadata: Free-form string pairs stored in the manifest (e.g. source offsets).
    /// - Throws: `StreamKitError(.checkpoint, ...)` for invalid arguments or an id that already
    ///   exists, `.compression` if zstd fails, `.io` for file-system failures. On failure the
    ///   in-progress folder is removed (best effort) and no `chk-<id>/` folder exists — except
    ///   when the error comes from the final fsync of the parent folder or from pruning, which
    ///   run after the (already visible) rename.
    public func write(checkpointID: Int64, files: [String: [UInt8]], metadata: [String: String]) throws {
        guard checkpointID >= 0 else {
            throw StreamKitError(.checkpoint, "checkpoint id must not be negative (got \(checkpointID))")
        }
        for name in files.keys { try Self.validate(fileName: name) }

        try ensureDirectoryExists()
        let finalPath = path(for: checkpointID)
        let tempPath = finalPath + Self.inProgressSuffix
        if DurableFile.exists(finalPath) {
            throw StreamKitError(.checkpoint, "checkpoint \(checkpointID) already exists at \(finalPath)")
        }
        if DurableFile.exists(tempPath) {            // left behind by a crashed writer
            try removeTree(tempPath)
        }

        try DurableFile.makeDirectory(tempPath)
        do {
            let zstd = try Zstd()
            var entries: [CheckpointManifest.Entry] = []
            entries.reserveCapacity(files.count)
            for name in files.keys.sorted() {
                let content = files[name]!
                let compressed = try zstd.compress(content, level: compressionLevel)
                try DurableFile.createDurably(tempPath + "/" + Self.storedName(name), contents: compressed)
                entries.append(CheckpointManifest.Entry(
                    name: name, rawSize: content.count, compressedSize: compressed.count,
                    crc32: CRC32.checksum(content), compressedCRC32: CRC32.checksum(compressed)))
            }
            let manifest = CheckpointManifest(
                formatVersion: CheckpointManifest.currentVersion, id: checkpointID,
                createdAtMs: Int64((Date().timeIntervalSince1970 * 1000).rounded()),
                compression: "zstd", metadata: metadata, files: entries)
            try DurableFile.createDurably(tempPath + "/" + Self.manifestName, contents: try manifest.encoded())
            try DurableFile.syncDirectory(tempPath)
            try DurableFile.rename(tempPath, to: finalPath)
        } catch {
            try? removeTree(tempPath)
            throw error
        }
        try DurableFile.syncDirectory(directory)
        try prune(keeping: checkpointID)
    }

    // MARK: Confirmation

    /// The manifest metadata key that marks a checkpoint as a restore point only once confirmed.
    public static let confirmationKey = "confirmation"
    /// Its value: confirmed when every task of the job handled the checkpoint's completion
    /// (and so two-phase-commit sinks committed its output).
    public static let confirmationByNotification = "notified"
    static let confirmedName = "CONFIRMED"

    /// Durably records `checkpointID` as confirmed: every task handled its completion, so the
    /// output it covers was committed. Checkpoints written with ``confirmationKey`` become restore
    /// points only once confirmed (a later id confirms the earlier ones).
    public func confirm(checkpointID: Int64) throws {
        try ensureDirectoryExists()
        try DurableFile.replaceAtomically(directory + "/" + Self.confirmedName, contents: Array("\(checkpointID)\n".utf8))
        try DurableFile.syncDirectory(directory)
    }

    /// The newest confirmed checkpoint id, or nil when none was recorded.
    public func confirmedCheckpoint() throws -> Int64? {
        let path = directory + "/" + Self.confirmedName
        guard DurableFile.exists(path) else { return nil }
        let text = String(decoding: try DurableFile.readAll(path), as: UTF8.self)
        guard let id = Int64(text.filter { !$0.isWhitespace }) else {
            throw StreamKitError(.checkpoint, "\(path) does not hold a checkpoint id")
        }
        return id
    }

    /// The checkpoint a restore uses: the newest one that verifies and is confirmed (or was
    /// written without ``confirmationKey``, by a runtime that did not confirm), nil when none.
    /// A newer checkpoint that was never confirmed is skipped: the job failed between its
    /// completion and its commits, so its output may have been aborted.
    public func restorePoint() throws -> CheckpointHandle? {
        let confirmed = try confirmedCheckpoint()
        for id in try list().reversed() {
            guard let handle = try? open(checkpointID: id) else { continue }
            if handle.metadata[Self.confirmationKey] == Self.confirmationByNotification && id > (confirmed ?? -1) { continue }
            return handle
        }
        return nil
    }

    /// Removes published checkpoints newer than `checkpointID` (unconfirmed checkpoints a restore
    /// from an older one replaces).
    public func discard(newerThan checkpointID: Int64) throws {
        let doomed = try list().filter { $0 > checkpointID }
        for id in doomed {
            let deletingPath = path(for: id) + Self.deletingSuffix
            try DurableFile.rename(path(for: id), to: deletingPath)
            try removeTree(deletingPath)
        }
        if !doomed.isEmpty { try DurableFile.syncDirectory(directory) }
    }

    // MARK: Reading

    /// The ids of all published (`chk-<id>/`) checkpoints, ascending. Their content is not
    /// verified; use ``open(checkpointID:)`` or ``latestComplete()`` for that.
    /// - Throws: `StreamKitError(.io, ...)` if the directory exists but cannot be listed.
    public func list() throws -> [Int64] {
        try scan().published.sorted()
    }

    /// The newest checkpoint that verifies (manifest present and valid, every file present with
    /// the recorded size and CRC-32), or `nil` if there is none. Damaged or partial checkpoints
    /// are skipped, so a torn newest checkpoint falls back to the previous one.
    /// - Throws: `StreamKitError(.io, ...)` only if the directory cannot be listed.
    public func latestComplete() throws -> CheckpointHandle? {
        for id in try list().reversed() {
            if let handle = try? open(checkpointID: id) {
                return handle
            }
        }
        return nil
    }

    /// Opens and verifies checkpoint `checkpointID`.
    /// - Throws: `StreamKitError(.checkpoint, ...)` if it is missing, its manifest is missing or
    ///   invalid, or a file is missing, has the wrong size or fails its checksum.
    public func open(checkpointID: Int64) throws -> CheckpointHandle {
        let folder = path(for: checkpointID)
        let manifestPath = folder + "/" + Self.manifestName
        guard DurableFile.exists(manifestPath) else {
            throw StreamKitError(.checkpoint, "checkpoint \(checkpointID): no manifest at \(manifestPath)")
        }
        let manifest = try CheckpointManifest.decode(try DurableFile.readAll(manifestPath), path: manifestPath)
        guard manifest.id == checkpointID else {
            throw StreamKitError(.checkpoint, "checkpoint \(checkpointID): manifest names id \(manifest.id)")
        }
        guard manifest.formatVersion == CheckpointManifest.currentVersion, manifest.compression == "zstd" else {
            throw StreamKitError(.checkpoint,
                "checkpoint \(checkpointID): unsupported format \(manifest.formatVersion)/\(manifest.compression)")
        }
        var byName: [String: CheckpointManifest.Entry] = [:]
        for entry in manifest.files {
            try Self.validate(fileName: entry.name)
            guard byName.updateValue(entry, forKey: entry.name) == nil else {
                throw StreamKitError(.checkpoint, "checkpoint \(checkpointID): file \(entry.name) listed twice")
            }
            _ = try Self.readVerifiedCompressed(folder: folder, entry: entry, checkpointID: checkpointID)
        }
        return CheckpointHandle(id: checkpointID, path: folder, manifest: manifest, entries: byName)
    }

    // MARK: Internals

    static let manifestName = "MANIFEST.json"
    static let inProgressSuffix = ".inprogress"
    static let deletingSuffix = ".deleting"
    private static let prefix = "chk-"

    private func path(for id: Int64) -> String {
        directory + "/" + Self.prefix + String(id)
    }

    /// Data files carry a `.zst` suffix, so no user file name can collide with the manifest.
    static func storedName(_ name: String) -> String { name + ".zst" }

    private static func validate(fileName name: String) throws {
        let utf8 = name.utf8
        guard !name.isEmpty, name != ".", name != "..", utf8.count <= 200,
              !utf8.contains(UInt8(ascii: "/")), !utf8.contains(0) else {
            throw StreamKitError(.checkpoint, "invalid checkpoint file name \"\(name)\"")
        }
    }

    /// Reads a stored file and checks its size and CRC-32 against the manifest.
    static func readVerifiedCompressed(folder: String, entry: CheckpointManifest.Entry,
                                       checkpointID: Int64) throws -> [UInt8] {
        let filePath = folder + "/" + storedName(entry.name)
        guard DurableFile.exists(filePath) else {
            throw StreamKitError(.checkpoint, "checkpoint \(checkpointID): file \(entry.name) is missing")
        }
        let stored = try DurableFile.readAll(filePath)
        guard stored.count == entry.compressedSize, CRC32.checksum(stored) == entry.compressedCRC32 else {
            throw StreamKitError(.checkpoint,
                "checkpoint \(checkpointID): file \(entry.name) is damaged (size or checksum mismatch)")
        }
        return stored
    }

    private func ensureDirectoryExists() throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw StreamKitError(.io, "checkpoint directory \(directory) exists but is not a directory")
            }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StreamKitError(.io, "cannot create checkpoint directory \(directory): \(error)")
        }
        let parent = (directory as NSString).deletingLastPathComponent
        try? DurableFile.syncDirectory(parent.isEmpty ? "." : parent)
    }

    private func removeTree(_ path: String) throws {
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw StreamKitError(.io, "cannot remove \(path): \(error)")
        }
    }

    /// The checkpoint folders found in ``directory``, by state.
    private func scan() throws -> (published: [Int64], inProgress: [Int64], deleting: [Int64]) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            if !DurableFile.exists(directory) { return ([], [], []) }
            throw StreamKitError(.io, "cannot list checkpoint directory \(directory): \(error)")
        }
        var result: (published: [Int64], inProgress: [Int64], deleting: [Int64]) = ([], [], [])
        for name in names where name.hasPrefix(Self.prefix) {
            var rest = Substring(name.dropFirst(Self.prefix.count))
            var bucket = 0
            if rest.hasSuffix(Self.inProgressSuffix) {
                rest = rest.dropLast(Self.inProgressSuffix.count); bucket = 1
            } else if rest.hasSuffix(Self.deletingSuffix) {
                rest = rest.dropLast(Self.deletingSuffix.count); bucket = 2
            }
            // Only canonical decimal ids ("chk-7", not "chk-07" or "chk-+7").
            guard let id = Int64(rest), id >= 0, String(id) == rest else { continue }
            switch bucket {
            case 0: result.published.append(id)
            case 1: result.inProgress.append(id)
            default: result.deleting.append(id)
            }
        }
        return result
    }

    /// Removes published checkpoints beyond ``retain`` (never `current`), plus leftovers of
    /// interrupted writes older than `current` and interrupted deletions.
    private func prune(keeping current: Int64) throws {
        let found = try scan()
        let newestFirst = found.published.sorted(by: >)
        // Never the restore point (the newest confirmed checkpoint) nor anything newer.
        let confirmed = (try? confirmedCheckpoint()) ?? nil
        let restorePoint = confirmed.flatMap { c in newestFirst.first { $0 <= c } }
        let doomed = newestFirst.dropFirst(retain).filter { $0 != current && (restorePoint == nil || $0 < restorePoint!) }
        for id in doomed {
            // Rename first so a crash mid-removal never leaves a half-deleted `chk-<id>/`.
            let deletingPath = path(for: id) + Self.deletingSuffix
            try DurableFile.rename(path(for: id), to: deletingPath)
            try removeTree(deletingPath)
        }
        for id in found.deleting {
            try removeTree(path(for: id) + Self.deletingSuffix)
        }
        for id in found.inProgress where id < current {
            try removeTree(path(for: id) + Self.inProgressSuffix)
        }
        if !doomed.isEmpty || !found.deleting.isEmpty {
            try DurableFile.syncDirectory(directory)
        }
    }
}

/// A verified, published checkpoint returned by ``CheckpointStore``.
public struct CheckpointHandle: Sendable {
    /// The checkpoint id.
    public let id: Int64
    /// The folder holding the checkpoint's files.
    public let path: String
    /// The metadata given to ``CheckpointStore/write(checkpointID:files:metadata:)``.
    public let metadata: [String: String]
    /// When the checkpoint was written (wall clock of the writer, millisecond precision).
    public let createdAt: Date
    private let entries: [String: CheckpointManifest.Entry]

    init(id: Int64, path: String, manifest: CheckpointManifest, entries: [String: CheckpointManifest.Entry]) {
        self.id = id
        self.path = path
        self.metadata = manifest.metadata
        self.createdAt = Date(timeIntervalSince1970: Double(manifest.createdAtMs) / 1000)
        self.entries = entries
    }

    /// The names of the files in this checkpoint, sorted.
    public func list() -> [String] {
        entries.keys.sorted()
    }

    /// The uncompressed size of `file`, or `nil` if the checkpoint has no such file.
    public func size(of file: String) -> Int? {
        entries[file]?.rawSize
    }

    /// Reads, decompresses and verifies one file.
    /// - Throws: `StreamKitError(.checkpoint, ...)` if there is no such file or it fails its size
    ///   or checksum checks, `.compression` if it does not decompress, `.io` on read errors.
    public func read(file: String) throws -> [UInt8] {
        guard let entry = entries[file] else {
            throw StreamKitError(.checkpoint, "checkpoint \(id) has no file \"\(file)\"")
        }
        let stored = try CheckpointStore.readVerifiedCompressed(folder: path, entry: entry, checkpointID: id)
        let content = try Zstd().decompress(stored, maxOutputSize: entry.rawSize)
        guard content.count == entry.rawSize, CRC32.checksum(content) == entry.crc32 else {
            throw StreamKitError(.checkpoint,
                "checkpoint \(id): file \(file) does not match its recorded size/checksum after decompression")
        }
        return content
    }
}

/// The JSON manifest written last into every checkpoint folder.
struct CheckpointManifest: Codable, Sendable {
    static let currentVersion = 1

    /// One checkpoint file. `crc32` covers the uncompressed content, `compressedCRC32` the bytes
    /// on disk (so a checkpoint can be verified without decompressing it).
    struct Entry: Codable, Sendable {
        var name: String
        var rawSize: Int
        var compressedSize: Int
        var crc32: UInt32
        var compressedCRC32: UInt32
    }

    var formatVersion: Int
    var id: Int64
    var createdAtMs: Int64
    var compression: String
    var metadata: [String: String]
    var files: [Entry]

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        do {
            return Array(try encoder.encode(self))
        } catch {
            throw StreamKitError(.checkpoint, "cannot encode checkpoint manifest: \(error)")
        }
    }

    static func decode(_ bytes: [UInt8], path: String) throws -> CheckpointManifest {
        do {
            return try JSONDecoder().decode(CheckpointManifest.self, from: Data(bytes))
        } catch {
            throw StreamKitError(.checkpoint, "invalid checkpoint manifest \(path): \(error)")
        }
    }
}
