public import StreamKit
public import FeatureJobs
public import StreamKitJSON
public import StreamKitDebezium
public import StreamKitKafka
public import StreamKitRedis
public import StreamKitBackfill
public import Glibc

/// A row of the `bookings` table, as Debezium captures it.
public struct Booking: Decodable, Sendable {
    public var id: Int64
    public var listingId: Int64
    public var guestId: Int64
    public var nights: Int64
    public var pricePerNight: Double
    /// `confirmed` or `cancelled`.
    public var status: String
    public var createdAtMs: Int64
    public init(id: Int64, listingId: Int64, guestId: Int64, nights: Int64, pricePerNight: Double, status: String, createdAtMs: Int64) {
        self.id = id; self.listingId = listingId; self.guestId = guestId; self.nights = nights
        self.pricePerNight = pricePerNight; self.status = status; self.createdAtMs = createdAtMs
    }
}

/// Per-listing demand over the last hour in one-minute buckets, updated on every booking change
/// (no waiting for a window to close: the feature is fresh as soon as the change is processed).
public struct ListingDemand: Sendable, StateCodable {
    public static let minutes = 60
    /// Minute index of bucket 0's slot, per slot (ring of 60).
    var minute = [Int64](repeating: .min, count: ListingDemand.minutes)
    var bookings = [Int64](repeating: 0, count: ListingDemand.minutes)
    var cancellations = [Int64](repeating: 0, count: ListingDemand.minutes)
    var nights = [Int64](repeating: 0, count: ListingDemand.minutes)
    var revenue = [Double](repeating: 0, count: ListingDemand.minutes)
    public init() {}

    /// Adds a booking change at event time `ts`; returns false when it is older than the hour kept.
    mutating func add(_ b: Booking, op: DebeziumOperation, at ts: Int64, newest: Int64) -> Bool {
        let m = ts / 60_000
        guard m > newest / 60_000 - Int64(Self.minutes) else { return false }
        let slot = Int(m % Int64(Self.minutes))
        if minute[slot] != m { minute[slot] = m; bookings[slot] = 0; cancellations[slot] = 0; nights[slot] = 0; revenue[slot] = 0 }
        if b.status == "cancelled" && op == .update {
            cancellations[slot] += 1
        } else if op == .create || op == .read {
            bookings[slot] += 1; nights[slot] += b.nights; revenue[slot] += Double(b.nights) * b.pricePerNight
        }
        return true
    }

    /// Sums over the last `window` minutes ending at the minute of `now`.
    func sums(window: Int, now: Int64) -> (bookings: Int64, cancellations: Int64, nights: Int64, revenue: Double) {
        let m = now / 60_000
        var r: (Int64, Int64, Int64, Double) = (0, 0, 0, 0)
        for slot in 0..<Self.minutes where minute[slot] > m - Int64(window) && minute[slot] <= m {
            r.0 += bookings[slot]; r.1 += cancellations[slot]; r.2 += nights[slot]; r.3 += revenue[slot]
        }
        return r
    }

    public func encode(to w: inout ByteWriter) { minute.encode(to: &w); bookings.encode(to: &w); cancellations.encode(to: &w); nights.encode(to: &w); revenue.encode(to: &w) }
    public init(from r: inout ByteReader) throws {
        minute = try [Int64](from: &r); bookings = try [Int64](from: &r); cancellations = try [Int64](from: &r)
        nights = try [Int64](from: &r); revenue = try [Double](from: &r)
    }
}

/// The demand features of a listing after one booking change.
public struct DemandFeatures: Sendable {
    public var listingId: Int64
    public var eventTime: Int64
    public var bookings5m: Int64, bookings1h: Int64, cancellations1h: Int64, nights1h: Int64
    public var avgNightlyPrice1h: Double
}

