import Foundation
import StreamKit

/// The two-sample Kolmogorov–Smirnov test: `D = sup_x |F_ref(x) − F_cur(x)|` between two
/// empirical CDFs, with its asymptotic p-value.
///
/// ```swift
/// let ks = KolmogorovSmirnov.twoSample(reference: baseline, current: window)
/// if ks.pValue < 0.01 { … }
/// ```
public enum KolmogorovSmirnov {
    /// Outcome of a two-sample KS test.
    public struct Result: Sendable, Hashable, Codable {
        /// `D = sup |F_ref − F_cur|`, in [0, 1].
        public var statistic: Double
        /// Two-sided p-value as `scipy.stats.ks_2samp(…, method="asymp")` computes it:
        /// ``survival(_:n:)`` at `n = round(n_ref·n_cur / (n_ref + n_cur))`.
        public var pValue: Double
        /// The p-value from the limiting Kolmogorov distribution, `Q(√n_e · D)` with the unrounded
        /// effective size `n_e = n_ref·n_cur / (n_ref + n_cur)` (``limitingSurvival(_:)``;
        /// `scipy.stats.kstwobign.sf`). Slightly larger than ``pValue`` for small samples.
        public var limitingPValue: Double
        public var referenceCount: Int
        public var currentCount: Int
        /// Whether `statistic` came from binned counts (a lower bound, see ``twoSample(reference:current:)-(Histogram,_)``).
        public var isBinned: Bool
    }

    /// Exact `D` of two samples, computed by sorting both and walking them in merged order: at
    /// each distinct value `x`, both empirical CDFs `F(x) = #{values ≤ x} / n` are advanced past
    /// *all* copies of `x` before they are compared, so ties (within or across samples) are
    /// handled exactly as `scipy.stats.ks_2samp` does. NaN values are dropped.
    /// O((n + m) log(n + m)).
    ///
    /// - Returns: statistic and p-values; all NaN if either sample is empty.
    public static func twoSample(reference: [Double], current: [Double]) -> Result {
        let a = reference.filter { !$0.isNaN }.sorted(), b = current.filter { !$0.isNaN }.sorted()
        return twoSample(sortedReference: a, sortedCurrent: b)
    }

    /// ``twoSample(reference:current:)`` for samples already sorted ascending without NaN
    /// (e.g. a baseline sorted once at start-up).
    public static func twoSample(sortedReference a: [Double], sortedCurrent b: [Double]) -> Result {
        let n = a.count, m = b.count
        guard n > 0, m > 0 else {
            return Result(statistic: .nan, pValue: .nan, limitingPValue: .nan, referenceCount: n, currentCount: m, isBinned: false)
        }
        var i = 0, j = 0, d = 0.0
        while i < n && j < m {
            let x = Swift.min(a[i], b[j])
            while i < n && a[i] == x { i += 1 }
            while j < m && b[j] == x { j += 1 }
            d = Swift.max(d, Swift.abs(Double(i) / Double(n) - Double(j) / Double(m)))
        }
        // Once one sample is exhausted its CDF is 1 and the other's only grows towards 1, so the
        // gap can only shrink: no need to walk the rest.
        return result(d, n, m, binned: false)
    }

    /// Approximate `D` from two histograms with the same cut points: the largest gap between the
    /// cumulative proportions at the cut points, `max_k |Σ_{i<k} refᵢ − Σ_{i<k} curᵢ|`.
    ///
    /// Binning only shows the CDFs at the cut points, so this is a **lower bound** of the exact
    /// `D` of the underlying values; inside bin `i` the true gap can exceed the gap at its edges
    /// by at most `max(refᵢ, curᵢ)`, so `D_binned ≤ D ≤ D_binned + maxᵢ max(refᵢ, curᵢ)`
    /// (≤ 0.1 + a little with decile bins). The p-value treats `D_binned` as if exact and uses the
    /// histograms' totals as sample sizes, so it is conservative (too large) when bins are coarse.
    public static func twoSample(reference: Histogram, current: Histogram) -> Result {
        precondition(reference.cutPoints == current.cutPoints, "binned KS needs histograms with the same cut points")
        let n = reference.total, m = current.total
        guard n > 0, m > 0 else {
            return Result(statistic: .nan, pValue: .nan, limitingPValue: .nan, referenceCount: Int(n), currentCount: Int(m), isBinned: true)
        }
        var ca: Int64 = 0, cb: Int64 = 0, d = 0.0
        for k in 0..<reference.binCount {
            ca += reference.counts[k]; cb += current.counts[k]
            d = Swift.max(d, Swift.abs(Double(ca) / Double(n) - Double(cb) / Double(m)))
        }
        return result(d, Int(n), Int(m), binned: true)
    }

