#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
public import StreamKit

/// One card transaction of the fraud workload (a row of the `transactions` table), with the
/// ground truth the generator drew it with (not part of the captured row).
public struct FraudTransaction: Sendable, Hashable {
    public var id: Int64
    public var userId: Int64
    public var merchantId: Int64
    /// Merchant category code, 0 ..< ``FraudWorkload/categories``.
    public var mcc: Int64
    public var amountCents: Int64
    public var tsMs: Int64
    /// Ground truth: the streaming features the fraud probability was computed from.
    public var truth: FraudTruth
}

/// The streaming features of a transaction as the generator computed them (point in time: from
/// the user's *earlier* transactions only), the fraud probability drawn from them, and the label.
public struct FraudTruth: Sendable, Hashable {
    /// Mean amount (cents) of the user's transactions in the preceding hour; 0 without any.
    public var userMeanCents1h: Double
    /// Count of the user's transactions in the preceding 5 minutes.
    public var count5m: Int
    /// The user never paid this merchant before.
    public var newMerchant: Bool
    /// The true fraud probability.
    public var probability: Double
    /// The drawn label.
    public var isFraud: Bool
}

/// A chargeback (a row of the `chargebacks` table): the late label of a fraudulent transaction.
public struct FraudChargeback: Sendable, Hashable {
    public var id: Int64
    public var transactionId: Int64
    public var userId: Int64
    public var tsMs: Int64
}

/// An event of the fraud workload, in event-time order.
public enum FraudEvent: Sendable, Hashable {
    case transaction(FraudTransaction)
    case chargeback(FraudChargeback)

    public var tsMs: Int64 {
        switch self {
        case let .transaction(t): t.tsMs
        case let .chargeback(c): c.tsMs
        }
    }
}

/// A deterministic labelled workload for online learning: card transactions of users at
/// merchants, fraud drawn from a **known logistic function of streaming features**, chargebacks
/// (the labels) arriving minutes to hours later, and a concept drift at a known event time.
///
/// **Transactions.** Gaps between transactions are exponential (mean ``Configuration/meanGapMs``).
/// Users are uniform, except that a few are in a *burst* at any time (≈ 10 % of transactions,
/// 3–10 transactions within a couple of minutes). A user pays one of five favourite merchants
/// (85 %; 40 % in a burst) or a random one. Amounts are log-normal around the user's own level,
/// with a 4 % heavy tail; after the drift every amount is 1.6× higher (a distribution shift a
/// drift monitor sees).
///
/// **Fraud.** With `ratio = amount / (user's mean amount over the preceding hour)` (1 without
/// history), `count5m` the user's transactions in the preceding 5 minutes (capped at 10), `new`
/// whether the user never paid this merchant before, `risk[mcc]` a per-category offset and `night`
/// whether the hour (UTC) is below 6:
///
///     before the drift: logit = −4.6 + 1.5·ln(ratio) + 0.35·count5m + 1.0·new + risk[mcc]
///     after the drift:  logit = −4.6 + 0.4·ln(ratio) + 0.35·count5m − 0.6·new + risk[11 − mcc] + 1.6·night
///
/// and `isFraud ~ Bernoulli(σ(logit))`. The drift starts at ``driftTimeMs`` (by default half-way).
///
/// **Labels.** Each fraud gets a chargeback `2 min + Exp(25 min)` later, capped at 2 h 50 min, so a
/// label horizon of 3 h sees every chargeback; legitimate transactions get none (a consumer treats
/// "no chargeback within the horizon" as negative).
///
/// Everything is drawn from one SplitMix64 stream seeded with ``Configuration/seed`` (plus hashes
/// of user and merchant ids), so a seed gives the same events and bytes every time.
public struct FraudWorkload: IteratorProtocol, Sequence, Sendable {
    public struct Configuration: Sendable, Hashable {
        public var seed: UInt64 = 42
        /// Transactions to generate (chargebacks come on top).
        public var transactions: Int
        public var users: Int = 2_000
        public var merchants: Int = 1_000
        /// Mean gap between transactions. Default: 500 ms (200 000 transactions ≈ 28 h of event time).
        public var meanGapMs: Double = 500
        /// Event time of the concept drift, as a fraction of the expected span. Default: 0.5.
        public var driftFraction: Double = 0.5
        public init(transactions: Int, seed: UInt64 = 42) {
            precondition(transactions >= 0, "transactions must not be negative")
            self.transactions = transactions; self.seed = seed
        }
    }

    /// Event time of the first transaction's lower bound (2023-11-14T22:13:20Z).
    public static let baseTimestampMs: Int64 = 1_700_000_000_000
    /// Merchant categories.
    public static let categories = 12
    /// Per-category logit offsets before the drift (reversed after it).
    public static let categoryRisk: [Double] = [-0.6, -0.4, -0.3, -0.2, 0, 0, 0.1, 0.2, 0.4, 0.6, 0.9, 1.3]

    public let configuration: Configuration
    /// Event time at which the concept drift starts.
    public let driftTimeMs: Int64

