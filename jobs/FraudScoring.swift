public import Foundation
public import StreamKit
public import FeatureJobs
public import StreamKitDebezium
public import StreamKitJSON
public import StreamKitKafka
public import StreamKitRedis

/// `fraud-scoring`: the ML loop on the fraud workload (`cdc-features generate --workload fraud`).
///
///     transactions + chargebacks (Debezium CDC, one file or topic; or `--topic` transactions
///     with `--labels-topic` chargebacks, the two topics a capture writes, one per table)
///       → per-user point-in-time features (1 h mean amount, 5 min count, new merchant)  [keyed by user]
///       → hashed feature vector → inference request (request id)                         ┐
///       → chargebacks as labels (by transaction id)                                      ├→ OnlineLearner [keyed by model]
///       → DriftMonitor on the amount (1 h windows) → drift triggers                      │
///     operators' promote / rollback commands (`--commands-topic`, Kafka)                 ┘
///     OnlineLearner: routing (champion / canary challenger), scoring, labels within the horizon
///     (no chargeback → negative), FTRL updates, prequential evaluation, fork / promote / rollback;
///     `--route` rules on feature values and `--canary-share` set the routing; an operator's
///     command is applied once, when it arrives (``OnlineLearner``).
///
/// Output (`--out FILE`): one JSON line per served prediction
/// (`{"type":"prediction","request_id":…,"label_key":…,"entity":…,"model_version":…,"score":…,"event_time":…,"features":{"0":1,…}}`,
/// the feature vector exactly as served),
/// evaluation (`"type":"evaluation"`: log-loss, AUC, count per version) and decision
/// (`"type":"decision"`, with its numbers). `--inference-topic` also produces the predictions to
/// Kafka, with the request id in the `streamkit.request.id` header.
public struct FraudScoringJob: ExampleJob {
    public static let name = "fraud-scoring"
    public static let summary = "transactions + chargebacks CDC → user features → routed online FTRL scoring → delayed labels → updates → prequential evaluation → drift-triggered challenger, promotion"
    public static let parameters = [
        JobParameter("model", "model name (the learner's key)", default: "fraud"),
        JobParameter("horizon", "label horizon: no chargeback within it is a negative", default: "3h"),
        JobParameter("learn-at", "horizon (every transaction learned when its horizon closes) or label (positives on arrival)", default: "horizon"),
        JobParameter("drift-window", "DriftMonitor window on the amount", default: "1h"),
        JobParameter("retrain", "fork a challenger when the DriftMonitor fires (true/false)", default: "true"),
        JobParameter("score-drift-psi", "also fork a challenger when the champion's score distribution in one --drift-window differs from the window before by at least this PSI (0: off)", default: "0"),
        JobParameter("canary-share", "share of users (0…1) a challenger serves (the sticky canary split)", default: "0.2"),
        JobParameter("route", "route requests by a feature value before the split: FEATURE>=NUMBER:VERSION (also >, <=, <; FEATURE amount, amount_ratio_1h, count_5m or new_merchant; VERSION a version, champion or challenger; repeatable, first match wins)"),
        JobParameter("labels-topic", "with --topic: also read this Kafka topic (e.g. the capture's chargebacks topic, --topic its transactions topic); rows with a transaction_id are labels, whichever topic they come from"),
        JobParameter("commands-topic", "apply operators' promote/rollback commands (cdc-features models promote|rollback, /api/v1/models) from this Kafka topic, e.g. model-commands"),
        JobParameter("min-examples", "paired labels before promotion or rollback", default: "2000"),
        JobParameter("margin", "log-loss improvement a challenger must show", default: "0"),
        JobParameter("report-every", "labels between evaluation records", default: "2000"),
        JobParameter("bits", "log2 of the hashed feature space", default: "18"),
        JobParameter("alpha", "FTRL alpha", default: "0.5"),
        JobParameter("l1", "FTRL L1", default: "0.5"),
        JobParameter("predictions", "write prediction lines (true/false)", default: "true"),
        JobParameter("inference-topic", "produce predictions as inference requests to this topic"),
        JobParameter("registry", "mirror versions, aliases and live metrics into the Redis model registry with this key prefix"),
        JobParameter("model-events-topic", "with --registry: produce every registry change to this Kafka topic", default: "model-events"),
        JobParameter("dead-letters", "file for malformed events"),
    ]

