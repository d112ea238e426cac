import Foundation

/// Files shipped with the server: the OpenAPI document (`openapi.json`, kept in the repository
/// next to this file) and the status page (`status.html`: plain HTML + JS, nothing fetched from
/// outside).
enum ServerResources {
    static let openAPIDocument: [UInt8] = load("openapi", "json")
    static let statusPage: [UInt8] = load("status", "html")

    private static func load(_ name: String, _ ext: String) -> [UInt8] {
        guard let url = Bundle.module.url(forResource: name, withExtension: ext), let data = try? Data(contentsOf: url) else {
            return Array("resource \(name).\(ext) is missing from the build".utf8)
        }
        return Array(data)
    }
}
