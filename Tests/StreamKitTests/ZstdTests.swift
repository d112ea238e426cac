import CZstd
import Testing
@testable import StreamKit
@testable import StreamKitWorkload

@Suite struct ZstdTests {
    /// Compressible but non-trivial data: workload lines.
    static func sampleData(events: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        var generator = WorkloadGenerator(seed: 7, count: events)
        _ = generator.appendLines(events, to: &bytes)
        return bytes
    }

    /// Compresses with the raw C API and *no* content size in the frame header, like a
    /// streaming producer would.
    static func compressWithoutContentSize(_ input: [UInt8]) throws -> [UInt8] {
        let cctx = try #require(ZSTD_createCCtx())
        defer { ZSTD_freeCCtx(cctx) }
        #expect(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0)) == 0)
        let bound = ZSTD_compressBound(input.count)
        var out = [UInt8](repeating: 0, count: bound)
        let written = out.withUnsafeMutableBytes { dst in
            input.withUnsafeBytes { src in
                ZSTD_compress2(cctx, dst.baseAddress, dst.count, src.baseAddress, src.count)
            }
        }
        #expect(ZSTD_isError(written) == 0)
        out.removeLast(out.count - written)
        let declared = out.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        #expect(declared == UInt64.max) // ZSTD_CONTENTSIZE_UNKNOWN
        return out
    }

    @Test func roundTripsSmallLargeAndEmpty() throws {
        let zstd = try Zstd()
        for input in [[], [42], Array("hello, hello, hello".utf8), Self.sampleData(events: 20_000)] {
            let packed = try zstd.compress(input)
            #expect(try zstd.decompress(packed) == input)
            // The same context is reused; also via the raw-buffer overloads and another level.
            let packed19 = try input.withUnsafeBytes { try zstd.compress($0, level: 19) }
            #expect(try packed19.withUnsafeBytes { try zstd.decompress($0) } == input)
        }
        let big = Self.sampleData(events: 20_000)
        #expect(try zstd.compress(big).count < big.count / 4)
    }

    @Test func decompressesFramesWithUnknownContentSize() throws {
        let zstd = try Zstd()
        let input = Self.sampleData(events: 30_000) // ~10 MB: forces several buffer growths
        let packed = try Self.compressWithoutContentSize(input)
        #expect(try zstd.decompress(packed) == input)
    }

    @Test func decompressesConcatenatedFrames() throws {
        let zstd = try Zstd()
        let a = Self.sampleData(events: 100), b = Array("second frame".utf8)
        let known = try zstd.compress(a)
        let unknown = try Self.compressWithoutContentSize(b)
        #expect(try zstd.decompress(known + unknown) == a + b)
        #expect(try zstd.decompress(known + known) == a + a)
    }

    @Test func reportsCorruptTruncatedAndOversizedInput() throws {
        let zstd = try Zstd()
        let input = Self.sampleData(events: 500)
        let packed = try zstd.compress(input)

        func expectCompressionError(_ bytes: [UInt8], maxOutputSize: Int = Int.max) {
            let error = #expect(throws: StreamKitError.self) { try zstd.decompress(bytes, maxOutputSize: maxOutputSize) }
            #expect(error?.code == .compression)
            #expect(error?.message.isEmpty == false)
        }
        expectCompressionError([])
        expectCompressionError(Array("not zstd at all".utf8))
        expectCompressionError(Array(packed.dropLast(7)))
        expectCompressionError(Array(try Self.compressWithoutContentSize(input).dropLast(7)))
        var flipped = packed
        for i in stride(from: 20, to: flipped.count, by: 17) { flipped[i] ^= 0x5A }
        expectCompressionError(flipped)
        expectCompressionError(packed, maxOutputSize: input.count - 1)
        expectCompressionError(try Self.compressWithoutContentSize(input), maxOutputSize: input.count - 1)
        // Exactly at the limit is fine, for both paths.
        #expect(try zstd.decompress(packed, maxOutputSize: input.count) == input)
        #expect(try zstd.decompress(try Self.compressWithoutContentSize(input), maxOutputSize: input.count) == input)
        // The context is still usable after errors.
        #expect(try zstd.decompress(packed) == input)
    }

    @Test func crc32MatchesKnownVectors() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([]) == 0)
        let data = Self.sampleData(events: 50)
        // Incremental == one shot, across odd split points.
        let split = data.withUnsafeBytes { raw in
            CRC32.checksum(UnsafeRawBufferPointer(rebasing: raw[13...]),
                           continuing: CRC32.checksum(UnsafeRawBufferPointer(rebasing: raw[..<13])))
        }
        #expect(split == CRC32.checksum(data))
    }
}