    /// A row of `transactions` or `chargebacks` (chargebacks have a transaction id).
    public struct Row: Decodable, Sendable {
        public var id: Int64
        public var userId: Int64
        public var merchantId: Int64?
        public var mcc: Int64?
        public var amount: Double?
        public var transactionId: Int64?
        public var tsMs: Int64
    }

    /// A transaction with its point-in-time features.
    public struct Features: Sendable {
        public var row: Row
        public var values: FraudFeatureValues
    }

    /// The per-user feature state (``UserTransactionHistory``) as a keyed function.
    public struct UserFeatures: KeyedProcessFunction {
        public typealias Key = Int64
        var history: ValueState<Int64, UserTransactionHistory>!
        public init() {}
        public mutating func open(state: KeyedStateStore<Int64>) throws {
            history = state.valueState("fraud.history", of: UserTransactionHistory.self, ttl: nil)
        }
        public func processElement(_ row: Row, context: KeyedProcessContext<Int64, Features>) throws {
            var h = history.value ?? UserTransactionHistory()
            history.clear()
            let cents = Int64(((row.amount ?? 0) * 100).rounded())
            let v = h.observe(ts: context.timestamp, cents: cents, merchant: row.merchantId ?? 0)
            history.update(h)
            context.emit(Features(row: row, values: v))
        }
    }

    public static let view = FeatureView(name: "fraud_transaction", entityKey: "user_id",
                                         features: [.double("amount_ratio_1h"), .int("count_5m"), .int("new_merchant")], ttl: .hours(3))

    let learnAtHorizon: Bool
    let retrain: Bool
    let scoreDriftPSI: Double
    let model: String, horizon: Duration, driftWindow: Duration, canaryShare: Double, minExamples: Int, margin: Double
    let reportEvery: Int, bits: Int, alpha: Double, l1: Double, writePredictions: Bool
    let inferenceTopic: String?, deadLetters: String?
    let registryPrefix: String?, modelEventsTopic: String
    let rules: [TrafficSplit.Rule]
    let commandsTopic: String?
    let labelsTopic: String?

    public init(arguments a: JobArguments) throws {
        model = a.string("model", default: "fraud")
        horizon = try a.duration("horizon", default: .hours(3))
        driftWindow = try a.duration("drift-window", default: .hours(1))
        switch a.string("learn-at", default: "horizon") {
        case "horizon": learnAtHorizon = true
        case "label": learnAtHorizon = false
        default: throw StreamKitError(.configuration, "\(Self.name): --learn-at must be horizon or label")
        }
        canaryShare = try a.double("canary-share", default: 0.2)
        retrain = try a.bool("retrain", default: true)
        scoreDriftPSI = try a.double("score-drift-psi", default: 0)
        guard scoreDriftPSI >= 0 && scoreDriftPSI.isFinite else {
            throw StreamKitError(.configuration, "\(Self.name): --score-drift-psi must be a number ≥ 0 (0: off)")
        }
        minExamples = try a.int("min-examples", default: 2_000)
        margin = try a.double("margin", default: 0)
        reportEvery = try a.int("report-every", default: 2_000)
        bits = try a.int("bits", default: 18)
        alpha = try a.double("alpha", default: 0.5)
        l1 = try a.double("l1", default: 0.5)
        writePredictions = try a.bool("predictions", default: true)
        inferenceTopic = a.string("inference-topic"); deadLetters = a.string("dead-letters")
        registryPrefix = a.string("registry"); modelEventsTopic = a.string("model-events-topic", default: "model-events")
        commandsTopic = a.string("commands-topic")
        if let topic = commandsTopic, topic.isEmpty { throw StreamKitError(.configuration, "\(Self.name): --commands-topic must not be empty") }
        labelsTopic = a.string("labels-topic")
        if let topic = labelsTopic, topic.isEmpty || topic.contains(",") {
            throw StreamKitError(.configuration, "\(Self.name): --labels-topic must name one topic")
        }
        // --route is repeatable: the values come one per line (or comma separated).
        rules = try (a.string("route") ?? "").split(whereSeparator: { $0 == "\n" || $0 == "," }).map {
            do { return try FraudFeatureEncoder.routingRule(String($0)) }
            catch let e as StreamKitError { throw StreamKitError(.configuration, "\(Self.name): \(e.message)") }
        }
        guard (0...1).contains(canaryShare) else { throw StreamKitError(.configuration, "\(Self.name): --canary-share must be in [0, 1]") }
        guard (4...26).contains(bits) else { throw StreamKitError(.configuration, "\(Self.name): --bits must be in 4...26") }
        guard minExamples > 0, reportEvery > 0, alpha > 0, l1 >= 0 else {
            throw StreamKitError(.configuration, "\(Self.name): --min-examples, --report-every and --alpha must be positive, --l1 non-negative")
        }
    }

