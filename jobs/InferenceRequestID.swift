public import StreamKit
public import StreamKitRedis

/// The identity of an inference request: the same on every replay of the same features, so a
/// consumer drops repeats (after a crash and restore the job re-sends what came after its
/// checkpoint). It is derived from what the request is *about* — the feature view (name and
/// version), the entity, the event time of the features (a window's end − 1), and the model
/// version — never from when or how often it was sent.
///
/// The id is 32 lowercase hex digits: two 64-bit FNV-1a hashes (different offset bases, each
/// finished with SplitMix64's mixer) over the length-prefixed fields, so no two field tuples
/// share an encoding. It travels in the Kafka header ``header`` and as `request_id` in the body.
///
/// ```swift
/// let id = InferenceRequestID(view: view, entity: "42", eventTime: 1_700_000_059_999, modelVersion: "7")
/// id.hex   // "9c0f…" (32 characters)
/// ```
public struct InferenceRequestID: Sendable, Hashable {
    /// The Kafka header carrying the id.
    public static let header = "streamkit.request.id"
    /// The JSON body field carrying the id.
    public static let bodyField = "request_id"

    public let high: UInt64
    public let low: UInt64

    public init(view: FeatureView, entity: String, eventTime: EventTime, modelVersion: String) {
        var a = Hasher64(basis: 0xCBF2_9CE4_8422_2325), b = Hasher64(basis: 0x6C62_272E_07BB_0142)
        func field(_ s: String) { var s = s; s.withUTF8 { a.bytes($0); b.bytes($0) } }
        field(view.name)
        a.int(Int64(view.version)); b.int(Int64(view.version))
        field(entity)
        a.int(eventTime); b.int(eventTime)
        field(modelVersion)
        high = a.finish(); low = b.finish()
    }

    /// 32 lowercase hex digits.
    public var hex: String { String(decoding: hexBytes, as: UTF8.self) }

    /// The hex digits as UTF-8 bytes (a header value).
    public var hexBytes: [UInt8] {
        let digits: StaticString = "0123456789abcdef"
        return [UInt8](unsafeUninitializedCapacity: 32) { buffer, count in
            digits.withUTF8Buffer { d in
                for i in 0..<16 { buffer[i] = d[Int((high >> (60 - 4 * UInt64(i))) & 0xF)] }
                for i in 0..<16 { buffer[16 + i] = d[Int((low >> (60 - 4 * UInt64(i))) & 0xF)] }
            }
            count = 32
        }
    }

    /// FNV-1a over length-prefixed fields, finished by SplitMix64's mixer.
    struct Hasher64 {
        var h: UInt64
        init(basis: UInt64) { h = basis }
        mutating func byte(_ x: UInt8) { h = (h ^ UInt64(x)) &* 0x0000_0100_0000_01B3 }
        mutating func int(_ v: Int64) { var u = UInt64(bitPattern: v); for _ in 0..<8 { byte(UInt8(u & 0xFF)); u >>= 8 } }
        mutating func bytes(_ b: UnsafeBufferPointer<UInt8>) { int(Int64(b.count)); for x in b { byte(x) } }
        func finish() -> UInt64 {
            var z = h
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
