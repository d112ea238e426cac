internal import CZstd

/// A zstd compressor/decompressor that owns one compression and one decompression context.
///
/// The contexts are created once in the throwing initializer, reused by every call (which
/// avoids re-allocating zstd's internal tables) and released in `deinit`.
///
/// A `Zstd` value is **not** thread-safe: use one instance per task/thread. It is
/// deliberately not `Sendable`.
///
/// ```swift
/// let zstd = try Zstd()
/// let packed = try zstd.compress(bytes)
/// let unpacked = try zstd.decompress(packed)
/// ```
public final class Zstd {
    private let cctx: OpaquePointer
    private let dctx: OpaquePointer

    /// The compression levels accepted by zstd on this system (negative levels are the
    /// "fast" modes). Levels outside this range are clamped by zstd.
    public static var levelRange: ClosedRange<Int32> {
        Int32(ZSTD_minCLevel())...Int32(ZSTD_maxCLevel())
    }

    /// The default compression level (3), a good speed/ratio trade-off for state snapshots.
    public static let defaultLevel: Int32 = 3

    /// Creates the compression and decompression contexts.
    /// - Throws: `StreamKitError(.compression, ...)` if zstd cannot allocate a context.
    public init() throws {
        guard let c = ZSTD_createCCtx() else {
            throw StreamKitError(.compression, "zstd: cannot allocate a compression context")
        }
        guard let d = ZSTD_createDCtx() else {
            ZSTD_freeCCtx(c)
            throw StreamKitError(.compression, "zstd: cannot allocate a decompression context")
        }
        cctx = c
        dctx = d
    }

    deinit {
        ZSTD_freeCCtx(cctx)
        ZSTD_freeDCtx(dctx)
    }

    // MARK: Compression

    /// Compresses `bytes` into a single zstd frame (with the content size recorded in the
    /// frame header).
    /// - Parameters:
    ///   - bytes: The data to compress (may be empty).
    ///   - level: The zstd compression level; defaults to 3. Out-of-range levels are clamped.
    /// - Returns: The compressed frame.
    /// - Throws: `StreamKitError(.compression, ...)` carrying zstd's error name.
    public func compress(_ bytes: UnsafeRawBufferPointer, level: Int32 = Zstd.defaultLevel) throws -> [UInt8] {
        let bound = ZSTD_compressBound(bytes.count)
        try Zstd.check(bound, "compressBound")
        var out = try [UInt8](unsafeUninitializedCapacity: bound) { dst, count in
            count = 0
            let written = ZSTD_compressCCtx(cctx, dst.baseAddress, dst.count,
                                            bytes.baseAddress, bytes.count, level)
            try Zstd.check(written, "compress")
            count = written
        }
        // The worst-case bound can be far larger than the result (state is usually very
        // compressible); don't keep megabytes of dead capacity alive in a long-lived snapshot.
        if out.capacity - out.count > 64 * 1024 && out.count < out.capacity / 2 {
            out = Zstd.exactCopy(out)
        }
        return out
    }

    /// Compresses `bytes` into a single zstd frame. See the `UnsafeRawBufferPointer` overload.
    public func compress(_ bytes: [UInt8], level: Int32 = Zstd.defaultLevel) throws -> [UInt8] {
        try bytes.withUnsafeBytes { try compress($0, level: level) }
    }

    // MARK: Decompression

    /// Decompresses one or more concatenated zstd frames.
    ///
    /// A single frame whose header records its content size is decoded in one shot into an
    /// exactly sized buffer. Anything else — frames written by a streaming compressor with
    /// unknown content size, several concatenated frames — is decoded by streaming into a
    /// growing buffer.
    ///
    /// - Parameters:
    ///   - bytes: The compressed data.
    ///   - maxOutputSize: Upper bound on the decompressed size; exceeding it throws instead of
    ///     allocating without limit (a guard against corrupt or hostile input).
    /// - Returns: The decompressed bytes.
    /// - Throws: `StreamKitError(.compression, ...)` for corrupt/truncated input (message from
    ///   `ZSTD_getErrorName`) or when the output would exceed `maxOutputSize`.
    public func decompress(_ bytes: UnsafeRawBufferPointer, maxOutputSize: Int = Int.max) throws -> [UInt8] {
        precondition(maxOutputSize >= 0, "maxOutputSize must not be negative")
        guard !bytes.isEmpty else {
            throw StreamKitError(.compression, "zstd decompress: empty input is not a zstd frame")
        }
        let declared = ZSTD_getFrameContentSize(bytes.baseAddress, bytes.count)
        if declared == Zstd.contentSizeError {
            throw StreamKitError(.compression, "zstd decompress: input does not start with a zstd frame")
        }
        var sizeHint: Int?
        if declared != Zstd.contentSizeUnknown {
            guard declared <= UInt64(maxOutputSize) else {
                throw StreamKitError(.compression,
                    "zstd decompress: frame declares \(declared) bytes, more than the limit of \(maxOutputSize)")
            }
            let size = Int(declared)
            let frameLength = ZSTD_findFrameCompressedSize(bytes.baseAddress, bytes.count)
            try Zstd.check(frameLength, "decompress")
            if frameLength == bytes.count {
                return try decompressOneShot(bytes, size: size)
            }
            sizeHint = size
        }
        return try decompressStreaming(bytes, sizeHint: sizeHint, maxOutputSize: maxOutputSize)
    }

