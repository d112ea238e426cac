public import StreamKit
public import Logging
import Foundation

/// Online learning with delayed labels, champion/challenger routing and drift-triggered
/// retraining, as one keyed operator (key: the model's name).
///
/// - `.score(request)`: the request is routed — to the version it names, else by the first
///   matching rule on its feature values (``Configuration/rules``), else to the challenger
///   for the canary share of entities (a sticky hash of the entity, ``TrafficSplit/point(entity:)``),
///   else to the champion. Every active version scores the features (one serves, the other
///   shadow-scores, so both are compared on the same examples); the prediction is emitted and
///   kept, with the features **exactly as served**, under its label key until `time + horizon`.
/// - `.label(event)`: joins the pending prediction by label key; every version learns from the
///   served features — never from features computed later — and its prequential window scores
///   the score it gave *before* learning. A label for an unknown key waits (its prediction may
///   come later) until its horizon.
/// - horizon timer: a prediction without a label becomes a negative
///   (``Configuration/negativeOnHorizon``) or is dropped.
/// - `.drift(trigger)` (with a ``RetrainingPolicy``): a challenger is forked — a fresh model
///   trained on the recent labelled window — and gets the canary share. After each label both
///   versions scored, a ``PairedComparison`` decides: promote (the challenger's log-loss beats
///   the champion's by the margin, significantly, over at least `minExamples`), roll back
///   (significantly worse), or wait. Each decision is emitted with its numbers.
/// - `.command(command)`: an operator's ``ModelCommand``, applied when it arrives (at the
///   learner's current watermark; it does not wait in the queue) and at most once per command
///   id (the ids are keyed state). `promote V` makes V the champion if the learner has V's
///   weights (the challenger, an active version, or an earlier champion it keeps); `rollback`
///   makes the previous champion the champion again and retires the current one. Each is
///   emitted as a ``ModelDecision`` (`promote` / `revert`) whose reason starts with `operator`
///   and which carries the command id; a command the learner cannot apply (unknown version, no
///   earlier champion, already the champion) is logged and changes nothing.
///
/// **Event-time order.** Inputs are not applied when they arrive: each waits in keyed state
/// (``LearningInputQueue``) until the watermark passes its event time, and then every waiting
/// input and horizon close before the watermark is applied in ``QueuedLearningInput`` order
/// (event time; at equal time labels, horizon closes, drift triggers, then requests; then by
/// label key / request id). A score therefore depends only on the inputs, not on how the
/// request, label and drift streams interleaved, how the upstream was parallelised or where a
/// restore happened: scores, weights, metrics and decisions are identical across runs. The
/// price is latency: a request is scored when the watermark passes it, i.e. after the slowest
/// input's out-of-orderness bound (plus its idleness timeout when it is idle). An input that
/// arrives behind the watermark (late) is applied at the next watermark advance.
///
/// Weights, pending predictions, waiting inputs, windows, routing and the recent examples are
/// keyed state: a checkpoint holds them with the source offsets, so after a restore the job
/// continues with exactly the weights and metrics of a run that never failed.
///
/// ```swift
/// events.keyBy { _ in "fraud" }
///       .process(OnlineLearner(OnlineLearner.Configuration(versions: ["1"], horizon: .hours(3))) { _ in
///           FTRLLogisticRegression(dimension: 1 << 18)
///       })
/// ```
public struct OnlineLearner<Model: OnlineModel>: KeyedProcessFunction {
    public typealias Key = String
    public typealias Input = LearningEvent
    public typealias Output = OnlineLearningOutput

    /// How a challenger starts.
    public enum ForkStrategy: Sendable, Hashable {
        /// A copy of the champion with its accumulated squared gradients scaled by `rejuvenation`
        /// (``OnlineModel/rejuvenated(_:)``): the same predictions at the fork, `1/√rejuvenation`
        /// times faster adaptation afterwards.
        case warmStart(rejuvenation: Double)
        /// A new model trained on the recent labelled window (``RetrainingPolicy/recentExamples``).
        case fresh
    }

