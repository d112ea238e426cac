import StreamKit
public import StreamKitKafka

/// The schema registry of a capture: every version of every captured table's column list, kept in
/// the Kafka topic `<prefix>.__schemas` (key `schema.table`, one record per version; compact it
/// or keep it forever). Change events carry their version in `source.streamkit_schema_version`,
/// so a consumer decodes an event with the version it names. The capture reads the topic when it
/// starts, so versions keep counting across restarts.
public struct SchemaHistory: Sendable {
    public static func topic(prefix: String) -> String { prefix + ".__schemas" }

    /// Every version in the registry topic, in publication order (empty if the topic does not exist).
    public static func read(prefix: String, kafka: KafkaConfiguration) throws -> [TableSchemaVersion] {
        let admin = try KafkaAdmin(configuration: kafka)
        guard try admin.describe(topic: topic(prefix: prefix)) != nil else { return [] }
        // One partition: offset order is publication order.
        return try KafkaTopicReader.readAll(topic: topic(prefix: prefix), configuration: kafka)
            .compactMap { $0.value.flatMap(TableSchemaVersion.parse) }
    }
}