/// Keeps ``ListingDemand`` per listing and emits ``DemandFeatures`` for every change.
public struct ListingDemandFunction: KeyedProcessFunction {
    var state: ValueState<Int64, ListingDemand>!
    var newest: ValueState<Int64, Int64>!
    public init() {}
    public mutating func open(state store: KeyedStateStore<Int64>) throws {
        state = store.valueState("demand", of: ListingDemand.self, ttl: StateTTL(.hours(2)))
        newest = store.valueState("newest", of: Int64.self, ttl: StateTTL(.hours(2)))
    }
    public func processElement(_ change: DebeziumEnvelope<Booking>, context: KeyedProcessContext<Int64, DemandFeatures>) throws {
        guard let b = change.after else { return }
        var d = state.value ?? ListingDemand()
        let ts = context.timestamp
        let top = max(newest.value ?? ts, ts)
        guard d.add(b, op: change.op, at: ts, newest: top) else { return }
        state.update(d); newest.update(top)
        let h = d.sums(window: 60, now: top), f = d.sums(window: 5, now: top)
        context.emit(DemandFeatures(listingId: b.listingId, eventTime: top, bookings5m: f.bookings, bookings1h: h.bookings,
                                    cancellations1h: h.cancellations, nights1h: h.nights,
                                    avgNightlyPrice1h: h.nights == 0 ? 0 : h.revenue / Double(h.nights)))
    }
}

/// `realtime-pricing`: bookings CDC → per-listing demand features, fresh within ~100 ms, in the
/// Redis view `listing_demand` (the seeds' Airbnb example), and optionally inference requests
/// (`--inference-topic`) carrying the served vector with its `event_time` and `served_at`.
public struct RealtimePricingJob: ExampleJob {
    public static let name = "realtime-pricing"
    public static let summary = "bookings CDC → per-listing demand features per change (Kafka → Redis, fresh within ~100 ms; + inference requests)"
    public static let parameters = [
        JobParameter("namespace", "Redis key namespace of the feature view", default: "feature"),
        JobParameter("inference-topic", "produce inference requests to this topic"),
        JobParameter("model", "model whose registered version inference requests carry", default: "fraud-scorer"),
    ]

    let namespace: String
    let inferenceTopic: String?
    let model: String
    public init(arguments: JobArguments) throws {
        namespace = arguments.string("namespace", default: "feature")
        inferenceTopic = arguments.string("inference-topic")
        model = arguments.string("model", default: "fraud-scorer")
    }

    public func job(_ context: JobContext) throws -> Job {
        let modelVersion = inferenceTopic == nil ? "unversioned"
            : try ModelRegistry.currentVersion(of: model, redis: context.redis, fallback: "unregistered")
        return Self.make(kafka: context.kafka, topic: try context.kafkaTopic(for: Self.name), groupID: context.groupID,
                         redis: context.redis, startFrom: context.startFrom, bounded: context.bounded, namespace: namespace,
                         inferenceTopic: inferenceTopic, modelVersion: modelVersion)
    }

    public static let view = FeatureView(name: "listing_demand", entityKey: "listing_id",
                                         features: [.int("bookings_5m"), .int("bookings_1h"), .int("cancellations_1h"),
                                                    .int("nights_1h"), .double("avg_nightly_price_1h")],
                                         ttl: .hours(2), version: 1)

    /// The view under another key namespace.
    public static func view(namespace: String) -> FeatureView {
        FeatureView(name: view.name, entityKey: view.entityKey, features: view.features, ttl: view.ttl, version: view.version,
                    namespace: namespace)
    }

    /// The bounded out-of-orderness of booking changes (event time `created_at_ms`).
    public static let watermarkDelay: Duration = .seconds(5)

    /// The feature definition shared by the online job (Kafka → Redis) and the backfill: booking
    /// change records → repeats of a restarted capture dropped → per-listing demand after every
    /// change (``ListingDemandFunction``) → the rows written to the view (event time = the
    /// listing's newest change time), stamped with when they became servable.
    public static func servedFeatures(_ records: DataStream<DebeziumRecord<Booking>>, idleness: Duration?) -> DataStream<ServedFeatures> {
        records
            .deduplicatingChanges()   // a restarted capture publishes its unsaved tail again
            .flatMap("changes") { (r: DebeziumRecord<Booking>, emit: (DebeziumEnvelope<Booking>) -> Void) in
                if case let .change(e) = r, e.after != nil { emit(e) }
            }
            .assignTimestamps({ $0.after!.createdAtMs }, watermark: .boundedOutOfOrderness(watermarkDelay), idleness: idleness)
            .keyBy { $0.after!.listingId }
            .process(ListingDemandFunction())
            .servedFeatures { f in (String(f.listingId), f.eventTime, values(f)) }
    }

    /// A listing's features in the view's order.
    static func values(_ f: DemandFeatures) -> [FeatureValue?] {
        [.int(f.bookings5m), .int(f.bookings1h), .int(f.cancellations1h), .int(f.nights1h), .double(f.avgNightlyPrice1h)]
    }