    static func result(_ d: Double, _ n: Int, _ m: Int, binned: Bool) -> Result {
        let en = Double(n) * Double(m) / Double(n + m)
        return Result(statistic: d, pValue: survival(d, n: Int(en.rounded())), limitingPValue: limitingSurvival(en.squareRoot() * d),
                      referenceCount: n, currentCount: m, isBinned: binned)
    }

    // MARK: - Distributions

    /// Survival function of the limiting Kolmogorov distribution (`scipy.stats.kstwobign.sf`):
    ///
    ///     Q(λ) = P(K > λ) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²λ²}                       (λ ≥ 1)
    ///          = 1 − (√(2π) / λ) Σ_{k≥1} e^{−(2k−1)² π² / (8λ²)}                   (λ < 1)
    ///
    /// the two forms being the same series (Jacobi theta identity); each converges in a handful of
    /// terms on its side of λ = 1.
    public static func limitingSurvival(_ lambda: Double) -> Double {
        if lambda.isNaN { return .nan }
        if lambda <= 0 { return 1 }
        if lambda < 1 {
            var s = 0.0
            for k in 1...20 {
                let t = Foundation.exp(-Double((2 * k - 1) * (2 * k - 1)) * Double.pi * Double.pi / (8 * lambda * lambda))
                s += t
                if t < 1e-17 * s { break }
            }
            return clip(1 - (2 * Double.pi).squareRoot() / lambda * s)
        }
        var s = 0.0, sign = 1.0
        for k in 1...100 {
            let t = Foundation.exp(-2 * Double(k * k) * lambda * lambda)
            s += sign * t
            sign = -sign
            if t < 1e-17 { break }
        }
        return clip(2 * s)
    }

    /// Survival function `P(D_n > d)` of the one-sample two-sided Kolmogorov statistic for `n`
    /// observations (`scipy.stats.kstwo.sf(d, n)`), following Simard & L'Ecuyer (2011) as scipy
    /// does:
    /// - `n·d ≤ 1` or `n·d ≥ n − 1`: Ruben–Gambino closed forms;
    /// - `d ≥ 0.5`, or `n·d²` large (> 4 for n ≤ 140, ≥ 2.2 beyond): `2 · P(D⁺_n ≥ d)` with the exact
    ///   one-sided Smirnov tail (Birnbaum–Tingey sum, ``smirnovSurvival(_:n:)``) — Miller's
    ///   approximation, exact to well below 1e-10 there;
    /// - otherwise the exact Durbin matrix (Marsaglia–Tsang–Wang 2003) while its size `2⌈nd⌉ − 1` is
    ///   small (`n ≤ 140`, or `n ≤ 100 000` and `n·d^1.5 ≤ 1.4`), else the Pelz–Good (1976) expansion.
    ///   (scipy uses Pomeranz's recursion for n ≤ 140 and 0.75 < n·d² ≤ 4; Durbin's matrix gives the same exact value.)
    public static func survival(_ d: Double, n: Int) -> Double {
        if d.isNaN || n <= 0 { return .nan }
        if d >= 1 { return 0 }
        if d <= 0 { return 1 }
        let nd = Double(n), t = nd * d
        if t <= 1 {
            if t <= 0.5 { return 1 }
            // P(D_n ≤ d) = n!/nⁿ · (2t − 1)ⁿ
            var logp = Double(n) * Foundation.log(2 * t - 1)
            logp += logGamma(nd + 1) - nd * Foundation.log(nd)
            return clip(1 - Foundation.exp(logp))
        }
        if t >= nd - 1 { return clip(2 * Foundation.pow(1 - d, nd)) }
        if d >= 0.5 { return clip(2 * smirnovSurvival(d, n: n)) }
        let nxx = t * d
        if n <= 140 {
            if nxx <= 4 { return clip(1 - durbinCDF(d, n: n)) }
            return clip(2 * smirnovSurvival(d, n: n))
        }
        if nxx >= 370 { return 0 }
        if nxx >= 2.2 { return clip(2 * smirnovSurvival(d, n: n)) }
        if nxx >= 18 { return 0 }
        let cdf = (n <= 100_000 && nd * Foundation.pow(d, 1.5) <= 1.4) ? durbinCDF(d, n: n) : pelzGoodCDF(d, n: n)
        return clip(1 - cdf)
    }