    /// The learner's configuration.
    public func learnerConfiguration() -> OnlineLearner<FTRLLogisticRegression>.Configuration {
        var c = OnlineLearner<FTRLLogisticRegression>.Configuration(versions: ["1"], horizon: horizon)
        c.reportEvery = reportEvery
        c.learnAt = learnAtHorizon ? .horizon : .labelArrival
        var policy = OnlineLearner<FTRLLogisticRegression>.RetrainingPolicy()
        policy.canaryShare = canaryShare; policy.minExamples = minExamples; policy.margin = margin
        c.retraining = retrain ? policy : nil
        if scoreDriftPSI > 0 {
            var drift = OnlineLearner<FTRLLogisticRegression>.ScoreDriftPolicy()
            drift.window = driftWindow; drift.psiThreshold = scoreDriftPSI
            c.scoreDrift = drift
        }
        c.rules = rules
        return c
    }

    /// The Kafka topics the change events come from: `--topic`, plus `--labels-topic` when given.
    /// `--labels-topic` needs Kafka input (`--topic`) and a topic other than it.
    public func inputTopics(_ io: JobContext) throws -> [String] {
        guard case let .kafka(topic) = io.input else {
            if labelsTopic != nil {
                throw StreamKitError(.configuration, "\(Self.name): --labels-topic reads Kafka next to --topic; with --input FILE both tables' change events are in the file")
            }
            return []
        }
        guard let labels = labelsTopic else { return [topic] }
        guard labels != topic else {
            throw StreamKitError(.configuration, "\(Self.name): --labels-topic '\(labels)' is the --topic itself; give the chargebacks' topic, or leave it out when one topic holds both tables")
        }
        return [topic, labels]
    }