    /// When and how a challenger is forked, promoted or rolled back.
    public struct RetrainingPolicy: Sendable {
        /// Share of entities the challenger serves. Default: 0.2.
        public var canaryShare = 0.2
        /// Paired labelled examples before any promotion or rollback. Default: 2 000.
        public var minExamples = 2_000
        /// Log-loss improvement (per example) the challenger must show. Default: 0.
        public var margin = 0.0
        /// One-sided z threshold: the level α = 1 − Φ(zCritical) of each direction. Default: 2.33 (1 %).
        public var zCritical = 2.33
        /// When the paired test is looked at. Default: ``PairedComparison/Looks/doubling`` (at
        /// minExamples, 2·minExamples, 4·minExamples, … with α spent over the looks, so the chance
        /// of a wrong promotion stays below α however long the challenger runs).
        public var looks: PairedComparison.Looks = .doubling
        /// How the challenger starts. Default: ``ForkStrategy/warmStart(rejuvenation:)`` with 0.01.
        public var fork: ForkStrategy = .warmStart(rejuvenation: 0.01)
        /// Recent labelled examples kept for ``ForkStrategy/fresh``. Default: 5 000.
        public var recentExamples = 5_000
        /// Drift reports this soon after a fork are ignored (event time). Default: 2 h.
        public var coolDown: Duration = .hours(2)
        public init() {}
    }

    /// Drift of the champion's score distribution: its scores (of every request, whoever served
    /// it) are counted in buckets per event-time window, and when a window closes it is compared
    /// with the one before it; a PSI at or above ``psiThreshold`` forks a challenger as a feature
    /// drift report does (with a ``RetrainingPolicy``; the same cool-down applies). A new
    /// champion starts the comparison afresh.
    public struct ScoreDriftPolicy: Sendable {
        /// Event-time window. Default: 1 h.
        public var window: Duration = .hours(1)
        /// PSI at or above which the shift is significant. Default: 0.25 (the usual "significant
        /// shift" of credit scoring).
        public var psiThreshold = 0.25
        /// Scores each of the two windows needs before they are compared. Default: 500.
        public var minCount = 500
        /// Updates the champion needs before its scores are counted: a young model's scores move
        /// while it learns, which is not drift. Default: 5,000.
        public var warmUpUpdates: Int64 = 5_000
        /// Ascending bucket edges of the score (bucket `i` holds scores below `edges[i]`, the last
        /// one the rest). Default: for probabilities, σ(−7)…σ(8) — equal steps in log-odds, so a
        /// rare-event model's low scores are not all in one bucket.
        public var edges: [Double] = (-7...8).map { 1 / (1 + exp(-Double($0))) }
        public init() {}

        /// The bucket of `score`.
        @inlinable
        public func bucket(_ score: Double) -> Int {
            var lo = 0, hi = edges.count
            while lo < hi {
                let mid = (lo + hi) >> 1
                if score < edges[mid] { hi = mid } else { lo = mid + 1 }
            }
            return lo
        }
    }

    /// When a prediction is learned from.
    public enum LabelTiming: Sendable, Hashable {
        /// As soon as its label arrives (negatives when the horizon closes). Freshest, but when
        /// positives arrive sooner than the horizon the model sees them hours before the
        /// negatives of the same time: a biased, time-varying label mix (Chapelle, KDD 2014).
        case labelArrival
        /// When its horizon closes, with the label it has then (a positive if one arrived):
        /// every example is learned after the same delay, so the label mix is unbiased.
        case horizon
    }

