public import StreamKit
public import Glibc

/// Settings of FTRL-Proximal (McMahan et al., "Ad Click Prediction: a View from the Trenches",
/// KDD 2013, Algorithm 1).
@frozen
public struct FTRLParameters: Sendable, Hashable, Codable {
    /// α of the per-coordinate learning rate `η_i = α / (β + √n_i)`. Default: 0.05.
    public var alpha: Double
    /// β of the per-coordinate learning rate (β = 1 is usually enough). Default: 1.
    public var beta: Double
    /// L1 strength λ1: coordinates with `|z_i| ≤ λ1` have weight exactly 0 (sparse models). Default: 0.
    public var l1: Double
    /// L2 strength λ2. Default: 1.
    public var l2: Double
    public init(alpha: Double = 0.05, beta: Double = 1, l1: Double = 0, l2: Double = 1) {
        precondition(alpha > 0 && beta >= 0 && l1 >= 0 && l2 >= 0, "FTRL needs alpha > 0 and non-negative beta, l1, l2")
        self.alpha = alpha; self.beta = beta; self.l1 = l1; self.l2 = l2
    }
}

/// Logistic regression trained online with FTRL-Proximal: per-coordinate adaptive learning rates
/// and L1/L2 regularization, the algorithm behind large-scale click and fraud models.
///
/// The state per coordinate `i` is `z_i` (the adjusted sum of gradients) and `n_i` (the sum of
/// squared gradients); the weight is derived lazily (Algorithm 1):
///
///     w_i = 0                                             if |z_i| ≤ λ1
///     w_i = −(z_i − sgn(z_i)·λ1) / ((β + √n_i)/α + λ2)    otherwise
///     p   = σ(Σ w_i·x_i)
///     for each i with x_i ≠ 0:  g_i = (p − y)·x_i
///                               σ_i = (√(n_i + g_i²) − √n_i) / α
///                               z_i += g_i − σ_i·w_i ;  n_i += g_i²
///
/// Labels are 0/1. The margin is clamped to ±35 before the sigmoid (p stays in (0, 1)).
/// Prediction and update touch only the example's coordinates and allocate nothing.
///
/// A feature index that occurs twice in one example (a hash collision) is updated twice in
/// sequence; the second update sees the first one's `z_i`.
///
/// ```swift
/// var model = FTRLLogisticRegression(dimension: 1 << 18, parameters: FTRLParameters(alpha: 0.1, l1: 1))
/// let p = model.learn(x, label: 1)     // the score before the update
/// ```
public struct FTRLLogisticRegression: OnlineModel, Hashable {
    public let parameters: FTRLParameters
    public let dimension: Int
    /// Examples learned so far.
    public var updates: Int64 { learned }
    @usableFromInline var learned: Int64 = 0
    @usableFromInline var z: [Double]
    @usableFromInline var n: [Double]

    /// A zero model of `dimension` weights.
    public init(dimension: Int, parameters: FTRLParameters = FTRLParameters()) {
        precondition(dimension > 0 && dimension <= 1 << 30, "dimension must be in 1...2^30")
        self.dimension = dimension; self.parameters = parameters
        z = [Double](repeating: 0, count: dimension); n = [Double](repeating: 0, count: dimension)
    }

    /// The current weight of coordinate `i`.
    @inlinable
    public func weight(_ i: Int) -> Double { Self.weight(z: z[i], n: n[i], parameters) }

    @inlinable @inline(__always)
    static func weight(z: Double, n: Double, _ p: FTRLParameters) -> Double {
        let a = Swift.abs(z)
        if a <= p.l1 { return 0 }
        return -(z - (z < 0 ? -p.l1 : p.l1)) / ((p.beta + n.squareRoot()) / p.alpha + p.l2)
    }

