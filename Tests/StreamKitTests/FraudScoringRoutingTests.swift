import Foundation
import Testing
import StreamKit
import FeatureJobs
@testable import StreamKitJobs
import StreamKitWorkload

/// `fraud-scoring --route` and `--canary-share`: rules on feature values (in the features' own
/// units) become the learner's ``OnlineLearner/Configuration/rules``, bad rules and shares are
/// refused naming the flag, and on the fraud workload every request a rule matches is served by
/// the version it names (the inference request's `model_version`).
@Suite struct FraudScoringRoutingTests {
    static func job(_ arguments: [String: String]) throws -> FraudScoringJob {
        try FraudScoringJob(arguments: JobArguments(arguments, parameters: FraudScoringJob.parameters, job: FraudScoringJob.name))
    }

    @Test func routesParseIntoLearnerRules() throws {
        let rules = try Self.job(["route": "amount_ratio_1h>=3:champion\ncount_5m > 2:challenger,amount<=12.5:7\nnew_merchant<1:2"])
            .learnerConfiguration().rules
        #expect(rules.map(\.slot) == [1, 2, 4, 3])
        #expect(rules.map(\.comparison) == [.atLeast, .greaterThan, .atMost, .lessThan])
        #expect(rules.map(\.version) == ["champion", "challenger", "7", "2"])
        #expect(rules[0].threshold == log(3.0) && rules[1].threshold == 0.4 && rules[3].threshold == 1)
        // The threshold compares like the encoded feature: a ratio of exactly 3 matches >= 3.
        let encoder = FraudFeatureEncoder(bits: 10)
        var x = SparseFeatures(capacity: 8)
        encoder.encode(FraudFeatureValues(amountCents: 1_200, userMeanCents1h: 400, count5m: 3, newMerchant: false), mcc: 1, merchant: 1, tsMs: 0, into: &x)
        #expect(rules[0].matches(x) && rules[1].matches(x) && rules[2].matches(x) && rules[3].matches(x))
        encoder.encode(FraudFeatureValues(amountCents: 1_251, userMeanCents1h: 1_251, count5m: 2, newMerchant: true), mcc: 1, merchant: 1, tsMs: 0, into: &x)
        #expect(!rules[0].matches(x) && !rules[1].matches(x) && !rules[2].matches(x) && !rules[3].matches(x))
        #expect(try Self.job([:]).learnerConfiguration().rules.isEmpty)
    }

    @Test func badRoutesAndSharesAreRefusedNamingTheFlag() throws {
        for bad in ["amount>=10", "amount=>10:2", "speed>=1:2", "amount>=ten:2", "amount>=10:", "amount>=0:2", "amount_ratio_1h<-1:2", "count_5m 3:2"] {
            do {
                _ = try Self.job(["route": bad])
                Issue.record("--route '\(bad)' was accepted")
            } catch let e as StreamKitError {
                #expect(e.message.contains("fraud-scoring: --route '\(bad)'") && e.message.contains("FEATURE>=NUMBER:VERSION"), "\(e.message)")
            }
        }
        for bad in ["1.5", "-0.1", "nan", "half"] {
            do {
                _ = try Self.job(["canary-share": bad])
                Issue.record("--canary-share \(bad) was accepted")
            } catch let e as StreamKitError {
                #expect(e.message.contains("--canary-share"), "\(e.message)")
            }
        }
        var policy = try #require(try Self.job(["canary-share": "0.35"]).learnerConfiguration().retraining)
        #expect(policy.canaryShare == 0.35)
        policy = try #require(try Self.job([:]).learnerConfiguration().retraining)
        #expect(policy.canaryShare == 0.2)
    }

    /// The whole job on 40 000 transactions: before the drift-triggered fork the champion serves
    /// everything; after it, requests with 3+ transactions in 5 minutes stay on the champion
    /// (first rule), other requests at a new merchant go to the challenger (second rule), the
    /// rest to the champion (canary share 0).
    @Test(.timeLimit(.minutes(15)))
    func ruleMatchesAreServedByTheNamedVersion() async throws {
        let dir = TempDir("fraud-routes")
        defer { dir.cleanup() }
        let input = dir.file("fraud.jsonl"), out = dir.file("out.ndjson")
        try FraudWorkload.writeFile(path: input, configuration: FraudWorkload.Configuration(transactions: 40_000, seed: 7))
        let arguments = ["route": "count_5m>=3:champion\nnew_merchant>=1:challenger", "canary-share": "0", "min-examples": "1000000"]
        let job = try ExampleJobs.make("fraud-scoring", arguments: arguments, context: JobContext(input: .file(input), output: .file(out)))
        _ = try await job.run()
        var fork: Int64? = nil
        var predictions: [(time: Int64, version: String, count5m: Double, newMerchant: Double)] = []
        for line in try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n") {
            let j = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            switch j["type"] as? String {
            case "decision" where j["kind"] as? String == "fork": fork = (j["event_time"] as! NSNumber).int64Value
            case "prediction":
                let f = j["features"] as! [String: Double]
                predictions.append(((j["event_time"] as! NSNumber).int64Value, j["model_version"] as! String, f["2"] ?? 0, f["3"] ?? 0))
            default: break
            }
        }
        #expect(predictions.count == 40_000)
        let forkTime = try #require(fork, "the drift forks a challenger")
        // At the fork's own event time the fork comes first (drift triggers before requests).
        #expect(predictions.filter { $0.time < forkTime }.allSatisfy { $0.version == "1" })
        let after = predictions.filter { $0.time >= forkTime }
        func expected(_ p: (time: Int64, version: String, count5m: Double, newMerchant: Double)) -> String {
            p.count5m >= 0.6 ? "1" : p.newMerchant >= 1 ? "2" : "1"
        }
        let wrong = after.filter { $0.version != expected($0) }
        #expect(wrong.isEmpty, "\(wrong.count) of \(after.count) requests after the fork served by another version than their rule's, e.g. \(wrong.prefix(3))")
        let byChallenger = after.filter { $0.version == "2" }.count
        let champions = after.filter { $0.count5m >= 0.6 && $0.newMerchant >= 1 }.count
        #expect(byChallenger > 100 && champions > 0, "the challenger served \(byChallenger) of \(after.count); \(champions) new-merchant bursts stayed on the champion")
    }
}