    public struct Configuration: Sendable {
        /// Versions every key starts with; the first is the champion.
        public var versions: [String]
        /// How long a prediction waits for its label (event time).
        public var horizon: Duration
        /// Whether a prediction whose horizon closes without a label is learned as a negative
        /// (label 0). Default: true (chargebacks, clicks: silence means no).
        public var negativeOnHorizon = true
        /// Labelled predictions per evaluation window and version. Default: 5 000.
        public var windowCapacity = 5_000
        /// Emit a ``ModelEvaluation`` every this many labels per version. Default: 1 000.
        public var reportEvery = 1_000
        /// Emit a ``ModelUpdate`` per learned example. Default: false.
        public var emitUpdates = false
        /// When a labelled prediction is learned. Default: ``LabelTiming/labelArrival``.
        public var learnAt: LabelTiming = .labelArrival
        /// Drift-triggered retraining. Default: nil (drift events are ignored).
        public var retraining: RetrainingPolicy? = nil
        /// Monitoring of the champion's score distribution, a second drift trigger (with
        /// ``retraining``). Default: nil (only ``LearningEvent/drift(_:)`` inputs trigger).
        public var scoreDrift: ScoreDriftPolicy? = nil
        /// Salt of the sticky canary split.
        public var salt: UInt64 = 0x5EED
        /// Routing rules on live feature values, checked before the canary split; a rule's
        /// version is a version name or the alias `champion` / `challenger` (a rule naming an
        /// inactive version is skipped). Default: none.
        public var rules: [TrafficSplit.Rule] = []
        /// Earlier champions whose weights are kept (frozen) for an operator's rollback or
        /// promote. Default: 2.
        public var keptChampions = 2
        public init(versions: [String], horizon: Duration) {
            precondition(!versions.isEmpty, "at least one model version")
            precondition(horizon.milliseconds > 0, "horizon must be positive")
            self.versions = versions; self.horizon = horizon
        }
    }

    public let configuration: Configuration
    @usableFromInline let makeModel: @Sendable (String) -> Model
    var models: MapState<String, String, Model>!
    var windows: MapState<String, String, PrequentialWindow>!
    var pending: MapState<String, String, PendingPrediction>!
    var queue: ValueState<String, LearningInputQueue>!
    var versionList: ValueState<String, [String]>!
    var routing: ValueState<String, ModelRouting>!
    var recent: ValueState<String, RecentExamples>!
    var history: ValueState<String, [String]>!
    var commands: ValueState<String, AppliedModelCommands>!
    var scoreWindows: ValueState<String, ScoreDriftWindows>!
    let logger: Logger

    /// A learner creating each version's initial model with `makeModel(version)`; operator
    /// commands and what became of them are logged to `logger`.
    public init(_ configuration: Configuration, logger: Logger = .disabled, makeModel: @escaping @Sendable (String) -> Model) {
        self.configuration = configuration; self.makeModel = makeModel; self.logger = logger
    }

    public mutating func open(state: KeyedStateStore<String>) throws {
        models = state.mapState("learner.models", of: (String, Model).self)
        windows = state.mapState("learner.windows", of: (String, PrequentialWindow).self)
        pending = state.mapState("learner.pending", of: (String, PendingPrediction).self)
        queue = state.valueState("learner.queue", of: LearningInputQueue.self)
        versionList = state.valueState("learner.versions", of: [String].self)
        routing = state.valueState("learner.routing", of: ModelRouting.self)
        recent = state.valueState("learner.recent", of: RecentExamples.self)
        history = state.valueState("learner.history", of: [String].self)
        commands = state.valueState("learner.commands", of: AppliedModelCommands.self)
        scoreWindows = state.valueState("learner.score-windows", of: ScoreDriftWindows.self)
    }

    /// The active versions of the current key (created on first use).
    func versions() -> [String] {
        if let v = versionList.value { return v }
        for v in configuration.versions {
            models[v] = makeModel(v)
            windows[v] = PrequentialWindow(capacity: configuration.windowCapacity)
        }
        versionList.update(configuration.versions)
        let numeric = configuration.versions.compactMap { Int64($0) }.max() ?? 0
        routing.update(ModelRouting(champion: configuration.versions[0], nextVersion: numeric + 1))
        return configuration.versions
    }

