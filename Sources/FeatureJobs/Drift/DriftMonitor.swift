public import StreamKit
public import Glibc

/// Watches the distribution of numeric features in tumbling event-time windows and emits a
/// ``DriftReport`` per feature and window, comparing the window with a reference: a fixed
/// ``DriftBaseline`` or, for features without one, the feature's previous window.
///
/// Key the stream by feature name; the monitor keeps per feature and open window:
/// - a ``Histogram`` over the reference's cut points (exact counts → PSI, Jensen–Shannon),
/// - ``RunningMoments`` (exact mean and variance → z-test, F-ratio),
/// - a ``PrioritySample`` of at most ``Configuration/reservoirCapacity`` values (→ two-sample KS),
///
/// so its state is bounded per window whatever the rate. At the window end (an event-time timer
/// at `end − 1`, when the watermark passes it, like window operators) the report is emitted with
/// timestamp `end − 1`. A report that crosses ``Configuration/thresholds`` carries its
/// ``DriftReport/signals``; ``DataStream/driftAlerts(name:)`` turns those into ``DriftAlert``
/// records for an alerting sink.
///
/// ```swift
/// let reports = observations
///     .assignTimestamps(\.time, watermark: .boundedOutOfOrderness(.seconds(5)))
///     .keyBy(\.feature)
///     .process(DriftMonitor(DriftMonitor.Configuration(windowSize: .hours(1), baselines: ["amount": baseline])) { $0.value })
/// reports.driftAlerts().sink("alerts") { … }     // e.g. a Kafka sink of JSON alerts
/// ```
///
/// **Trailing reference.** A feature without a baseline is compared with its previous non-empty
/// window. Its first window only becomes the reference (no report). Its cut points are the
/// `bins`-quantiles of that first window's reservoir and then stay fixed (kept in state), so every
/// later histogram has the same bins; the first window's own histogram is built from its
/// reservoir (exact when the window had at most `reservoirCapacity` values).
///
/// **Late records** (their window already fired: `end − 1 ≤ watermark`) are dropped.
///
/// **Determinism.** Each window's sample is seeded from ``Configuration/seed``, the feature's
/// stable hash and the window end, and keeps the values of lowest hash priority (of value and
/// event time), so it holds the same values whatever order they arrive in — the reports do not
/// depend on parallelism or on how upstream subtasks interleave — and it is checkpointed.
public struct DriftMonitor<Input: Sendable>: KeyedProcessFunction {
    public typealias Key = String
    public typealias Output = DriftReport

    /// Settings of a ``DriftMonitor``.
    public struct Configuration: Sendable {
        /// Tumbling window size (event time).
        public var windowSize: Duration
        /// Fixed baselines per feature name; other features use their previous window. Default: none.
        public var baselines: [String: DriftBaseline]
        /// Quantile bins for trailing-window references (baselines carry their own cut points). Default: 10 (deciles).
        public var bins = 10
        /// Most values sampled per feature and window for KS. Default: 2 048 (16 KiB; KS error ≈ 1/√2048 ≈ 0.02).
        public var reservoirCapacity = 2_048
        /// Seed of the reservoir samplers. Default: 0x5EED.
        public var seed: UInt64 = 0x5EED
        /// Alert thresholds. Default: PSI > 0.25 after at least 30 values.
        public var thresholds = DriftThresholds()
        /// Expire a feature's state after this long without writes (processing time). Default: nil (never).
        public var stateTTL: StateTTL? = nil

        public init(windowSize: Duration, baselines: [String: DriftBaseline] = [:]) {
            precondition(windowSize.milliseconds > 0, "windowSize must be positive")
            self.windowSize = windowSize; self.baselines = baselines
        }
    }

    /// Per feature and open window.
    public struct WindowAccumulator: Sendable, StateCodable {
        /// Nil while a trailing-reference feature has no cut points yet (its first window).
        public var histogram: Histogram?
        public var moments: RunningMoments
        /// Sample of the window's values, independent of their arrival order.
        public var reservoir: PrioritySample
        public func encode(to w: inout ByteWriter) { histogram.encode(to: &w); moments.encode(to: &w); reservoir.encode(to: &w) }
        public init(from r: inout ByteReader) throws {
            histogram = try Histogram?(from: &r); moments = try RunningMoments(from: &r); reservoir = try PrioritySample(from: &r)
        }
        init(histogram: Histogram?, reservoir: PrioritySample) { self.histogram = histogram; moments = RunningMoments(); self.reservoir = reservoir }
    }

    /// The previous window of a trailing-reference feature.
    public struct WindowSummary: Sendable, StateCodable {
        public var histogram: Histogram
        public var moments: RunningMoments
        /// The reservoir sample, sorted.
        public var sortedSample: [Double]
        public func encode(to w: inout ByteWriter) { histogram.encode(to: &w); moments.encode(to: &w); sortedSample.encode(to: &w) }
        public init(from r: inout ByteReader) throws {
            histogram = try Histogram(from: &r); moments = try RunningMoments(from: &r); sortedSample = try [Double](from: &r)
        }
        init(histogram: Histogram, moments: RunningMoments, sortedSample: [Double]) {
            self.histogram = histogram; self.moments = moments; self.sortedSample = sortedSample
        }
    }

