public import StreamKit
public import FeatureJobs
public import Glibc

/// A user's transactions of the last hour and the merchants they ever paid: the keyed state
/// behind the fraud features, computed **point in time** (from earlier transactions only).
public struct UserTransactionHistory: Sendable, Hashable, StateCodable {
    /// Times and amounts (cents) of the last hour's transactions, oldest first.
    public var times: [Int64] = []
    public var cents: [Int64] = []
    public var merchants: Set<Int64> = []

    public init() {}

    /// The features of a transaction at `ts` from the history before it; then records it.
    public mutating func observe(ts: Int64, cents amount: Int64, merchant: Int64) -> FraudFeatureValues {
        var drop = 0
        while drop < times.count && times[drop] <= ts - 3_600_000 { drop += 1 }
        if drop > 0 { times.removeFirst(drop); cents.removeFirst(drop) }
        var sum: Int64 = 0, count5m = 0
        for k in 0..<times.count { sum += cents[k]; if times[k] > ts - 300_000 { count5m += 1 } }
        let mean = times.isEmpty ? 0 : Double(sum) / Double(times.count)
        let new = !merchants.contains(merchant)
        times.append(ts); cents.append(amount); merchants.insert(merchant)
        return FraudFeatureValues(amountCents: amount, userMeanCents1h: mean, count5m: count5m, newMerchant: new)
    }

    public func encode(to w: inout ByteWriter) { times.encode(to: &w); cents.encode(to: &w); merchants.encode(to: &w) }
    public init(from r: inout ByteReader) throws {
        times = try [Int64](from: &r); cents = try [Int64](from: &r); merchants = try Set<Int64>(from: &r)
    }
}

/// The streaming features of one transaction.
public struct FraudFeatureValues: Sendable, Hashable {
    public var amountCents: Int64
    /// Mean amount of the user's preceding hour (0 without history).
    public var userMeanCents1h: Double
    /// The user's transactions in the preceding 5 minutes.
    public var count5m: Int
    /// The user never paid this merchant before.
    public var newMerchant: Bool
}

/// Turns fraud features into the model's ``SparseFeatures``: five numeric slots (bias,
/// ln(amount / 1 h mean), 5-minute count, new merchant, log amount) and hashed categorical
/// fields (merchant category, hour of day, optionally the merchant) in a `2^bits` space.
public struct FraudFeatureEncoder: Sendable {
    public let hasher: FeatureHasher
    @usableFromInline let mccField = FeatureHasher.fieldID("mcc")
    @usableFromInline let hourField = FeatureHasher.fieldID("hour")
    @usableFromInline let merchantField = FeatureHasher.fieldID("merchant")

    /// Whether the merchant id itself is a (hashed) feature. Default: false — one-hot merchant
    /// ids are rare coordinates whose fresh per-coordinate rates overfit single chargebacks.
    public let merchantIDs: Bool

    public init(bits: Int = 18, merchantIDs: Bool = false) { hasher = FeatureHasher(bits: bits, numericSlots: 5); self.merchantIDs = merchantIDs }

    public var dimension: Int { hasher.dimension }

    /// Fills `x` (cleared first) with the features of a transaction.
    @inlinable
    public func encode(_ f: FraudFeatureValues, mcc: Int64, merchant: Int64, tsMs: Int64, into x: inout SparseFeatures) {
        x.removeAll()
        let ratio = f.userMeanCents1h > 0 ? Double(f.amountCents) / f.userMeanCents1h : 1
        x.append(0, 1)
        x.append(1, log(Swift.min(Swift.max(ratio, 0.05), 50)))
        x.append(2, Double(Swift.min(f.count5m, 10)) / 5)
        x.append(3, f.newMerchant ? 1 : 0)
        x.append(4, (log(Double(Swift.max(f.amountCents, 1))) - 8) / 2)
        x.append(hasher.index(field: mccField, value: UInt64(bitPattern: mcc)), 1)
        x.append(hasher.index(field: hourField, value: UInt64(((tsMs / 3_600_000) % 24 + 24) % 24)), 1)
        if merchantIDs { x.append(hasher.index(field: merchantField, value: UInt64(bitPattern: merchant)), 1) }
    }
}