    /// Queues the input until the watermark passes its event time (see ``QueuedLearningInput``
    /// for the order inputs are applied in).
    public func processElement(_ event: LearningEvent, context: KeyedProcessContext<String, OnlineLearningOutput>) throws {
        if case let .command(command) = event { return apply(command, context: context) }
        let ts = context.timestamp
        guard ts != Watermark.none, let input = QueuedLearningInput(event, time: ts) else {
            throw StreamKitError(.configuration, "OnlineLearner needs event time: call assignTimestamps before it")
        }
        var q = queue.value ?? LearningInputQueue()
        queue.clear()                       // drop the state's reference: the heap grows in place
        let earliest = q.earliestTime
        q.insert(input)
        queue.update(q)
        // One timer, just after the earliest waiting input: it fires once no input at or
        // before that time can still arrive (a record at the watermark is on time, one before
        // it is late), and then everything the watermark has passed is applied in order.
        if earliest == nil || ts < earliest! { context.registerEventTimeTimer(ts &+ 1) }
    }

    /// Applies, in ``QueuedLearningInput`` order, every waiting input and horizon close before
    /// the watermark.
    public func onTimer(_ time: Int64, domain: TimeDomain, context: KeyedProcessContext<String, OnlineLearningOutput>) throws {
        guard domain == .eventTime, var q = queue.value else { return }
        queue.clear()
        let watermark = context.currentWatermark
        defer {
            if let next = q.earliestTime {
                queue.update(q)
                context.registerEventTimeTimer(next &+ 1)
            }
        }
        while let input = q.popFirst(before: watermark) {
            try apply(input, queue: &q, context: context)
        }
    }

    /// One input at its event time: score a request, record a label, close a horizon, or fork.
    func apply(_ input: QueuedLearningInput, queue q: inout LearningInputQueue, context: KeyedProcessContext<String, OnlineLearningOutput>) throws {
        let ts = input.time
        let versions = versions()
        switch input.payload {
        case let .score(request):
            let route = routing.value!
            let served: String
            if let named = request.modelVersion {
                served = named
            } else if let ruled = routedByRule(request.features, route: route, active: versions) {
                served = ruled
            } else if let challenger = route.challenger,
                      TrafficSplit.point(entity: request.entity, salt: configuration.salt) < route.canaryShare {
                served = challenger
            } else {
                served = route.champion
            }
            guard versions.contains(served) else {
                throw StreamKitError(.configuration, "request \(request.requestID) routed to unknown model version '\(served)' (active: \(versions.joined(separator: ", ")))")
            }
            var scores: [Double] = []
            scores.reserveCapacity(versions.count)
            var champion: (score: Double, updates: Int64)? = nil
            for v in versions {
                let m = models[v]!
                scores.append(m.predict(request.features))
                if v == route.champion { champion = (scores[scores.count - 1], m.updates) }
            }
            let score = scores[versions.firstIndex(of: served)!]
            context.emit(.prediction(ServedPrediction(requestID: request.requestID, labelKey: request.labelKey, entity: request.entity,
                                                      modelVersion: served, score: score, eventTime: ts, features: request.features)),
                         timestamp: ts)
            if let policy = configuration.scoreDrift, let champion, champion.updates >= policy.warmUpUpdates {
                observeChampionScore(champion.score, at: ts, policy: policy, context: context)
            }
            let existing = pending[request.labelKey]
            let early = existing?.isPlaceholder == true ? existing!.label : nil
            let deadline = ts + configuration.horizon.milliseconds
            let p = PendingPrediction(requestID: request.requestID, servedBy: served, eventTime: ts, features: request.features,
                                      versions: versions, scores: scores, label: early, deadline: deadline)
            if let label = early, configuration.learnAt == .labelArrival {
                pending[request.labelKey] = nil
                learn(p, label: label, byHorizon: false, key: request.labelKey, at: ts, context: context)
            } else {
                pending[request.labelKey] = p
                q.insert(QueuedLearningInput(time: deadline, payload: .horizonClose(labelKey: request.labelKey)))
            }
        case let .label(event):
            if var p = pending[event.labelKey], !p.isPlaceholder {
                if configuration.learnAt == .labelArrival {
                    pending[event.labelKey] = nil
                    learn(p, label: event.label, byHorizon: false, key: event.labelKey, at: ts, context: context)
                } else {
                    p.label = event.label           // learned when the horizon closes
                    pending[event.labelKey] = p
                }
            } else {
                // The prediction has not been seen yet: keep the label until the horizon.
                let deadline = ts + configuration.horizon.milliseconds
                pending[event.labelKey] = PendingPrediction(requestID: "", servedBy: "", eventTime: ts, features: SparseFeatures(capacity: 0),
                                                            versions: [], scores: [], label: event.label, deadline: deadline)
                q.insert(QueuedLearningInput(time: deadline, payload: .horizonClose(labelKey: event.labelKey)))
            }
        case let .horizonClose(key):
            guard let p = pending[key], p.deadline == ts else { return }   // learned already, or another close's
            pending[key] = nil
            if p.isPlaceholder { return }                          // a label whose prediction never came
            if let label = p.label {
                learn(p, label: label, byHorizon: false, key: key, at: ts, context: context)
            } else if configuration.negativeOnHorizon {
                learn(p, label: 0, byHorizon: true, key: key, at: ts, context: context)
            }
        case let .drift(trigger):
            fork(trigger, at: ts, context: context)
        }
    }

