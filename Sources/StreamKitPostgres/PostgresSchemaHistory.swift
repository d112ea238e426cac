public import StreamKitCapture

/// The schema registry of a PostgreSQL capture on `<prefix>.__schemas`: the core's ``SchemaHistory``.
public typealias PostgresSchemaHistory = SchemaHistory
