import Foundation
import Hummingbird
import Logging

/// Turns every error of a route (or of routing: unknown path, wrong method, body too large) into
/// `{"error": {"code", "message"}}` with its status. Anything unexpected is a 500 whose message
/// says nothing internal; it is logged (without request headers, which carry tokens).
struct APIErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as ServerError {
            return Self.response(status: e.status, code: e.code.rawValue, message: e.message)
        } catch let e as HTTPError {
            let (code, message): (String, String) = switch e.status.code {
            case 404: ("not_found", "no route \(request.method.rawValue) \(request.uri.path)")
            case 405: ("method_not_allowed", "\(request.method.rawValue) is not allowed on \(request.uri.path)")
            case 413: ("payload_too_large", "the body is larger than 1 MiB")
            case 400..<500: ("invalid_request", e.body ?? e.status.reasonPhrase)
            default: ("internal", e.body ?? e.status.reasonPhrase)
            }
            return Self.response(status: e.status.code, code: code, message: message)
        } catch {
            logger.error("request failed", metadata: ["http.method": "\(request.method.rawValue)", "http.path": "\(request.uri.path)",
                                                      "error.message": "\(error)"])
            return Self.response(status: 500, code: "internal", message: "internal error (see the server log)")
        }
    }

    static func response(status: Int, code: String, message: String, headers: HTTPFields = [:]) -> Response {
        var w = JSONText()
        w.raw("{\"error\":{\"code\":"); w.string(code); w.raw(",\"message\":"); w.string(message); w.raw("}}")
        var h = headers
        h[.contentType] = "application/json"
        return Response(status: HTTPResponse.Status(code: status), headers: h, body: ResponseBody(byteBuffer: ByteBuffer(bytes: w.bytes)))
    }
}

/// A few JSON bytes by hand (error bodies), with string escaping.
struct JSONText {
    var bytes: [UInt8] = []
    mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }
    mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): bytes.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\\"): bytes.append(contentsOf: "\\\\".utf8)
            case 0..<0x20: bytes.append(contentsOf: String(format: "\\u%04x", b).utf8)
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
