public import StreamKit

/// How strongly a distribution moved, read from PSI with the conventional thresholds.
public enum DriftVerdict: Int, Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// PSI < moderate threshold (default 0.1): no significant change.
    case none = 0
    /// moderate ≤ PSI ≤ significant threshold (default 0.1–0.25): moderate change, investigate.
    case moderate = 1
    /// PSI > significant threshold (default 0.25): significant change, act.
    case significant = 2

    /// The verdict for `psi` (NaN, i.e. nothing to compare, reads as `.none`).
    public init(psi: Double, thresholds: DriftThresholds = DriftThresholds()) {
        if psi > thresholds.psiSignificant { self = .significant }
        else if psi >= thresholds.psiModerate { self = .moderate }
        else { self = .none }
    }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { switch self { case .none: "none"; case .moderate: "moderate"; case .significant: "significant" } }
}

/// When a ``DriftReport`` becomes an alert. Each test is optional except PSI.
public struct DriftThresholds: Sendable, Hashable, Codable {
    /// PSI from which the change is moderate. Default: 0.1.
    public var psiModerate = 0.1
    /// PSI above which the change is significant. Default: 0.25.
    public var psiSignificant = 0.25
    /// PSI verdict that raises an alert. Default: `.significant`.
    public var alertVerdict = DriftVerdict.significant
    /// Alert when the KS p-value is below this. Default: nil (off) — with thousands of values per
    /// window KS rejects for changes too small to matter, so it is opt-in.
    public var ksPValue: Double? = nil
    /// Alert when |z| of the mean-shift test exceeds this. Default: nil (off).
    public var meanShiftZ: Double? = nil
    /// Alert when the Jensen–Shannon distance (base 2) exceeds this. Default: nil (off).
    public var jensenShannonDistance: Double? = nil
    /// Windows with fewer current values than this produce a report but never an alert. Default: 30.
    public var minimumCount: Int64 = 30
    public init() {}
}

/// Which statistic crossed its threshold.
public enum DriftSignal: String, Sendable, Hashable, Codable {
    case psi, kolmogorovSmirnov, meanShift, jensenShannon
}

/// Where the reference distribution of a report came from.
public enum DriftReferenceKind: String, Sendable, Hashable, Codable {
    /// A fixed baseline (``DriftBaseline``).
    case baseline
    /// The feature's previous window.
    case previousWindow
}

/// The comparison of one feature's window with its reference, emitted by ``DriftMonitor`` at
/// each window end. Encodable to JSON (e.g. for a Kafka topic); non-finite numbers need a
/// `nonConformingFloatEncodingStrategy`.
public struct DriftReport: Sendable, Hashable, Codable {
    /// Feature name (the key of the monitor).
    public var feature: String
    /// Window start (inclusive, ms).
    public var windowStart: EventTime
    /// Window end (exclusive, ms).
    public var windowEnd: EventTime
    public var reference: DriftReferenceKind
    /// Non-NaN values in the reference.
    public var referenceCount: Int64
    /// Non-NaN values in the current window.
    public var currentCount: Int64
    /// NaN values in the current window.
    public var currentMissing: Int64
    /// Population Stability Index over the histogram bins.
    public var psi: Double
    /// Jensen–Shannon divergence (base 2) over the histogram bins.
    public var jensenShannonDivergence: Double
    /// Two-sample KS test on the sampled values (exact D of the samples).
    public var ks: KolmogorovSmirnov.Result
    /// Welch z-test of the means and F-ratio of the variances (over all values of the window).
    public var meanShift: MeanShift
    public var referenceMean: Double
    public var currentMean: Double
    /// Verdict from PSI.
    public var verdict: DriftVerdict
    /// Statistics that crossed their threshold (empty: no alert).
    public var signals: [DriftSignal]

    /// Whether this report is an alert.
    public var isAlert: Bool { !signals.isEmpty }

    /// Jensen–Shannon distance `√divergence`.
    public var jensenShannonDistance: Double { jensenShannonDivergence.squareRoot() }

    public init(feature: String, windowStart: EventTime, windowEnd: EventTime, reference: DriftReferenceKind,
                referenceCount: Int64, currentCount: Int64, currentMissing: Int64, psi: Double, jensenShannonDivergence: Double,
                ks: KolmogorovSmirnov.Result, meanShift: MeanShift, referenceMean: Double, currentMean: Double,
                verdict: DriftVerdict, signals: [DriftSignal]) {
        self.feature = feature; self.windowStart = windowStart; self.windowEnd = windowEnd; self.reference = reference
        self.referenceCount = referenceCount; self.currentCount = currentCount; self.currentMissing = currentMissing
        self.psi = psi; self.jensenShannonDivergence = jensenShannonDivergence; self.ks = ks; self.meanShift = meanShift
        self.referenceMean = referenceMean; self.currentMean = currentMean; self.verdict = verdict; self.signals = signals
    }

    /// The signals `thresholds` raise for these statistics.
    public static func signals(psi: Double, jsDistance: Double, ks: KolmogorovSmirnov.Result, meanShift: MeanShift,
                               currentCount: Int64, thresholds t: DriftThresholds) -> [DriftSignal] {
        guard currentCount >= t.minimumCount else { return [] }
        var s: [DriftSignal] = []
        if DriftVerdict(psi: psi, thresholds: t) >= t.alertVerdict, t.alertVerdict != .none { s.append(.psi) }
        if let a = t.ksPValue, ks.pValue < a { s.append(.kolmogorovSmirnov) }
        if let z = t.meanShiftZ, Swift.abs(meanShift.z) > z { s.append(.meanShift) }
        if let j = t.jensenShannonDistance, jsDistance > j { s.append(.jensenShannon) }
        return s
    }
}

/// The alert record derived from a report that crossed a threshold (what an alerting topic gets).
public struct DriftAlert: Sendable, Hashable, Codable {
    public var feature: String
    public var windowStart: EventTime
    public var windowEnd: EventTime
    public var verdict: DriftVerdict
    public var signals: [DriftSignal]
    public var psi: Double
    public var ksStatistic: Double
    public var ksPValue: Double
    public var meanShiftZ: Double
    /// Nil unless `report.isAlert`.
    public init?(_ report: DriftReport) {
        guard report.isAlert else { return nil }
        feature = report.feature; windowStart = report.windowStart; windowEnd = report.windowEnd
        verdict = report.verdict; signals = report.signals; psi = report.psi
        ksStatistic = report.ks.statistic; ksPValue = report.ks.pValue; meanShiftZ = report.meanShift.z
    }
}

extension DataStream where Element == DriftReport {
    /// The alerts among these reports (one ``DriftAlert`` per report that crossed a threshold).
    public func driftAlerts(name: String = "drift-alerts") -> DataStream<DriftAlert> {
        flatMap(name) { (report: DriftReport, emit: (DriftAlert) -> Void) in
            if let a = DriftAlert(report) { emit(a) }
        }
    }
}
