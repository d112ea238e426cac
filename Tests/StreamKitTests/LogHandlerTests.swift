import Foundation
import Logging
import Testing
import StreamKit
import StreamKitObservability

/// ``StreamKitLogHandler``: one line per message, as text or one JSON object.
struct LogHandlerTests {
    /// Logs through a handler writing into a pipe and returns what it wrote.
    func capture(_ format: LogFormat, level: Logger.Level = .info, _ body: (Logger) -> Void) throws -> String {
        let pipe = Pipe()
        let fd = pipe.fileHandleForWriting.fileDescriptor
        let logger = Logger(label: "test.handler") { label in StreamKitLogHandler(label: label, level: level, format: format, fileDescriptor: fd) }
        body(logger)
        try pipe.fileHandleForWriting.close()
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    @Test func jsonLinesCarryTimestampLevelLabelMessageAndMetadata() throws {
        let out = try capture(.json) { logger in
            var l = logger
            l[metadataKey: LogMetadataKey.job] = "pricing"
            l.info("job \"started\"\nnow", metadata: ["n": "3", "list": ["a", "b"]])
            l.debug("not shown at info")
        }
        let lines = out.split(separator: "\n")
        #expect(lines.count == 1, "\(out)")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(o["level"] as? String == "info")
        #expect(o["label"] as? String == "test.handler")
        #expect(o["message"] as? String == "job \"started\"\nnow")
        #expect((o["timestamp"] as? String)?.hasSuffix("Z") == true)
        let metadata = try #require(o["metadata"] as? [String: Any])
        #expect(metadata[LogMetadataKey.job] as? String == "pricing")
        #expect(metadata["n"] as? String == "3")
        #expect(metadata["list"] as? [String] == ["a", "b"])
    }

    @Test func textLinesAreOneLineEach() throws {
        let out = try capture(.text, level: .trace) { logger in
            logger.trace("a", metadata: ["k": "v"])
            logger.warning("b")
        }
        let lines = out.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0].contains("trace test.handler: a k=v"), "\(lines[0])")
        #expect(lines[1].contains("warning test.handler: b"), "\(lines[1])")
    }
}