    /// The version of the first rule the features match, if it is active.
    func routedByRule(_ x: SparseFeatures, route: ModelRouting, active: [String]) -> String? {
        for rule in configuration.rules {
            guard rule.matches(x) else { continue }
            let version = rule.version == "champion" ? route.champion : rule.version == "challenger" ? route.challenger : rule.version
            if let v = version, active.contains(v) { return v }
        }
        return nil
    }

    /// Every active version learns the served features with `label`; a version that scored the
    /// prediction when it was served also evaluates that score (a challenger forked later learns
    /// from the example but is not evaluated on it: its score now would have seen newer labels).
    /// Then the champion/challenger test is updated.
    func learn(_ p: PendingPrediction, label: Double, byHorizon: Bool, key: String, at time: EventTime, context: KeyedProcessContext<String, OnlineLearningOutput>) {
        for v in versions() {
            guard var model = models[v], var window = windows[v] else { continue }
            models[v] = nil; windows[v] = nil     // drop the state's references: the weights mutate in place
            model.learn(p.features, label: label)
            guard let i = p.versions.firstIndex(of: v) else { models[v] = model; windows[v] = window; continue }
            let score = p.scores[i]
            window.add(score: score, label: label >= 0.5)
            if configuration.emitUpdates {
                context.emit(.update(ModelUpdate(modelVersion: v, requestID: p.requestID, labelKey: key, score: score, label: label,
                                                 byHorizon: byHorizon, predictionTime: p.eventTime)), timestamp: time)
            }
            if window.total % Int64(configuration.reportEvery) == 0 {
                context.emit(.evaluation(ModelEvaluation(model: context.key, modelVersion: v, eventTime: time,
                                                         updates: model.updates, metrics: window.metrics())), timestamp: time)
            }
            models[v] = model; windows[v] = window
        }
        if let policy = configuration.retraining, policy.fork == .fresh {
            var r = recent.value ?? RecentExamples(capacity: policy.recentExamples)
            recent.clear()
            r.add(LabelledExample(features: p.features, label: label))
            recent.update(r)
        }
        if configuration.retraining != nil { compare(p, label: label, at: time, context: context) }
    }

    /// Counts the champion's score; a closed window whose PSI against the one before it reaches
    /// the threshold triggers a fork.
    func observeChampionScore(_ score: Double, at time: EventTime, policy: ScoreDriftPolicy,
                              context: KeyedProcessContext<String, OnlineLearningOutput>) {
        var w = scoreWindows.value ?? ScoreDriftWindows(buckets: policy.edges.count + 1)
        scoreWindows.clear()                // drop the state's reference: the counts mutate in place
        let shift = w.add(bucket: policy.bucket(score), at: time, window: policy.window.milliseconds, minCount: Int64(policy.minCount))
        scoreWindows.update(w)
        guard let shift, shift.psi >= policy.psiThreshold else { return }
        let size = policy.window.milliseconds
        fork(RetrainTrigger(feature: "score", description: "champion score drift: PSI \(shift.psi) of [\(shift.closedStart), \(shift.closedStart + size)) (\(shift.closedCount) scores) vs [\(shift.previousStart), \(shift.previousStart + size)) (\(shift.previousCount))"),
             at: time, context: context)
    }

