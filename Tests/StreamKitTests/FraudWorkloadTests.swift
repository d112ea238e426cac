import Foundation
import Testing
import StreamKit
import StreamKitWorkload

/// The labelled fraud workload: byte-deterministic per seed, event-time ordered, labels delayed
/// within the documented bounds, and fraud following its stated logistic function.
@Suite struct FraudWorkloadTests {
    static func bytes(_ n: Int, seed: UInt64) -> [UInt8] {
        var w = FraudWorkload(FraudWorkload.Configuration(transactions: n, seed: seed))
        var out: [UInt8] = []
        while let e = w.next() { FraudWorkload.appendLine(of: e, to: &out) }
        return out
    }

    @Test func isByteDeterministicPerSeed() throws {
        let a = Self.bytes(5_000, seed: 42), b = Self.bytes(5_000, seed: 42), c = Self.bytes(5_000, seed: 43)
        #expect(a == b)
        #expect(a != c)
        // The file writer writes the same bytes.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fraud-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let written = try FraudWorkload.writeFile(path: path, configuration: FraudWorkload.Configuration(transactions: 5_000, seed: 42))
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) == a)
        #expect(written.transactions == 5_000 && written.bytes == a.count)
        // Every line is JSON with the table's columns.
        let lines = a.split(separator: UInt8(ascii: "\n"))
        #expect(lines.count == written.transactions + written.chargebacks)
        for line in lines.prefix(200) {
            let o = try JSONSerialization.jsonObject(with: Data(line)) as! [String: Any]
            let after = o["after"] as! [String: Any], table = (o["source"] as! [String: Any])["table"] as! String
            #expect(table == "transactions" ? after["merchant_id"] != nil && after["amount"] != nil : after["transaction_id"] != nil)
        }
    }

    @Test func labelsAreDelayedAndOrderedAndFraudFollowsItsFunction() {
        var w = FraudWorkload(FraudWorkload.Configuration(transactions: 40_000, seed: 7))
        var txTime: [Int64: Int64] = [:], fraud: Set<Int64> = []
        var last = Int64.min, chargebacks = 0
        var before: (n: Int, frauds: Int, p: Double) = (0, 0, 0), after = before
        while let e = w.next() {
            #expect(e.tsMs >= last); last = e.tsMs
            switch e {
            case let .transaction(t):
                txTime[t.id] = t.tsMs
                if t.truth.isFraud { fraud.insert(t.id) }
                let hour = Int((t.tsMs / 3_600_000) % 24)
                let ratio = t.truth.userMeanCents1h > 0 ? Double(t.amountCents) / t.truth.userMeanCents1h : 1
                let p = FraudWorkload.fraudProbability(ratio: ratio, count5m: t.truth.count5m, newMerchant: t.truth.newMerchant,
                                                       mcc: t.mcc, hourUTC: hour, drifted: t.tsMs >= w.driftTimeMs)
                #expect(p == t.truth.probability)
                if t.tsMs < w.driftTimeMs { before.n += 1; before.frauds += t.truth.isFraud ? 1 : 0; before.p += p }
                else { after.n += 1; after.frauds += t.truth.isFraud ? 1 : 0; after.p += p }
            case let .chargeback(c):
                chargebacks += 1
                let delay = c.tsMs - txTime[c.transactionId]!
                #expect(delay >= 120_000 && delay <= 10_200_000)
                #expect(fraud.contains(c.transactionId))
            }
        }
        #expect(chargebacks == fraud.count)
        // The drift is half-way; the observed fraud rate matches the drawn probabilities (±4 σ).
        #expect(before.n > 15_000 && after.n > 15_000)
        for (n, frauds, p) in [before, after] {
            let sd = (p * (1 - p / Double(n))).squareRoot()
            #expect(abs(Double(frauds) - p) < 4 * sd, "frauds \(frauds) vs expected \(p)")
            #expect(Double(frauds) / Double(n) > 0.01 && Double(frauds) / Double(n) < 0.15)
        }
    }
}
