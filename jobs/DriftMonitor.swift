public import Foundation
public import StreamKit
public import FeatureJobs
public import StreamKitKafka

/// `drift-monitor`: the distribution of interaction `amount` per 10-minute window against a
/// baseline (`--baseline FILE`: a JSON array or NDJSON of numbers) or, without one, the previous
/// window — PSI, KS, Jensen–Shannon, mean shift. Reports go to the output (NDJSON file, or the
/// log), alerts to `--alert-topic` on Kafka (and to the output file as well).
public struct DriftMonitorJob: ExampleJob {
    public static let name = "drift-monitor"
    public static let summary = "amount distribution per 10 minutes vs a baseline (--baseline) or the previous window: PSI, KS, JS, z; alerts to --alert-topic"
    public static let parameters = [
        JobParameter("window-size", "length of the compared windows", default: "10m"),
        JobParameter("baseline", "baseline file (JSON array or NDJSON of numbers); default: the previous window"),
        JobParameter("alert-topic", "produce alerts to this Kafka topic"),
        JobParameter("dead-letters", "file for malformed events"),
    ]

    public struct Observation: Sendable { public var feature: String; public var value: Double; public var time: EventTime }

    let window: Duration
    let baseline: String?
    let alertTopic: String?
    let deadLetters: String?

    public init(arguments: JobArguments) throws {
        window = try arguments.duration("window-size", default: .minutes(10))
        baseline = arguments.string("baseline")
        alertTopic = arguments.string("alert-topic")
        deadLetters = arguments.string("dead-letters")
    }

    public func job(_ io: JobContext) throws -> Job {
        var baselines: [String: DriftBaseline] = [:]
        if let path = baseline {
            baselines["amount"] = try DriftBaseline.load(contentsOf: URL(fileURLWithPath: path))
        }
        var configuration = DriftMonitor<Observation>.Configuration(windowSize: window, baselines: baselines)
        configuration.thresholds.ksPValue = 0.001
        let monitorConfiguration = configuration
        let deadLetters = self.deadLetters, alertTopic = self.alertTopic
        return Job(Self.name) { env in
            let reports = Self.monitor(interactions(env, io, deadLetters: deadLetters), monitorConfiguration)
            switch io.output {
            case let .file(path): Self.writeReports(reports, to: path)
            case .redis: Self.writeReports(reports, to: "-")
            }
            if let topic = alertTopic { Self.sendAlerts(reports, io: io, topic: topic) }
        }
    }

    static func monitor(_ stream: DataStream<Interaction>, _ configuration: DriftMonitor<Observation>.Configuration) -> DataStream<DriftReport> {
        stream
            .map("observations") { Observation(feature: "amount", value: $0.amount, time: $0.tsMs) }
            .assignTimestamps({ $0.time }, watermark: .boundedOutOfOrderness(.seconds(2)), idleness: .seconds(10))
            .keyBy { $0.feature }
            .process(DriftMonitor<Observation>(configuration) { $0.value })
    }

    static func json<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return (try? encoder.encode(value)).map(Array.init) ?? Array("{}".utf8)
    }

    static func writeReports(_ reports: DataStream<DriftReport>, to path: String) {
        reports.writeLines(to: path) { r, out in out.append(contentsOf: json(r)) }
    }

    static func sendAlerts(_ reports: DataStream<DriftReport>, io: JobContext, topic: String) {
        reports.driftAlerts().writeToKafka(io.kafka, KafkaSinkConfiguration(topic: topic), name: "alerts") { a in
            KafkaMessage(key: Array(a.feature.utf8), value: json(a))
        }
    }
}