    /// Exact one-sided Smirnov tail `P(D⁺_n ≥ d)` (Birnbaum & Tingey 1951):
    ///
    ///     P(D⁺_n ≥ d) = d Σ_{j=0}^{⌊n(1−d)⌋} C(n, j) (1 − d − j/n)^{n−j} (d + j/n)^{j−1}
    ///
    /// summed in log space (every term is positive, so there is no cancellation). O(n).
    public static func smirnovSurvival(_ d: Double, n: Int) -> Double {
        if d <= 0 { return 1 }
        if d >= 1 { return 0 }
        let nd = Double(n)
        let lgn = logGamma(nd + 1), logd = Foundation.log(d)
        let jmax = Int((nd * (1 - d)).rounded(.down))
        var s = 0.0
        for j in 0...Swift.max(jmax, 0) {
            let jd = Double(j)
            let a = 1 - d - jd / nd
            if a <= 0 { continue }
            let logChoose: Double = lgn - logGamma(jd + 1) - logGamma(nd - jd + 1)
            let logPowers: Double = (nd - jd) * Foundation.log(a) + (jd - 1) * Foundation.log(d + jd / nd)
            let l = logChoose + logPowers + logd
            s += Foundation.exp(l)
        }
        return clip(s)
    }

    /// `P(D_n ≤ d)` by Durbin's matrix method as written by Marsaglia, Tsang & Wang (2003):
    /// with `d = (k − h)/n`, the (k, k) entry of `Hⁿ · n!/nⁿ` for a (2k − 1)² matrix `H`,
    /// powers scaled by 2¹²⁸ to stay in range.
    static func durbinCDF(_ d: Double, n: Int) -> Double {
        if d >= 1 { return 1 }
        let nd = Double(n) * d
        if nd <= 0.5 { return 0 }
        let k = Int(nd.rounded(.up))
        let h = Double(k) - nd
        let m = 2 * k - 1
        var H = [Double](repeating: 0, count: m * m)
        var v = [Double](repeating: 0, count: m), w = [Double](repeating: 0, count: m)
        var fac = 1.0
        for j in 1...m {
            v[j - 1] = 1 - Foundation.pow(h, Double(j))
            w[j - 1] = fac
            fac /= Double(j)
            v[j - 1] *= fac
        }
        let tt = Foundation.pow(Swift.max(2 * h - 1, 0), Double(m)) - 2 * Foundation.pow(h, Double(m))
        v[m - 1] = (1 + tt) * fac
        for i in 1..<Swift.max(m, 1) {
            for r in (i - 1)..<m { H[r * m + i] = w[r - (i - 1)] }
        }
        for r in 0..<m { H[r * m] = v[r] }
        for c in 0..<m { H[(m - 1) * m + c] = v[m - 1 - c] }

        func mul(_ a: [Double], _ b: [Double]) -> [Double] {
            var c = [Double](repeating: 0, count: m * m)
            for i in 0..<m {
                for l in 0..<m {
                    let x = a[i * m + l]
                    if x == 0 { continue }
                    for j in 0..<m { c[i * m + j] += x * b[l * m + j] }
                }
            }
            return c
        }
        var P = [Double](repeating: 0, count: m * m)
        for i in 0..<m { P[i * m + i] = 1 }
        let ep128 = Foundation.pow(2.0, 128.0), em128 = Foundation.pow(2.0, -128.0)
        var nn = n, expnt = 0, hexpnt = 0
        while nn > 0 {
            if nn % 2 == 1 { P = mul(P, H); expnt += hexpnt }
            H = mul(H, H)
            hexpnt *= 2
            if Swift.abs(H[(k - 1) * m + (k - 1)]) > ep128 {
                for i in H.indices { H[i] /= ep128 }
                hexpnt += 128
            }
            nn /= 2
        }
        var p = P[(k - 1) * m + (k - 1)]
        for i in 1...n {
            p = Double(i) * p / Double(n)
            if Swift.abs(p) < em128 { p *= ep128; expnt -= 128 }
        }
        if expnt != 0 { p = Foundation.scalbn(p, expnt) }
        return clip(p)
    }