    public func job(_ io: JobContext) throws -> Job {
        let topics = try inputTopics(io)
        let encoder = FraudFeatureEncoder(bits: bits)
        let parameters = FTRLParameters(alpha: alpha, beta: 1, l1: l1, l2: 1)
        let dimension = encoder.dimension
        let learner = OnlineLearner<FTRLLogisticRegression>(learnerConfiguration(), logger: io.logger) { _ in
            FTRLLogisticRegression(dimension: dimension, parameters: parameters)
        }
        var drift = DriftMonitor<DriftMonitorJob.Observation>.Configuration(windowSize: driftWindow)
        drift.thresholds.ksPValue = 0.001
        let driftConfiguration = drift
        let model = self.model, deadLetters = self.deadLetters, inferenceTopic = self.inferenceTopic, writePredictions = self.writePredictions
        let registryPrefix = self.registryPrefix, modelEventsTopic = self.modelEventsTopic, commandsTopic = self.commandsTopic
        let registryParameters = ["alpha": String(alpha), "beta": "1", "l1": String(l1), "l2": "1", "bits": String(bits),
                                  "horizon": "\(horizon)", "learn_at": learnAtHorizon ? "horizon" : "label"]
        return Job(Self.name) { env in
            let changes: DataStream<DebeziumRecord<Row>>
            switch io.input {
            case let .file(path):
                changes = env.source(FileSource(path: path, decoder: DebeziumLineDecoder(Row.self)), name: "fraud-cdc")
            case .kafka:
                // One source over both topics: watermarks and idleness are tracked per partition
                // of each topic, so transactions and chargebacks need not arrive interleaved.
                var c = KafkaSourceConfiguration(topics: topics, groupID: io.groupID, startFrom: io.startFrom)
                c.bounded = io.bounded
                c.sessionTimeout = .seconds(2); c.heartbeatInterval = .milliseconds(500)
                changes = env.source(KafkaSource(kafka: io.kafka, c, decoder: DebeziumLineDecoder(Row.self)), name: "fraud-cdc")
            }
            if let dead = deadLetters { changes.sideOutput(DeadLetter<String>.self).writeDeadLetters(to: dead) }
            let rows = changes.afterImages()
                .assignTimestamps({ $0.tsMs }, watermark: .boundedOutOfOrderness(.seconds(5)), idleness: .seconds(10))
            let features = rows.filter("transactions") { $0.transactionId == nil }
                .keyBy { $0.userId }
                .process(UserFeatures(), name: "user-features")
            let requests = features.map("score-requests") { f -> LearningEvent in
                var x = SparseFeatures(capacity: 8)
                encoder.encode(f.values, mcc: f.row.mcc ?? 0, merchant: f.row.merchantId ?? 0, tsMs: f.row.tsMs, into: &x)
                let entity = String(f.row.userId)
                let id = InferenceRequestID(view: Self.view, entity: entity, eventTime: f.row.tsMs, modelVersion: "tx:\(f.row.id)").hex
                return .score(ScoreRequest(labelKey: "tx:\(f.row.id)", requestID: id, entity: entity, features: x))
            }
            let labels = rows.filter("chargebacks") { $0.transactionId != nil }
                .map("labels") { LearningEvent.label(LabelEvent(labelKey: "tx:\($0.transactionId!)", label: 1)) }
            let triggers = features
                .map("amounts") { DriftMonitorJob.Observation(feature: "amount", value: Double($0.values.amountCents) / 100, time: $0.row.tsMs) }
                .keyBy { $0.feature }
                .process(DriftMonitor<DriftMonitorJob.Observation>(driftConfiguration) { $0.value }, name: "drift-monitor")
                .flatMap("drift-triggers") { (report: DriftReport, emit: (LearningEvent) -> Void) in
                    if let t = RetrainTrigger(report) { emit(.drift(t)) }
                }
            var inputs = [requests, labels, triggers]
            if let topic = commandsTopic {
                // Operators' commands: applied by the learner when they arrive, once per command id.
                // They carry no event time and go idle after a second, so they never hold back
                // or advance the learner's watermark.
                var c = KafkaSourceConfiguration(topics: [topic], groupID: io.groupID + "-commands", startFrom: io.startFrom)
                if case .kafka = io.input { c.bounded = io.bounded } else { c.bounded = true }
                c.sessionTimeout = .seconds(2); c.heartbeatInterval = .milliseconds(500)
                inputs.append(env.source(KafkaSource(kafka: io.kafka, c, decoder: JSONRowDecoder(ModelCommand.self, keys: .useDefaultKeys)),
                                         name: "model-commands")
                    .filter("commands-for-model") { $0.model == model }
                    .assignTimestamps({ _ in Watermark.none }, watermark: .monotonous, idleness: .seconds(1))
                    .map("commands") { LearningEvent.command($0) })
            }
            let outputs = env.union(inputs)
                .keyBy { _ in model }
                .process(learner, name: "online-learner")
            switch io.output {
            case let .file(path): Self.writeOutputs(outputs, to: path, predictions: writePredictions)
            case .redis: Self.writeOutputs(outputs, to: "-", predictions: false)
            }
            outputs.sink("model-metrics", parallelism: 1) { ModelMetricsSink() }
            if let prefix = registryPrefix {
                outputs.sink("model-registry", parallelism: 1) {
                    ModelRegistrySink(redis: io.redis, kafka: io.kafka, prefix: prefix, eventsTopic: modelEventsTopic,
                                      model: model, parameters: registryParameters)
                }
            }
            if let topic = inferenceTopic {
                outputs.flatMap("predictions") { (o: OnlineLearningOutput, emit: (ServedPrediction) -> Void) in
                    if let p = o.prediction { emit(p) }
                }
                .writeToKafka(io.kafka, KafkaSinkConfiguration(topic: topic), name: "inference-requests") { p in
                    KafkaMessage(key: Array(p.entity.utf8), value: Self.json(.prediction(p)),
                                 headers: [KafkaHeader(name: InferenceRequestID.header, value: Array(p.requestID.utf8))])
                }
            }
        }
    }

