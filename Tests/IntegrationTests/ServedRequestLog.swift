import Testing
import StreamKit
import StreamKitBackfill
import StreamKitKafka
import StreamKitRedis

/// The inference requests an online feature job logged, as what the store served: labels at every
/// logged `served_at` of every entity, each with the vector the store held then (the newest event
/// time among the entity's rows servable by then, the last written among equals — what the Redis
/// upsert keeps), to compare a backfill's rows with.
struct ServedRequestLog {
    let requests: [BackfillConsistencyTests.Served]
    /// "entity@t" → the features JSON served at t.
    private(set) var expected: [String: String] = [:]
    /// One label per entity and logged `served_at`, its label text "entity@t".
    private(set) var labels: [LabelEvent] = []

    init(_ records: [KafkaRecord]) throws {
        requests = try records.map(BackfillConsistencyTests.parse)
        var byEntity: [String: [BackfillConsistencyTests.Served]] = [:]
        for r in requests { byEntity[r.entity, default: []].append(r) }
        for (entity, list) in byEntity {
            for t in Set(list.map(\.servedAt)) {
                var best: BackfillConsistencyTests.Served? = nil
                for r in list where r.servedAt <= t { if best == nil || r.eventTime >= best!.eventTime { best = r } }
                expected["\(entity)@\(t)"] = best!.features
                labels.append(LabelEvent(entity: entity, time: t, label: "\"\(entity)@\(t)\""))
            }
        }
    }

    /// Compares the backfilled rows of the logged labels with the served vectors (the features
    /// JSON as the inference request writes it, so doubles compare bit for bit); records an issue
    /// per difference and returns (equal, compared).
    func compare(_ rows: [TrainingRow], view: FeatureView) -> (equal: Int, compared: Int) {
        var equal = 0, compared = 0
        for row in rows {
            let key = "\(row.label.entity)@\(row.label.time)"
            guard let served = expected[key], row.label.label == "\"\(key)\"" else { continue }
            compared += 1
            let got = row.features.map { BackfillConsistencyTests.featuresJSON($0, view: view) }
            if got == served { equal += 1 } else { Issue.record("\(key): backfill \(got ?? "missing"), served \(served)") }
        }
        return (equal, compared)
    }
}