    public let configuration: Configuration
    @usableFromInline let value: @Sendable (Input) -> Double
    @usableFromInline let size: Int64
    var windows: MapState<String, Int64, WindowAccumulator>!
    var previous: ValueState<String, WindowSummary>!
    var trailingCuts: ValueState<String, [Double]>!

    /// A monitor reading the monitored value of each record with `value` (NaN = missing).
    public init(_ configuration: Configuration, value: @escaping @Sendable (Input) -> Double) {
        self.configuration = configuration; self.value = value; self.size = configuration.windowSize.milliseconds
    }

    public mutating func open(state: KeyedStateStore<String>) throws {
        windows = state.mapState("drift.windows", of: (Int64, WindowAccumulator).self, ttl: configuration.stateTTL)
        previous = state.valueState("drift.previous", of: WindowSummary.self, ttl: configuration.stateTTL)
        trailingCuts = state.valueState("drift.cuts", of: [Double].self, ttl: configuration.stateTTL)
    }

    public func processElement(_ record: Input, context: KeyedProcessContext<String, DriftReport>) throws {
        let ts = context.timestamp
        guard ts != Watermark.none else {
            throw StreamKitError(.configuration, "DriftMonitor needs event time: call assignTimestamps before it")
        }
        let start = ts - ((ts % size) + size) % size   // floor to the window, negative times included
        let end = start + size
        if end - 1 <= context.currentWatermark { return }   // late: its window already fired
        let feature = context.key
        var acc: WindowAccumulator
        if let existing = windows[end] {
            acc = existing
            windows[end] = nil   // drop the state's reference so the arrays below mutate in place
        } else {
            let cuts = configuration.baselines[feature]?.cutPoints ?? trailingCuts.value
            var seeder = SplitMix64(seed: configuration.seed ^ feature.stableHash ^ UInt64(bitPattern: end))
            acc = WindowAccumulator(histogram: cuts.map { Histogram(cutPoints: $0) },
                                    reservoir: PrioritySample(capacity: configuration.reservoirCapacity, seed: seeder.next()))
            context.registerEventTimeTimer(end - 1)
        }
        let x = value(record)
        acc.histogram?.add(x)
        acc.moments.add(x)
        acc.reservoir.add(x, identity: ts)
        windows[end] = acc
    }

    public func onTimer(_ time: Int64, domain: TimeDomain, context: KeyedProcessContext<String, DriftReport>) throws {
        guard domain == .eventTime else { return }
        let end = time + 1
        guard let acc = windows[end] else { return }
        windows[end] = nil
        let feature = context.key
        let sample = acc.reservoir.values.sorted()
        if let baseline = configuration.baselines[feature] {
            let current = acc.histogram ?? Histogram(cutPoints: baseline.cutPoints, values: sample)
            context.emit(report(feature, end, .baseline, refHistogram: baseline.histogram, refMoments: baseline.moments,
                                refSample: baseline.sortedValues, current: current, acc: acc, sample: sample), timestamp: end - 1)
            return
        }
        let cuts: [Double]
        if let c = trailingCuts.value { cuts = c } else {
            cuts = Histogram.quantileCutPoints(of: sample, bins: configuration.bins)
            trailingCuts.update(cuts)
        }
        let current = acc.histogram ?? Histogram(cutPoints: cuts, values: sample)
        if let prev = previous.value, prev.histogram.cutPoints == cuts {
            context.emit(report(feature, end, .previousWindow, refHistogram: prev.histogram, refMoments: prev.moments,
                                refSample: prev.sortedSample, current: current, acc: acc, sample: sample), timestamp: end - 1)
        }
        previous.update(WindowSummary(histogram: current, moments: acc.moments, sortedSample: sample))
    }

    func report(_ feature: String, _ end: Int64, _ kind: DriftReferenceKind, refHistogram: Histogram, refMoments: RunningMoments,
                refSample: [Double], current: Histogram, acc: WindowAccumulator, sample: [Double]) -> DriftReport {
        let psi = DriftStatistics.populationStabilityIndex(reference: refHistogram, current: current)
        let js = DriftStatistics.jensenShannonDivergence(reference: refHistogram, current: current)
        let ks = KolmogorovSmirnov.twoSample(sortedReference: refSample, sortedCurrent: sample)
        let shift = DriftStatistics.meanShift(reference: refMoments, current: acc.moments)
        let t = configuration.thresholds
        return DriftReport(
            feature: feature, windowStart: end - size, windowEnd: end, reference: kind,
            referenceCount: refMoments.count, currentCount: acc.moments.count, currentMissing: current.missing,
            psi: psi, jensenShannonDivergence: js, ks: ks, meanShift: shift,
            referenceMean: refMoments.mean, currentMean: acc.moments.mean, verdict: DriftVerdict(psi: psi, thresholds: t),
            signals: DriftReport.signals(psi: psi, jsDistance: js.squareRoot(), ks: ks, meanShift: shift,
                                         currentCount: acc.moments.count, thresholds: t))
    }
}