    /// `Σ w_i·x_i`.
    @inlinable
    public func margin(_ x: SparseFeatures) -> Double {
        var s = 0.0
        let p = parameters
        z.withUnsafeBufferPointer { z in
            n.withUnsafeBufferPointer { n in
                for k in 0..<x.indices.count {
                    let i = Int(x.indices[k])
                    precondition(i < z.count, "feature index out of range")
                    s += Self.weight(z: z[i], n: n[i], p) * x.values[k]
                }
            }
        }
        return s
    }

    /// The probability of label 1.
    @inlinable
    public func predict(_ x: SparseFeatures) -> Double { Self.sigmoid(margin(x)) }

    @inlinable @inline(__always)
    static func sigmoid(_ m: Double) -> Double { 1 / (1 + exp(-Swift.min(Swift.max(m, -35), 35))) }

    @inlinable @discardableResult
    public mutating func learn(_ x: SparseFeatures, label: Double) -> Double {
        let prob = predict(x)
        let residual = prob - label
        let p = parameters
        z.withUnsafeMutableBufferPointer { z in
            n.withUnsafeMutableBufferPointer { n in
                for k in 0..<x.indices.count {
                    let i = Int(x.indices[k])
                    precondition(i < z.count, "feature index out of range")
                    let g = residual * x.values[k]
                    let w = Self.weight(z: z[i], n: n[i], p)
                    let sigma = ((n[i] + g * g).squareRoot() - n[i].squareRoot()) / p.alpha
                    z[i] += g - sigma * w
                    n[i] += g * g
                }
            }
        }
        learned += 1
        return prob
    }

    public func rejuvenated(_ factor: Double) -> FTRLLogisticRegression {
        precondition(factor > 0 && factor <= 1, "factor must be in (0, 1]")
        var m = self
        let p = parameters
        for i in 0..<dimension where n[i] != 0 {
            let w = Self.weight(z: z[i], n: n[i], p)
            let n2 = n[i] * factor
            if w != 0 {
                // Keep w: z' = sgn(z)·λ1 − w·((β + √n')/α + λ2).
                let s: Double = z[i] < 0 ? -1 : 1
                m.z[i] = s * p.l1 - w * ((p.beta + n2.squareRoot()) / p.alpha + p.l2)
            }
            m.n[i] = n2
        }
        return m
    }

    /// Coordinates with any state (`n_i > 0` or `z_i ≠ 0`).
    public var touchedCoordinates: Int { (0..<dimension).reduce(0) { $0 + (n[$1] != 0 || z[$1] != 0 ? 1 : 0) } }
}

extension FTRLLogisticRegression: StateCodable {
    /// Parameters, dimension, updates, then the touched coordinates only (index, z, n): exact, and
    /// as small as the set of features the model has seen.
    public func encode(to w: inout ByteWriter) {
        w.writeDouble(parameters.alpha); w.writeDouble(parameters.beta); w.writeDouble(parameters.l1); w.writeDouble(parameters.l2)
        w.writeVarUInt(UInt64(dimension)); w.writeVarInt(updates)
        w.writeVarUInt(UInt64(touchedCoordinates))
        for i in 0..<dimension where n[i] != 0 || z[i] != 0 {
            w.writeVarUInt(UInt64(i)); w.writeDouble(z[i]); w.writeDouble(n[i])
        }
    }

    public init(from r: inout ByteReader) throws {
        let p = FTRLParameters(alpha: try r.readDouble(), beta: try r.readDouble(), l1: try r.readDouble(), l2: try r.readDouble())
        let d = try r.readVarUInt()
        guard d > 0 && d <= 1 << 30 else { throw StreamKitError(.state, "FTRL model of dimension \(d)") }
        self.init(dimension: Int(d), parameters: p)
        learned = try r.readVarInt()
        let count = try r.readVarUInt()
        for _ in 0..<count {
            let i = try r.readVarUInt()
            guard i < d else { throw StreamKitError(.state, "FTRL coordinate \(i) beyond dimension \(d)") }
            z[Int(i)] = try r.readDouble(); n[Int(i)] = try r.readDouble()
        }
    }
}
