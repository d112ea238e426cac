public import StreamKit
public import StreamKitRedis
public import StreamKitKafka

/// A feature job whose feature definition the backfill can run over history: the *same* code
/// the online job runs, from decoded events to the rows it writes to the feature store.
///
/// The online job calls ``features(_:idleness:)`` between its source and its Redis sink; the
/// backfill calls it between a file (or a bounded Kafka read) and the point-in-time join with
/// labels. Nothing about the features is declared twice.
///
/// ```swift
/// extension MyJob: BackfillableJob {
///     var featureView: FeatureView { Self.view }
///     func eventDecoder() throws -> MyDecoder { MyDecoder() }
///     func eventTime(_ e: MyEvent) -> EventTime { e.tsMs }
///     func features(_ events: DataStream<MyEvent>, idleness: Duration?) -> DataStream<ServedFeatures> {
///         events.assignTimestamps(\.tsMs, watermark: .boundedOutOfOrderness(.seconds(2)), idleness: idleness)
///             .keyBy(\.userId).window(.tumbling(size: .minutes(5))).aggregate(.count()) { $0 }
///             .servedFeatures { r in (String(r.key), r.windowEnd - 1, [.int(r.value)]) }
///     }
/// }
/// ```
public protocol BackfillableJob: Sendable {
    /// How input lines (file) or message values (Kafka) become events: the online job's decoder.
    associatedtype Decoder: LineDecoder
    /// The view the online job writes: the feature names and order, and the TTL that makes a
    /// stored vector missing.
    var featureView: FeatureView { get }
    /// A fresh decoder (one per reader).
    func eventDecoder() throws -> Decoder
    /// An event's event time (ms), used to bound a Kafka read with `--to`.
    func eventTime(_ event: Decoder.Output) -> EventTime
    /// The feature definition: events (no timestamps yet) → the rows written to the store,
    /// stamped with ``DataStream/servedFeatures(name:servableFrom:_:)``. The rows of one entity must come from
    /// one subtask in production order (as a keyed window or process function on the entity emits
    /// them): the backfill's join runs chained after them. `idleness` is the watermark idleness of
    /// the sources (a processing-time notion: the backfill passes nil).
    func features(_ events: DataStream<Decoder.Output>, idleness: Duration?) -> DataStream<ServedFeatures>
    /// The history as a stream: the source node over a file's byte ranges or a topic. Leave the
    /// defaults: they are `@inlinable`, so the conformance's witness is compiled for the job's
    /// concrete decoder and the reader loop (parse, batch) runs specialized — built inside the
    /// generic ``Backfill`` it would look types up per record.
    func history(_ env: StreamEnvironment, file: FileRangeSource<Decoder>) -> DataStream<Decoder.Output>
    func history(_ env: StreamEnvironment, kafka: KafkaSource<Decoder>) -> DataStream<Decoder.Output>
}

extension BackfillableJob {
    @inlinable
    public func history(_ env: StreamEnvironment, file: FileRangeSource<Decoder>) -> DataStream<Decoder.Output> {
        env.source(file, name: "history")
    }
    @inlinable
    public func history(_ env: StreamEnvironment, kafka: KafkaSource<Decoder>) -> DataStream<Decoder.Output> {
        env.source(kafka, name: "history")
    }
}