    public static func make(kafka: KafkaConfiguration, topic: String, groupID: String, redis: RedisConfiguration,
                            startFrom: KafkaStartOffset = .latest, bounded: Bool = false, namespace: String = "feature",
                            inferenceTopic: String? = nil, modelVersion: String = "unversioned",
                            sourceMetrics: KafkaSourceMetrics = KafkaSourceMetrics(),
                            sinkMetrics: RedisFeatureSinkMetrics = RedisFeatureSinkMetrics()) -> Job {
        var source = KafkaSourceConfiguration(topics: [topic], groupID: groupID, startFrom: startFrom)
        source.bounded = bounded
        source.sessionTimeout = .seconds(2); source.heartbeatInterval = .milliseconds(500)
        source.pollTimeout = .milliseconds(5)
        let sourceConfiguration = source
        // Latency first: the broker answers fetches after at most 5 ms instead of librdkafka's 500 ms long poll.
        var tuned = kafka
        tuned.properties["fetch.wait.max.ms"] = kafka.properties["fetch.wait.max.ms"] ?? "5"
        tuned.properties["fetch.error.backoff.ms"] = kafka.properties["fetch.error.backoff.ms"] ?? "10"
        let kafka = tuned
        let view = Self.view(namespace: namespace)
        var sink = RedisFeatureSinkConfiguration(redis: redis)
        sink.flushEveryBatch = true   // freshness first: write as soon as a batch is processed
        let sinkConfiguration = sink
        return Job("realtime-pricing") { env in
            let records = env.source(KafkaSource(kafka: kafka, sourceConfiguration, decoder: DebeziumLineDecoder(Booking.self), metrics: sourceMetrics),
                                     name: "bookings")
            let served = servedFeatures(records, idleness: .seconds(2))
            served.sink("redis-features") {
                RedisFeatureSink(view: view, configuration: sinkConfiguration, metrics: sinkMetrics) { r in
                    FeatureUpdate(entity: r.entity, eventTime: r.eventTime, values: r.values)
                }
            }
            if let inferenceTopic {
                served.writeInferenceRequests(to: kafka, topic: inferenceTopic, view: view, modelVersion: modelVersion)
            }
        }
    }

    /// A booking change as a Debezium JSON line (for producers, tests and the benchmark).
    public static func debeziumLine(_ b: Booking, op: DebeziumOperation, before: Booking? = nil) -> [UInt8] {
        var w = JSONWriter(capacity: 512)
        func row(_ b: Booking) {
            w.beginObject()
            w.field("id", b.id); w.field("listing_id", b.listingId); w.field("guest_id", b.guestId); w.field("nights", b.nights)
            w.field("price_per_night", b.pricePerNight); w.field("status", b.status); w.field("created_at_ms", b.createdAtMs)
            w.endObject()
        }
        w.beginObject()
        w.key("before"); if let before { row(before) } else { w.null() }
        w.key("after"); row(b)
        w.key("source"); w.beginObject()
        w.field("version", "2.5.0.Final"); w.field("connector", "postgresql"); w.field("name", "app"); w.field("ts_ms", b.createdAtMs)
        w.field("db", "app"); w.field("schema", "public"); w.field("table", "bookings")
        w.endObject()
        w.field("op", op.rawValue); w.field("ts_ms", b.createdAtMs)
        w.endObject()
        return w.bytes
    }
}

/// The backfill runs the same feature definition as the Kafka → Redis job
/// (`cdc-features backfill realtime-pricing …`): history lines are the Debezium change events
/// of `bookings`, as on the topic.
extension RealtimePricingJob: BackfillableJob {
    public var featureView: FeatureView { Self.view(namespace: namespace) }
    public func eventDecoder() throws -> DebeziumLineDecoder<Booking> { DebeziumLineDecoder(Booking.self) }
    /// A change's `created_at_ms` (its event time in the job); a tombstone or a change without an
    /// after-image (which the job ignores) counts as the earliest time, so `--to` keeps it.
    public func eventTime(_ event: DebeziumRecord<Booking>) -> EventTime { event.envelope?.after?.createdAtMs ?? .min }
    public func features(_ events: DataStream<DebeziumRecord<Booking>>, idleness: Duration?) -> DataStream<ServedFeatures> {
        Self.servedFeatures(events, idleness: idleness)
    }
}
