import Hummingbird

/// Bearer-token authorization of every route but the open ones (`/`, `/healthz`, `/readyz`,
/// `/openapi.json`): 401 without a token or with one the token file does not hold, 403 when a
/// `read` token calls a mutating route (any method but GET/HEAD, except feature batch reads).
/// The token is compared in constant time and never logged or echoed.
struct BearerAuthMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let tokens: AccessTokens

    static let openPaths: Set<String> = ["/", "/index.html", "/healthz", "/readyz", "/openapi.json", "/api/v1/openapi.json"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if Self.openPaths.contains(path) { return try await next(request, context) }
        guard let header = request.headers[.authorization], header.utf8.count > 7,
              header.prefix(7).lowercased() == "bearer " else {
            return Self.unauthorized("a bearer token is required (Authorization: Bearer <token>)")
        }
        guard let role = tokens.role(of: header.utf8.dropFirst(7)) else {
            return Self.unauthorized("the bearer token is not valid")
        }
        if role != .admin, Self.isMutating(request.method, path: path) {
            return APIErrorMiddleware.response(status: 403, code: "forbidden", message: "a read token cannot \(request.method.rawValue) \(path)")
        }
        return try await next(request, context)
    }

    static func isMutating(_ method: HTTPRequest.Method, path: String) -> Bool {
        switch method {
        case .get, .head, .options: return false
        case .post where path.hasPrefix("/api/v1/features/") && path.hasSuffix("/batch-get"): return false
        default: return true
        }
    }

    static func unauthorized(_ message: String) -> Response {
        APIErrorMiddleware.response(status: 401, code: "unauthorized", message: message, headers: [.wwwAuthenticate: "Bearer"])
    }
}