    /// `P(D_n ≤ d)` by the Pelz–Good (1976) asymptotic expansion
    /// `K₀(z) + K₁(z)/√n + K₂(z)/n + K₃(z)/n^{3/2}`, `z = d√n` (port of scipy's `_kolmogn_PelzGood`).
    static func pelzGoodCDF(_ x: Double, n: Int) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let pi2 = Double.pi * Double.pi, pi4 = pi2 * pi2, pi6 = pi4 * pi2
        let sqrt2pi = (2 * Double.pi).squareRoot()
        let z = Double(n).squareRoot() * x
        let z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2
        let qlog = -pi2 / 8 / z2
        if qlog < -708 { return 0 }
        var q = Foundation.exp(qlog)
        let k1a = -z2, k1b = pi2 / 4
        let k2a = 6 * z6 + 2 * z4, k2b = (2 * z4 - 5 * z2) * pi2 / 4, k2c = pi4 * (1 - 2 * z2) / 16
        let k3d = pi6 * (5 - 30 * z2) / 64, k3c = pi4 * (-60 * z2 + 212 * z4) / 16
        let k3b = pi2 * (135 * z4 - 96 * z6) / 4, k3a = -30 * z6 - 90 * z6 * z2
        var K = [0.0, 0.0, 0.0, 0.0]
        let maxk = Int((16 * z / Double.pi).rounded(.up))
        if maxk >= 1 {
            for k in stride(from: maxk, through: 1, by: -1) {
                let mm = Double(2 * k - 1)
                let m2 = mm * mm, m4 = m2 * m2, m6 = m4 * m2
                let qp = Foundation.pow(q, Double(8 * k))
                let c = [1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6]
                for i in 0..<4 { K[i] = K[i] * qp + c[i] }
            }
        }
        let div = [z, 6 * z4, 72 * z6 * z, 6480 * z6 * z4]
        for i in 0..<4 { K[i] = K[i] * q * sqrt2pi / div[i] }
        q = Foundation.exp(-pi2 / 2 / z2)
        var k2extra = 0.0, k3extra = 0.0
        let sqrt3z = 3.0.squareRoot() * z
        if maxk >= 1 {
            for k in stride(from: maxk, through: 1, by: -1) {
                let kd = Double(k), ks = kd * kd, kspi = Double.pi * kd
                let qp = Foundation.pow(q, ks)
                k2extra += ks * qp
                k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ks * qp
            }
        }
        K[2] += k2extra * pi2 * sqrt2pi / (-36 * z3)
        K[3] += k3extra * pi2 * sqrt2pi / (216 * z6)
        let nd = Double(n)
        return K[0] + K[1] / nd.squareRoot() + K[2] / nd + K[3] / (nd * nd.squareRoot())
    }

    static func logGamma(_ x: Double) -> Double { (Foundation.lgamma as (Double) -> Double)(x) }

    @inline(__always) static func clip(_ p: Double) -> Double { Swift.min(Swift.max(p, 0), 1) }
}
