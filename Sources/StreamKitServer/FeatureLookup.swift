import StreamKit
import StreamKitJSON
import StreamKitRedis

/// Feature reads over HTTP for model servers (Feast's get-online-features in spirit): one entity
/// or a batch of a view, straight from the Redis feature store in one round trip (one transaction reads the pointers and the hashes
/// atomically; see `FeatureClient.lookupJSONBytes`),
/// rendered from the reply's bytes with `JSONWriter` (no Foundation JSON, no value per feature).
struct FeatureLookup: Sendable {
    let client: FeatureClient
    static let maxEntities = 1000

    static func checkView(_ view: String) throws {
        guard !view.isEmpty, view.utf8.count <= 128,
              view.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == ".") }) else {
            throw ServerError.invalid("view", "must be 1–128 characters of letters, digits, '.', '_' and '-'")
        }
    }

    /// The Redis key namespace of the view (`?namespace=`, default `feature`).
    static func namespace(_ value: String?) throws -> String {
        guard let value else { return "feature" }
        guard !value.isEmpty, value.utf8.count <= 64, value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
            throw ServerError.invalid("namespace", "must be 1–64 characters of letters, digits, '_' and '-'")
        }
        return value
    }

    static func checkEntity(_ entity: String, field: @autoclosure () -> String) throws {
        // Bytes, not `String.contains` (Foundation's substring search: a tenth of a 100-entity request).
        guard !entity.isEmpty, entity.utf8.count <= 256, !entity.utf8.contains(UInt8(ascii: ":")) else {
            throw ServerError.invalid(field(), "an entity key must be 1–256 characters without ':'")
        }
    }

    /// `{"view","entity","found":true,"version","event_time","age_ms","features":{…}}`; nil when missing.
    func one(view: String, entity: String, namespace: String) async throws -> [UInt8]? {
        try Self.checkView(view)
        try Self.checkEntity(entity, field: "entity")
        return try await upstream { try await client.lookupOneJSONBytes(viewNamed: view, namespace: namespace, entity: entity) }
    }

    /// `{"view","entities":[{"entity","found",…},…]}` in the order asked.
    func batch(view: String, entities: [String], namespace: String) async throws -> [UInt8] {
        try Self.checkView(view)
        guard !entities.isEmpty else { throw ServerError.invalid("entities", "must list at least one entity") }
        guard entities.count <= Self.maxEntities else { throw ServerError.invalid("entities", "at most \(Self.maxEntities) entities per request") }
        for (i, e) in entities.enumerated() { try Self.checkEntity(e, field: "entities[\(i)]") }
        return try await upstream { try await client.lookupJSONBytes(viewNamed: view, namespace: namespace, entities: entities) }
    }

    private func upstream<T>(_ read: () async throws -> T) async throws -> T {
        do {
            return try await read()
        } catch {
            throw ServerError(.upstream, "the feature store did not answer: \(LogRedaction.connectionString("\(error)"))")
        }
    }
}
