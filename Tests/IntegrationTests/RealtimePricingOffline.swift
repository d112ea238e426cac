import Testing
import StreamKit
import StreamKitJobs
import StreamKitDebezium
import StreamKitRedis

/// The batch recomputation of realtime-pricing's demand features, compared with what the job
/// wrote to Redis (offline = online): per listing, sums over the 60 and 5 minutes ending at its
/// newest change. Shared by the Kafka-fed and the MySQL-captured tests. Returns the listings checked.
func expectDemandFeaturesEqualBatch(changes: [(Booking, DebeziumOperation)], listings: Int, redis: RedisConfiguration,
                                    namespace: String) async throws -> Int {
    let view = FeatureView(name: RealtimePricingJob.view.name, entityKey: "listing_id", features: RealtimePricingJob.view.features,
                           ttl: .hours(2), version: 1, namespace: namespace)
    let online = try await FeatureClient(configuration: redis).getMany(view: view, entities: (1...listings).map(String.init))
    var checked = 0
    for (index, vector) in online.enumerated() {
        let listing = Int64(index + 1)
        let mine = changes.filter { $0.0.listingId == listing }
        guard let newest = mine.map({ $0.0.createdAtMs }).max() else { #expect(vector == nil); continue }
        let v = try #require(vector)
        let m = newest / 60_000
        func within(_ minutes: Int64, _ c: (Booking, DebeziumOperation)) -> Bool { c.0.createdAtMs / 60_000 > m - minutes }
        let created1h = mine.filter { $0.1 == .create && within(60, $0) }
        let nights = created1h.reduce(0) { $0 + $1.0.nights }
        let revenue = created1h.reduce(0.0) { $0 + Double($1.0.nights) * $1.0.pricePerNight }
        func f(_ name: String) -> Double? { v.features.first { $0.name == name }?.value.doubleValue }
        #expect(v.eventTime == newest)
        #expect(f("bookings_1h") == Double(created1h.count), "listing \(listing)")
        #expect(f("bookings_5m") == Double(mine.filter { $0.1 == .create && within(5, $0) }.count), "listing \(listing)")
        #expect(f("cancellations_1h") == Double(mine.filter { $0.1 == .update && within(60, $0) }.count), "listing \(listing)")
        #expect(f("nights_1h") == Double(nights), "listing \(listing)")
        #expect(abs((f("avg_nightly_price_1h") ?? -1) - (nights == 0 ? 0 : revenue / Double(nights))) < 1e-6, "listing \(listing)")
        checked += 1
    }
    return checked
}
