import StreamKit
import StreamKitJSON
import StreamKitRedis

/// Feature reads over HTTP for model servers (Feast's get-online-features in spirit): one entity
/// or a batch of a view, straight from the Redis feature store in one round trip (one script reads the pointers and the hashes atomically),
/// written with `JSONWriter` (no Foundation JSON on this path).
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

    static func checkEntity(_ entity: String, field: String) throws {
        guard !entity.isEmpty, entity.utf8.count <= 256, !entity.contains(":") else {
            throw ServerError.invalid(field, "an entity key must be 1–256 characters without ':'")
        }
    }

    /// `{"view","entity","found":true,"version","event_time","age_ms","features":{…}}`; nil when missing.
    func one(view: String, entity: String, namespace: String) async throws -> [UInt8]? {
        try Self.checkView(view)
        try Self.checkEntity(entity, field: "entity")
        let vectors = try await read(view: view, entities: [entity], namespace: namespace)
        guard let v = vectors[0] else { return nil }
        var w = JSONWriter(capacity: 512)
        w.beginObject()
        w.field("view", view)
        Self.write(entity: entity, vector: v, into: &w)
        w.endObject()
        return w.bytes
    }

    /// `{"view","entities":[{"entity","found",…},…]}` in the order asked.
    func batch(view: String, entities: [String], namespace: String) async throws -> [UInt8] {
        try Self.checkView(view)
        guard !entities.isEmpty else { throw ServerError.invalid("entities", "must list at least one entity") }
        guard entities.count <= Self.maxEntities else { throw ServerError.invalid("entities", "at most \(Self.maxEntities) entities per request") }
        for (i, e) in entities.enumerated() { try Self.checkEntity(e, field: "entities[\(i)]") }
        let vectors = try await read(view: view, entities: entities, namespace: namespace)
        var w = JSONWriter(capacity: 256 + entities.count * 160)
        w.beginObject()
        w.field("view", view)
        w.key("entities"); w.beginArray()
        for (entity, vector) in zip(entities, vectors) {
            w.beginObject()
            if let v = vector { Self.write(entity: entity, vector: v, into: &w) } else { w.field("entity", entity); w.field("found", false) }
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.bytes
    }

    private func read(view: String, entities: [String], namespace: String) async throws -> [FeatureVector?] {
        do {
            return try await client.getMany(viewNamed: view, namespace: namespace, entities: entities)
        } catch {
            throw ServerError(.upstream, "the feature store did not answer: \(LogRedaction.connectionString("\(error)"))")
        }
    }

    private static func write(entity: String, vector v: FeatureVector, into w: inout JSONWriter) {
        w.field("entity", entity)
        w.field("found", true)
        w.field("version", v.version)
        w.field("event_time", v.eventTime)
        w.field("age_ms", v.ageMillis)
        w.key("features"); v.writeFeatures(into: &w)
    }
}
