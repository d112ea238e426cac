import Testing
import StreamKit
@testable import StreamKitJobs

/// `fraud-scoring --labels-topic`: the chargebacks' own topic next to `--topic` (a capture writes
/// one topic per table). The job reads both topics with one Kafka source; a labels topic
/// without Kafka input, naming the `--topic` itself, empty or naming several topics is refused
/// naming the flag.
@Suite struct FraudScoringLabelsTopicTests {
    static func job(_ arguments: [String: String]) throws -> FraudScoringJob {
        try FraudScoringJob(arguments: JobArguments(arguments, parameters: FraudScoringJob.parameters, job: FraudScoringJob.name))
    }

    static func message(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch let e as StreamKitError { return e.message } catch { return "\(error)" }
    }

    @Test func theLabelsTopicIsReadNextToTheTopic() throws {
        let kafka = JobContext(input: .kafka(topic: "cdc.public.transactions"), output: .file("/dev/null"))
        #expect(try Self.job(["labels-topic": "cdc.public.chargebacks"]).inputTopics(kafka) == ["cdc.public.transactions", "cdc.public.chargebacks"])
        #expect(try Self.job([:]).inputTopics(kafka) == ["cdc.public.transactions"])
        #expect(try Self.job([:]).inputTopics(JobContext(input: .file("x.jsonl"), output: .file("/dev/null"))) == [])
    }

    @Test func badLabelsTopicsAreRefusedNamingTheFlag() throws {
        for bad in ["", "a,b"] {
            let m = Self.message { _ = try Self.job(["labels-topic": bad]) }
            #expect(m?.contains("fraud-scoring: --labels-topic must name one topic") == true, "\(m ?? "accepted '\(bad)'")")
        }
        let file = Self.message {
            _ = try Self.job(["labels-topic": "chargebacks"]).job(JobContext(input: .file("x.jsonl"), output: .file("/dev/null")))
        }
        #expect(file?.contains("--labels-topic reads Kafka next to --topic") == true, "\(file ?? "accepted")")
        let same = Self.message {
            _ = try Self.job(["labels-topic": "t"]).job(JobContext(input: .kafka(topic: "t"), output: .file("/dev/null")))
        }
        #expect(same?.contains("--labels-topic 't' is the --topic itself") == true, "\(same ?? "accepted")")
    }
}