    /// Decompresses one or more concatenated zstd frames. See the
    /// `UnsafeRawBufferPointer` overload.
    public func decompress(_ bytes: [UInt8], maxOutputSize: Int = Int.max) throws -> [UInt8] {
        try bytes.withUnsafeBytes { try decompress($0, maxOutputSize: maxOutputSize) }
    }

    private func decompressOneShot(_ src: UnsafeRawBufferPointer, size: Int) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: size) { dst, count in
            count = 0
            let produced = ZSTD_decompressDCtx(dctx, dst.baseAddress, size, src.baseAddress, src.count)
            try Zstd.check(produced, "decompress")
            guard produced == size else {
                throw StreamKitError(.compression,
                    "zstd decompress: frame declared \(size) bytes but produced \(produced)")
            }
            count = produced
        }
    }

    private func decompressStreaming(_ src: UnsafeRawBufferPointer, sizeHint: Int?,
                                     maxOutputSize: Int) throws -> [UInt8] {
        try Zstd.check(ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only), "decompress")
        // One byte of head-room beyond the limit lets us tell "exactly at the limit" from "over it".
        let hardCap = maxOutputSize == Int.max ? Int.max : maxOutputSize + 1
        let blockSize = ZSTD_DStreamOutSize()
        var initial = sizeHint ?? max(src.count.multipliedReportingOverflow(by: 4).partialValue, blockSize)
        initial = min(max(initial, 1), hardCap)

        var out = [UInt8](repeating: 0, count: initial)
        var produced = 0
        var input = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: 0)
        while true {
            if produced == out.count {
                guard out.count < hardCap else { break }
                let grown = min(max(out.count.multipliedReportingOverflow(by: 2).partialValue, blockSize), hardCap)
                out.append(contentsOf: repeatElement(0, count: grown - out.count))
            }
            let remainingHint = out.withUnsafeMutableBytes { dst -> Int in
                var output = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: produced)
                let r = ZSTD_decompressStream(dctx, &output, &input)
                produced = output.pos
                return r
            }
            try Zstd.check(remainingHint, "decompress")
            let inputDone = input.pos == input.size
            if remainingHint == 0 && inputDone { break }            // last frame complete
            if inputDone && produced < out.count {                  // decoder wants more input
                throw StreamKitError(.compression, "zstd decompress: truncated input (frame incomplete)")
            }
        }
        if produced > maxOutputSize {
            throw StreamKitError(.compression,
                "zstd decompress: output exceeds the limit of \(maxOutputSize) bytes")
        }
        out.removeLast(out.count - produced)
        if out.capacity - out.count > 64 * 1024 && out.count < out.capacity / 2 {
            out = Zstd.exactCopy(out)
        }
        return out
    }

    // MARK: Helpers

    /// `ZSTD_CONTENTSIZE_UNKNOWN` (a macro that does not import into Swift).
    private static let contentSizeUnknown: UInt64 = UInt64.max
    /// `ZSTD_CONTENTSIZE_ERROR`.
    private static let contentSizeError: UInt64 = UInt64.max - 1

    /// Turns a zstd status code into a thrown `StreamKitError` if it denotes an error.
    private static func check(_ code: Int, _ operation: String) throws {
        if ZSTD_isError(code) != 0 {
            throw StreamKitError(.compression, "zstd \(operation): \(String(cString: ZSTD_getErrorName(code)))")
        }
    }

    /// Copies `bytes` into a fresh array whose capacity matches its count.
    private static func exactCopy(_ bytes: [UInt8]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: bytes.count) { dst, count in
            _ = dst.initialize(from: bytes)
            count = bytes.count
        }
    }
}