    var random: SplitMix64
    var emitted = 0
    var clock: Int64
    var nextTransactionTime: Int64?
    var nextChargebackId: Int64 = 1
    var pending = PendingChargebacks()
    var bursts: [(user: Int64, remaining: Int)] = []
    var users: [Int64: UserHistory] = [:]

    struct UserHistory {
        /// The user's transactions of the last hour: (time, cents), oldest first.
        var recent: [(Int64, Int64)] = []
        var merchants: Set<Int64> = []
    }

    /// Chargebacks not yet due, by time (a small binary heap; ids break ties).
    struct PendingChargebacks {
        var heap: [FraudChargeback] = []
        static func less(_ a: FraudChargeback, _ b: FraudChargeback) -> Bool { (a.tsMs, a.id) < (b.tsMs, b.id) }
        mutating func push(_ c: FraudChargeback) {
            heap.append(c)
            var i = heap.count - 1
            while i > 0 { let p = (i - 1) / 2; if Self.less(heap[i], heap[p]) { heap.swapAt(i, p); i = p } else { break } }
        }
        var min: FraudChargeback? { heap.first }
        mutating func pop() -> FraudChargeback {
            let top = heap[0]
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                var i = 0
                while true {
                    let l = 2 * i + 1, r = l + 1
                    var m = i
                    if l < heap.count && Self.less(heap[l], heap[m]) { m = l }
                    if r < heap.count && Self.less(heap[r], heap[m]) { m = r }
                    if m == i { break }
                    heap.swapAt(i, m); i = m
                }
            }
            return top
        }
    }

    public init(_ configuration: Configuration) {
        precondition(configuration.users > 0 && configuration.merchants > 0 && configuration.meanGapMs >= 1, "invalid fraud workload configuration")
        self.configuration = configuration
        random = SplitMix64(seed: configuration.seed)
        clock = Self.baseTimestampMs
        driftTimeMs = Self.baseTimestampMs + Int64(Double(configuration.transactions) * configuration.meanGapMs * configuration.driftFraction)
    }

    /// A uniform double in [0, 1) (53 bits).
    mutating func uniform() -> Double { Double(random.next() >> 11) * 0x1p-53 }
    /// A standard normal (Box–Muller, one of the pair).
    mutating func normal() -> Double {
        let u1 = Swift.max(uniform(), 0x1p-53), u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A user's own amount level (cents, log scale), fixed per user and seed.
    func userLevel(_ user: Int64) -> Double {
        let h = Self.mix(configuration.seed ^ UInt64(bitPattern: user) &* 0x1000_0000_01B3)
        let u1 = Swift.max(Double(h >> 11) * 0x1p-53, 0x1p-53), u2 = Double(Self.mix(h) >> 11) * 0x1p-53
        return 8.2 + 0.8 * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)   // e^8.2 ≈ 36.00 in cents·100
    }
    func favourite(_ user: Int64, _ k: UInt64) -> Int64 {
        1 + Int64(Self.mix(UInt64(bitPattern: user) &* 8 &+ k ^ configuration.seed) % UInt64(configuration.merchants))
    }
    /// The merchant category of a merchant (fixed per merchant, independent of the seed).
    public static func category(ofMerchant m: Int64) -> Int64 { Int64(mix(UInt64(bitPattern: m) ^ 0xC0FFEE) % UInt64(categories)) }

    /// The true fraud probability of a transaction with these features.
    public static func fraudProbability(ratio: Double, count5m: Int, newMerchant: Bool, mcc: Int64, hourUTC: Int, drifted: Bool) -> Double {
        let lr = log(Swift.min(Swift.max(ratio, 0.05), 50))
        let c = Double(Swift.min(count5m, 10))
        let logit: Double
        if !drifted {
            logit = -4.6 + 1.5 * lr + 0.35 * c + (newMerchant ? 1.0 : 0) + categoryRisk[Int(mcc)]
        } else {
            logit = -4.6 + 0.4 * lr + 0.35 * c - (newMerchant ? 0.6 : 0) + categoryRisk[categories - 1 - Int(mcc)] + (hourUTC < 6 ? 1.6 : 0)
        }
        return 1 / (1 + exp(-logit))
    }

    public mutating func next() -> FraudEvent? {
        if emitted < configuration.transactions && nextTransactionTime == nil {
            nextTransactionTime = clock + 1 + Int64(-log(Swift.max(1 - uniform(), 0x1p-53)) * (configuration.meanGapMs - 1))
        }
        // Chargebacks due before the next transaction go first.
        if let due = pending.min, nextTransactionTime.map({ due.tsMs < $0 }) ?? true { return .chargeback(pending.pop()) }
        guard let ts = nextTransactionTime else { return nil }
        nextTransactionTime = nil
        clock = ts
        return .transaction(transaction(at: ts))
    }

    mutating func transaction(at ts: Int64) -> FraudTransaction {
        emitted += 1
        let id = Int64(emitted)
        // Who pays.
        var user: Int64
        var inBurst = false
        let r = uniform()
        if r < 0.1 && !bursts.isEmpty {
            let k = Int(random.next() % UInt64(bursts.count))
            user = bursts[k].user; inBurst = true
            bursts[k].remaining -= 1
            if bursts[k].remaining == 0 { bursts.remove(at: k) }
        } else {
            user = 1 + Int64(random.next() % UInt64(configuration.users))
            if r > 0.988 && bursts.count < 8 { bursts.append((user, 3 + Int(random.next() % 8))); inBurst = true }
        }
        let drifted = ts >= driftTimeMs
        // Where and how much.
        let merchant = uniform() < (inBurst ? 0.4 : 0.85) ? favourite(user, random.next() % 5)
                                                          : 1 + Int64(random.next() % UInt64(configuration.merchants))
        var logAmount = userLevel(user) + 0.5 * normal()
        if uniform() < 0.04 { logAmount += 1 + 2 * uniform() }
        var cents = Swift.max(Int64(exp(logAmount)), 50)
        if drifted { cents = cents * 8 / 5 }
        let mcc = Self.category(ofMerchant: merchant)
        // The user's history before this transaction (point in time).
        var h = users[user] ?? UserHistory()
        var firstKept = 0
        while firstKept < h.recent.count && h.recent[firstKept].0 <= ts - 3_600_000 { firstKept += 1 }
        h.recent.removeFirst(firstKept)
        var sum: Int64 = 0, count5m = 0
        for (t, c) in h.recent { sum += c; if t > ts - 300_000 { count5m += 1 } }
        let mean = h.recent.isEmpty ? 0 : Double(sum) / Double(h.recent.count)
        let ratio = mean > 0 ? Double(cents) / mean : 1
        let isNew = !h.merchants.contains(merchant)
        let hour = Int(((ts / 3_600_000) % 24 + 24) % 24)
        let p = Self.fraudProbability(ratio: ratio, count5m: count5m, newMerchant: isNew, mcc: mcc, hourUTC: hour, drifted: drifted)
        let fraud = uniform() < p
        h.recent.append((ts, cents)); h.merchants.insert(merchant)
        users[user] = h
        if fraud {
            let delay = Swift.min(120_000 + Int64(-log(Swift.max(1 - uniform(), 0x1p-53)) * 1_500_000), 10_200_000)
            pending.push(FraudChargeback(id: nextChargebackId, transactionId: id, userId: user, tsMs: ts + delay))
            nextChargebackId += 1
        }
        return FraudTransaction(id: id, userId: user, merchantId: merchant, mcc: mcc, amountCents: cents, tsMs: ts,
                                truth: FraudTruth(userMeanCents1h: mean, count5m: count5m, newMerchant: isNew, probability: p, isFraud: fraud))
    }

    // MARK: Lines

    /// Appends the event's newline-terminated Debezium JSON line (table `transactions` or `chargebacks`).
    public static func appendLine(of event: FraudEvent, to out: inout [UInt8]) {
        let line: String
        switch event {
        case let .transaction(t):
            line = "{\"before\":null,\"after\":{\"id\":\(t.id),\"user_id\":\(t.userId),\"merchant_id\":\(t.merchantId),\"mcc\":\(t.mcc),"
                + "\"amount\":\(t.amountCents / 100).\(t.amountCents % 100 < 10 ? "0" : "")\(t.amountCents % 100),\"ts_ms\":\(t.tsMs)},"
                + "\"source\":{\"version\":\"2.5.0.Final\",\"connector\":\"postgresql\",\"name\":\"app\",\"ts_ms\":\(t.tsMs),\"db\":\"app\",\"schema\":\"public\",\"table\":\"transactions\"},"
                + "\"op\":\"c\",\"ts_ms\":\(t.tsMs)}\n"
        case let .chargeback(c):
            line = "{\"before\":null,\"after\":{\"id\":\(c.id),\"transaction_id\":\(c.transactionId),\"user_id\":\(c.userId),\"ts_ms\":\(c.tsMs)},"
                + "\"source\":{\"version\":\"2.5.0.Final\",\"connector\":\"postgresql\",\"name\":\"app\",\"ts_ms\":\(c.tsMs),\"db\":\"app\",\"schema\":\"public\",\"table\":\"chargebacks\"},"
                + "\"op\":\"c\",\"ts_ms\":\(c.tsMs)}\n"
        }
        out.append(contentsOf: line.utf8)
    }

    /// Writes the whole workload to `path` as NDJSON; returns (transactions, chargebacks, bytes).
    @discardableResult
    public static func writeFile(path: String, configuration: Configuration) throws -> (transactions: Int, chargebacks: Int, bytes: Int) {
        guard let f = fopen(path, "wb") else { throw StreamKitError(.io, "cannot open \(path) for writing") }
        defer { fclose(f) }
        var workload = FraudWorkload(configuration)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        var tx = 0, cb = 0, bytes = 0
        func flush() throws {
            let n = buffer.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
            guard n == buffer.count else { throw StreamKitError(.io, "short write to \(path)") }
            bytes += n; buffer.removeAll(keepingCapacity: true)
        }
        while let e = workload.next() {
            if case .transaction = e { tx += 1 } else { cb += 1 }
            appendLine(of: e, to: &buffer)
            if buffer.count > 1 << 20 { try flush() }
        }
        try flush()
        return (tx, cb, bytes)
    }
}