    /// Forks a challenger on drift (unless one is running or the last fork is too recent).
    func fork(_ trigger: RetrainTrigger, at time: EventTime, context: KeyedProcessContext<String, OnlineLearningOutput>) {
        guard let policy = configuration.retraining, var route = routing.value, route.challenger == nil,
              time - route.lastFork >= policy.coolDown.milliseconds else { return }
        let version = String(route.nextVersion)
        var model: Model
        var warm: [LabelledExample] = []
        switch policy.fork {
        case let .warmStart(rejuvenation):
            guard let champion = models[route.champion] else { return }
            model = champion.rejuvenated(rejuvenation)
        case .fresh:
            model = makeModel(version)
            warm = recent.value?.inOrder ?? []
            for e in warm { model.learn(e.features, label: e.label) }
        }
        models[version] = model
        windows[version] = PrequentialWindow(capacity: configuration.windowCapacity)
        versionList.update([route.champion, version])
        route.challenger = version; route.nextVersion += 1; route.canaryShare = policy.canaryShare
        route.comparison = PairedComparison(); route.lastFork = time
        routing.update(route)
        context.emit(.decision(ModelDecision(kind: .fork, model: context.key, champion: route.champion, challenger: version,
                                             eventTime: time, reason: trigger.description, examples: 0,
                                             meanLogLossDifference: 0, standardError: 0,
                                             championLogLoss: windows[route.champion]?.logLoss, challengerLogLoss: nil,
                                             warmStartExamples: warm.count)), timestamp: time)
    }

    /// Adds a labelled example both versions scored to the paired test and acts on its verdict.
    func compare(_ p: PendingPrediction, label: Double, at time: EventTime, context: KeyedProcessContext<String, OnlineLearningOutput>) {
        guard let policy = configuration.retraining, var route = routing.value, let challenger = route.challenger,
              let ci = p.versions.firstIndex(of: route.champion), let xi = p.versions.firstIndex(of: challenger) else { return }
        route.comparison.add(championScore: p.scores[ci], challengerScore: p.scores[xi], label: label >= 0.5)
        let c = route.comparison
        // Between looks (and before minExamples) there is nothing to decide.
        let threshold = c.threshold(minExamples: policy.minExamples, zCritical: policy.zCritical, looks: policy.looks)
        let verdict = threshold.map { c.decision(margin: policy.margin, threshold: $0) } ?? .wait
        /// The decision record of a verdict, with its numbers.
        func decision(_ kind: ModelDecision.Kind, _ reason: String) -> ModelDecision {
            ModelDecision(kind: kind, model: context.key, champion: route.champion, challenger: challenger,
                          eventTime: time,
                          reason: reason + ": paired n=\(c.count), mean logloss difference \(c.meanDifference) ± \(c.standardError) (margin \(policy.margin), z > \(threshold ?? policy.zCritical))",
                          examples: c.count, meanLogLossDifference: c.meanDifference, standardError: c.standardError,
                          championLogLoss: windows[route.champion]?.logLoss, challengerLogLoss: windows[challenger]?.logLoss,
                          warmStartExamples: 0)
        }
        switch verdict {
        case .wait:
            routing.update(route)
        case .promote:
            let d = decision(.promote, "challenger better")
            makeChampion(challenger, route: &route)
            routing.update(route)
            context.emit(.decision(d), timestamp: time)
        case .rollback:
            let d = decision(.rollback, "challenger worse")
            retire(challenger)
            route.challenger = nil; route.canaryShare = 0
            routing.update(route); versionList.update([route.champion])
            context.emit(.decision(d), timestamp: time)
        }
    }

    func retire(_ version: String) { models[version] = nil; windows[version] = nil }

