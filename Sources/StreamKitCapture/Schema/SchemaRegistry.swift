import StreamKit
public import StreamKitKafka

/// The versions a running capture knows: a new version whenever a table's column list changes,
/// published to ``SchemaHistory``'s topic (and acknowledged) before any event that carries it.
public struct SchemaRegistry {
    public let prefix: String
    private var versions: [String: (columns: [CaptureColumn], version: Int)] = [:]

    public init(prefix: String) { self.prefix = prefix }

    /// Creates the registry topic (one partition) and restores the versions earlier runs published.
    public mutating func load(kafka: KafkaConfiguration) throws {
        let admin = try KafkaAdmin(configuration: kafka)
        try admin.createTopics([KafkaTopicSpec(name: SchemaHistory.topic(prefix: prefix), partitions: 1)])
        for v in try SchemaHistory.read(prefix: prefix, kafka: kafka) {
            versions[v.schema + "." + v.table] = (v.columns, v.version)
        }
    }

    /// The version of `columns` for `schema.name`: the known one when the columns did not change,
    /// else a new one, published through `producer` and flushed before returning.
    public mutating func register(schema: String, name: String, columns: [CaptureColumn], keys: [Int], lsn: UInt64,
                                  producer: KafkaProducer) throws -> Int {
        let key = schema + "." + name
        let version: Int
        if let known = versions[key] {
            if CaptureColumn.sameColumns(known.columns, columns) { return known.version }
            version = known.version + 1
        } else {
            version = 1
        }
        var keyed = columns
        for i in keyed.indices { keyed[i].isKey = keys.contains(i) }
        versions[key] = (keyed, version)
        let record = TableSchemaVersion(schema: schema, table: name, version: version, columns: keyed, lsn: lsn, tsMillis: WallClock.millis())
        try producer.send(topic: SchemaHistory.topic(prefix: prefix), key: Array(key.utf8), value: record.json())
        try producer.flush(timeout: .seconds(30))
        return version
    }
}