    static func writeOutputs(_ outputs: DataStream<OnlineLearningOutput>, to path: String, predictions: Bool) {
        outputs.writeLines(to: path) { o, out in
            if !predictions, o.prediction != nil { return }
            out.append(contentsOf: json(o))
        }
    }

    /// One output record as a JSON object.
    public static func json(_ o: OnlineLearningOutput) -> [UInt8] {
        var w = JSONWriter(capacity: 256)
        w.beginObject()
        switch o {
        case let .prediction(p):
            w.field("type", "prediction"); w.field("request_id", p.requestID); w.field("label_key", p.labelKey); w.field("entity", p.entity)
            w.field("model_version", p.modelVersion); w.field("score", p.score); w.field("event_time", p.eventTime)
            // The feature vector exactly as served (hashed index → value): what the model learns from.
            w.key("features"); w.beginObject()
            for k in 0..<p.features.count { w.key(String(p.features.indices[k])); w.value(p.features.values[k]) }
            w.endObject()
        case let .update(u):
            w.field("type", "update"); w.field("model_version", u.modelVersion); w.field("request_id", u.requestID)
            w.field("score", u.score); w.field("label", u.label); w.field("by_horizon", u.byHorizon)
        case let .evaluation(e):
            w.field("type", "evaluation"); w.field("model", e.model); w.field("model_version", e.modelVersion)
            w.field("event_time", e.eventTime); w.field("updates", e.updates); w.field("count", e.metrics.count)
            w.field("positives", e.metrics.positives); w.field("log_loss", e.metrics.logLoss); w.field("auc", e.metrics.auc)
            // Calibration of the window: predicted against observed per probability bucket.
            w.key("calibration"); w.beginArray()
            for b in e.metrics.calibration where b.count > 0 {
                w.beginObject()
                w.field("lower", b.lower); w.field("upper", b.upper); w.field("count", b.count)
                w.field("mean_predicted", b.meanPredicted ?? 0); w.field("observed_rate", b.observedRate ?? 0)
                w.endObject()
            }
            w.endArray()
        case let .decision(d):
            w.field("type", "decision"); w.field("kind", d.kind.rawValue); w.field("model", d.model)
            w.field("champion", d.champion); w.field("challenger", d.challenger); w.field("event_time", d.eventTime)
            w.field("examples", d.examples); w.field("mean_logloss_difference", d.meanLogLossDifference)
            w.field("standard_error", d.standardError.isFinite ? d.standardError : -1)
            if let l = d.championLogLoss { w.field("champion_logloss", l) }
            if let l = d.challengerLogLoss { w.field("challenger_logloss", l) }
            w.field("warm_start_examples", d.warmStartExamples); w.field("reason", d.reason)
            if let id = d.command { w.field("command", id) }
        }
        w.endObject()
        return w.bytes
    }
}