    /// Makes `version` (whose weights the learner has) the champion: the old champion's weights
    /// are kept, frozen, on the history (the oldest beyond ``Configuration/keptChampions`` are
    /// retired); a challenger other than `version` keeps running, its paired test restarted.
    func makeChampion(_ version: String, route: inout ModelRouting) {
        let old = route.champion
        var h = history.value ?? []
        h.removeAll { $0 == version || $0 == old }
        h.insert(old, at: 0)
        while h.count > max(configuration.keptChampions, 0) { retire(h.removeLast()) }
        history.update(h)
        route.champion = version
        if var w = scoreWindows.value { w.reset(); scoreWindows.update(w) }
        if route.challenger == version { route.challenger = nil; route.canaryShare = 0 }
        route.comparison = PairedComparison()
        versionList.update([version] + (route.challenger.map { [$0] } ?? []))
    }

    /// Applies an operator's command once (see the type's documentation).
    func apply(_ command: ModelCommand, context: KeyedProcessContext<String, OnlineLearningOutput>) {
        let active = versions()
        var applied = commands.value ?? AppliedModelCommands()
        var log = logger
        log[metadataKey: LogMetadataKey.model] = "\(context.key)"; log[metadataKey: LogMetadataKey.modelCommand] = "\(command.id)"
        guard !applied.contains(command.id) else {
            log.info("operator command already applied: ignored")
            return
        }
        applied.insert(command.id)
        commands.update(applied)
        let watermark = context.currentWatermark
        let at = watermark != Watermark.none ? watermark : (queue.value?.earliestTime ?? 0)
        guard var route = routing.value else { return }
        let reason = "operator" + (command.reason.map { ": \($0)" } ?? "")
        var d = ModelDecision(kind: .promote, model: context.key, champion: route.champion, challenger: "", eventTime: at,
                              reason: reason, examples: 0, meanLogLossDifference: 0, standardError: 0,
                              championLogLoss: windows[route.champion]?.logLoss, challengerLogLoss: nil,
                              warmStartExamples: 0, command: command.id)
        switch command.kind {
        case .promote:
            guard let version = command.version, !version.isEmpty else {
                log.warning("operator promote without a version: ignored"); return
            }
            guard version != route.champion else {
                log.info("operator promote: version \(version) is already the champion"); return
            }
            guard models[version] != nil else {
                log.warning("operator promote: the running learner has no weights for version \(version) (active: \(active.joined(separator: ", ")); kept: \((history.value ?? []).joined(separator: ", "))): ignored")
                return
            }
            if route.challenger == version {
                let c = route.comparison
                d.examples = c.count; d.meanLogLossDifference = c.meanDifference; d.standardError = c.standardError
            }
            d.challenger = version; d.challengerLogLoss = windows[version]?.logLoss
            if windows[version] == nil { windows[version] = PrequentialWindow(capacity: configuration.windowCapacity) }
            makeChampion(version, route: &route)
        case .rollback:
            var h = history.value ?? []
            guard let previous = h.first, models[previous] != nil else {
                log.warning("operator rollback: the running learner keeps no earlier champion: ignored"); return
            }
            h.removeFirst()
            history.update(h)
            d.kind = .revert; d.challenger = previous; d.challengerLogLoss = windows[previous]?.logLoss
            if windows[previous] == nil { windows[previous] = PrequentialWindow(capacity: configuration.windowCapacity) }
            retire(route.champion)
            route.champion = previous
            if route.challenger == previous { route.challenger = nil; route.canaryShare = 0 }
            route.comparison = PairedComparison()
            versionList.update([previous] + (route.challenger.map { [$0] } ?? []))
        }
        routing.update(route)
        log.info("operator \(command.kind.rawValue): champion \(d.champion) → \(route.champion)")
        context.emit(.decision(d), timestamp: at)
    }

    /// Earlier champions whose weights the current key keeps, newest first (tests and inspection).
    public func keptChampions() -> [String] { history.value ?? [] }

    /// The champion/challenger state of the current key (tests and inspection).
    public func currentRouting() -> ModelRouting? { routing.value }
}
