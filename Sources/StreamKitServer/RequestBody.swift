import Foundation
import Hummingbird
import StreamKitJSON

/// Request bodies and JSON responses of the control routes (cold paths: a few calls a second,
/// so Foundation's coders are fine here; feature lookups read theirs with StreamKit's decoder and
/// write their JSON with `JSONWriter`).
enum RequestBody {
    static let limit = 1 << 20

    /// The body decoded as `T`; a decoding failure is a 400 naming the field.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        let buffer = try await request.body.collect(upTo: limit)
        guard buffer.readableBytes > 0 else { throw ServerError.invalid("body", "a JSON object is required") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let e as DecodingError {
            throw Self.error(e)
        }
    }

    /// Like ``decode(_:from:)`` for hot routes (feature batch-get): StreamKit's tape decoder, no
    /// Foundation on the success path; a body it refuses is decoded again by Foundation's
    /// `JSONDecoder` for the 400's field name.
    static func decodeFast<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        let buffer = try await request.body.collect(upTo: limit)
        guard buffer.readableBytes > 0 else { throw ServerError.invalid("body", "a JSON object is required") }
        let decoded: T? = buffer.readableBytesView.withContiguousStorageIfAvailable { bytes in
            try? FastJSONDecoder().decode(T.self, from: UnsafeRawBufferPointer(bytes))
        } ?? nil
        if let decoded { return decoded }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let e as DecodingError {
            throw Self.error(e)
        }
    }

    /// The body decoded as `T`, or nil when the request has no body (optional bodies).
    static func decodeIfPresent<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T? {
        let buffer = try await request.body.collect(upTo: limit)
        guard buffer.readableBytes > 0 else { return nil }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let e as DecodingError {
            throw Self.error(e)
        }
    }

    static func error(_ e: DecodingError) -> ServerError {
        func path(_ keys: [any CodingKey]) -> String {
            var s = ""
            for k in keys {
                if let i = k.intValue { s += "[\(i)]" } else { s += (s.isEmpty ? "" : ".") + k.stringValue }
            }
            return s.isEmpty ? "body" : s
        }
        switch e {
        case let .keyNotFound(key, ctx): return .invalid(path(ctx.codingPath + [key]), "is required")
        case let .typeMismatch(type, ctx): return .invalid(path(ctx.codingPath), "must be \(Self.jsonType(type))")
        case let .valueNotFound(type, ctx): return .invalid(path(ctx.codingPath), "must be \(Self.jsonType(type)), not null")
        case let .dataCorrupted(ctx):
            return ctx.codingPath.isEmpty ? .invalid("body", "is not valid JSON") : .invalid(path(ctx.codingPath), "is invalid")
        @unknown default: return .invalid("body", "is invalid")
        }
    }

    static func jsonType(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default:
            "\(type)".hasPrefix("Array") ? "an array" : "an object"
        }
    }
}

/// A JSON response of an `Encodable` value.
struct JSONResponse<Body: Encodable & Sendable>: ResponseGenerator {
    var status: HTTPResponse.Status = .ok
    var body: Body

    init(_ body: Body, status: HTTPResponse.Status = .ok) { self.body = body; self.status = status }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try JSONEncoder().encode(body)
        return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Raw JSON bytes as a response.
struct RawJSONResponse: ResponseGenerator {
    var bytes: [UInt8]
    var status: HTTPResponse.Status = .ok
    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
