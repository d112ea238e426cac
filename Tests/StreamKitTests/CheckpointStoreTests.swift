import Foundation
import Testing
import StreamKit

@Suite struct CheckpointStoreTests {
    /// A fresh directory under the system temp dir, removed after `body`.
    func withTempDirectory(_ body: (String) throws -> Void) throws {
        let path = NSTemporaryDirectory() + "streamkit-chk-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: path) }
        try body(path)
    }

    func files(_ seed: Int) -> [String: [UInt8]] {
        var state = ByteWriter()
        // Deterministic content (dictionary iteration order can differ between instances).
        for user in 0 ..< 2_000 {
            state.writeString("user-\(user)")
            state.write(Int64(user * seed))
        }
        return ["window-state": state.bytes, "offsets": Array("partition-0:\(seed)".utf8), "empty": []]
    }

    func flipByte(in path: String, at offset: Int) throws {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[offset] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test func writesAndReadsBack() throws {
        try withTempDirectory { dir in
            let store = CheckpointStore(directory: dir + "/nested/checkpoints")
            #expect(try store.latestComplete() == nil)
            #expect(try store.list() == [])

            let before = Date()
            try store.write(checkpointID: 1, files: files(1), metadata: ["source.offset": "1234", "job": "hop"])
            let handle = try #require(try store.latestComplete())
            #expect(handle.id == 1)
            #expect(handle.metadata == ["source.offset": "1234", "job": "hop"])
            #expect(handle.list() == ["empty", "offsets", "window-state"])
            #expect(abs(handle.createdAt.timeIntervalSince(before)) < 60)
            for (name, content) in files(1) {
                #expect(try handle.read(file: name) == content)
                #expect(handle.size(of: name) == content.count)
            }
            let missing = #expect(throws: StreamKitError.self) { try handle.read(file: "nope") }
            #expect(missing?.code == .checkpoint)

            // Published layout: compressed files + manifest, no leftovers.
            let entries = try FileManager.default.contentsOfDirectory(atPath: dir + "/nested/checkpoints")
            #expect(entries == ["chk-1"])
            let inside = try FileManager.default.contentsOfDirectory(atPath: handle.path).sorted()
            #expect(inside == ["MANIFEST.json", "empty.zst", "offsets.zst", "window-state.zst"])
            let stored = try FileManager.default.attributesOfItem(atPath: handle.path + "/window-state.zst")[.size] as! Int
            #expect(stored < files(1)["window-state"]!.count)

            // Ids are unique.
            let duplicate = #expect(throws: StreamKitError.self) {
                try store.write(checkpointID: 1, files: [:], metadata: [:])
            }
            #expect(duplicate?.code == .checkpoint)
        }
    }

    @Test func corruptCheckpointIsSkipped() throws {
        try withTempDirectory { dir in
            let store = CheckpointStore(directory: dir)
            try store.write(checkpointID: 1, files: files(1), metadata: ["n": "1"])
            try store.write(checkpointID: 2, files: files(2), metadata: ["n": "2"])
            #expect(try store.latestComplete()?.id == 2)

            // A flipped byte in one file of the newest checkpoint: fall back to checkpoint 1.
            try flipByte(in: dir + "/chk-2/window-state.zst", at: 40)
            let handle = try #require(try store.latestComplete())
            #expect(handle.id == 1)
            #expect(handle.metadata == ["n": "1"])
            #expect(try handle.read(file: "window-state") == files(1)["window-state"])
            let error = #expect(throws: StreamKitError.self) { try store.open(checkpointID: 2) }
            #expect(error?.code == .checkpoint)

            // Damage discovered only at read time (after open) is reported, not returned.
            let h1 = try store.open(checkpointID: 1)
            try flipByte(in: dir + "/chk-1/offsets.zst", at: 5)
            #expect(throws: StreamKitError.self) { try h1.read(file: "offsets") }
            #expect(try store.latestComplete() == nil)
        }
    }

    @Test func missingManifestOrFileIsSkipped() throws {
        try withTempDirectory { dir in
            let store = CheckpointStore(directory: dir)
            try store.write(checkpointID: 5, files: files(5), metadata: [:])
            try store.write(checkpointID: 6, files: files(6), metadata: [:])
            try store.write(checkpointID: 7, files: files(7), metadata: [:])
            try FileManager.default.removeItem(atPath: dir + "/chk-7/MANIFEST.json")
            try FileManager.default.removeItem(atPath: dir + "/chk-6/offsets.zst")
            #expect(try store.latestComplete()?.id == 5)
            // A truncated manifest is as good as none.
            try Data("{\"id\":5,".utf8).write(to: URL(fileURLWithPath: dir + "/chk-5/MANIFEST.json"))
            #expect(try store.latestComplete() == nil)
        }
    }

    @Test func inProgressAndForeignEntriesAreIgnored() throws {
        try withTempDirectory { dir in
            let store = CheckpointStore(directory: dir)
            try store.write(checkpointID: 3, files: files(3), metadata: [:])
            // A crashed writer's folder (even with a manifest), and unrelated entries.
            try FileManager.default.copyItem(atPath: dir + "/chk-3", toPath: dir + "/chk-9.inprogress")
            for junk in ["chk-07", "chk-x", "notes.txt", "chk-10.tmp"] {
                try FileManager.default.createDirectory(atPath: dir + "/" + junk, withIntermediateDirectories: false)
            }
            #expect(try store.list() == [3])
            #expect(try store.latestComplete()?.id == 3)

            // The next write of that id replaces the stale in-progress folder.
            try store.write(checkpointID: 9, files: ["a": [1, 2, 3]], metadata: [:])
            #expect(try store.latestComplete()?.id == 9)
            #expect(try store.latestComplete()?.read(file: "a") == [1, 2, 3])
            #expect(!FileManager.default.fileExists(atPath: dir + "/chk-9.inprogress"))
        }
    }

    @Test func retainsNewestCheckpoints() throws {
        try withTempDirectory { dir in
            let store = CheckpointStore(directory: dir, retain: 3)
            try FileManager.default.createDirectory(atPath: dir + "/chk-1.inprogress", withIntermediateDirectories: true)
            for id: Int64 in 1 ... 6 {
                try store.write(checkpointID: id * 10, files: ["s": [UInt8(id)]], metadata: ["id": "\(id)"])
                #expect(try store.list().count == min(Int(id), 3))
            }
            #expect(try store.list() == [40, 50, 60])
            let entries = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
            #expect(entries == ["chk-40", "chk-50", "chk-60"])  // stale in-progress folder cleaned too
            for id: Int64 in [40, 50, 60] {
                #expect(try store.open(checkpointID: id).read(file: "s") == [UInt8(id / 10)])
            }
        }
    }

    @Test func rejectsInvalidArguments() throws {
        try withTempDirectory { dir in
            let store = CheckpointStore(directory: dir)
            for bad in ["", ".", "..", "a/b", "x\u{0}y", String(repeating: "n", count: 201)] {
                let error = #expect(throws: StreamKitError.self) {
                    try store.write(checkpointID: 1, files: [bad: [1]], metadata: [:])
                }
                #expect(error?.code == .checkpoint)
            }
            #expect(throws: StreamKitError.self) { try store.write(checkpointID: -1, files: [:], metadata: [:]) }
            #expect(try store.list() == [])
            // A file literally named like the manifest cannot clobber it.
            try store.write(checkpointID: 1, files: ["MANIFEST.json": [1]], metadata: [:])
            #expect(try store.latestComplete()?.read(file: "MANIFEST.json") == [1])
        }
    }
}
