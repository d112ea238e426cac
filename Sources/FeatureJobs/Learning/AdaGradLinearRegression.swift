public import StreamKit

/// Linear regression trained online with AdaGrad (Duchi, Hazan & Singer, 2011): squared loss,
/// per-coordinate learning rates `η / (√G_i + ε)` where `G_i` sums the squared gradients of
/// coordinate `i`, and an optional L2 penalty.
///
///     ŷ   = Σ w_i·x_i
///     g_i = (ŷ − y)·x_i + λ2·w_i
///     G_i += g_i² ;  w_i −= η·g_i / (√G_i + ε)
///
/// Features on very different scales learn at comparable speed, which makes plain SGD's
/// learning-rate tuning unnecessary for most feature sets. Allocation-free like
/// ``FTRLLogisticRegression``.
public struct AdaGradLinearRegression: OnlineModel, Hashable {
    /// η. Default: 0.1.
    public let learningRate: Double
    /// λ2. Default: 0.
    public let l2: Double
    /// ε. Default: 1e-8.
    public let epsilon: Double
    public let dimension: Int
    /// Examples learned so far.
    public var updates: Int64 { learned }
    @usableFromInline var learned: Int64 = 0
    @usableFromInline var w: [Double]
    @usableFromInline var g2: [Double]

    public init(dimension: Int, learningRate: Double = 0.1, l2: Double = 0, epsilon: Double = 1e-8) {
        precondition(dimension > 0 && dimension <= 1 << 30, "dimension must be in 1...2^30")
        precondition(learningRate > 0 && l2 >= 0 && epsilon > 0, "learningRate and epsilon must be positive, l2 non-negative")
        self.dimension = dimension; self.learningRate = learningRate; self.l2 = l2; self.epsilon = epsilon
        w = [Double](repeating: 0, count: dimension); g2 = [Double](repeating: 0, count: dimension)
    }

    /// The weight of coordinate `i`.
    @inlinable public func weight(_ i: Int) -> Double { w[i] }

    public func rejuvenated(_ factor: Double) -> AdaGradLinearRegression {
        precondition(factor > 0 && factor <= 1, "factor must be in (0, 1]")
        var m = self
        for i in 0..<dimension { m.g2[i] *= factor }
        return m
    }

    @inlinable
    public func predict(_ x: SparseFeatures) -> Double {
        var s = 0.0
        w.withUnsafeBufferPointer { w in
            for k in 0..<x.indices.count {
                let i = Int(x.indices[k])
                precondition(i < w.count, "feature index out of range")
                s += w[i] * x.values[k]
            }
        }
        return s
    }

    @inlinable @discardableResult
    public mutating func learn(_ x: SparseFeatures, label: Double) -> Double {
        let yhat = predict(x)
        let e = yhat - label
        let eta = learningRate, l2 = self.l2, eps = epsilon
        w.withUnsafeMutableBufferPointer { w in
            g2.withUnsafeMutableBufferPointer { g2 in
                for k in 0..<x.indices.count {
                    let i = Int(x.indices[k])
                    precondition(i < w.count, "feature index out of range")
                    let g = e * x.values[k] + l2 * w[i]
                    g2[i] += g * g
                    w[i] -= eta * g / (g2[i].squareRoot() + eps)
                }
            }
        }
        learned += 1
        return yhat
    }
}

extension AdaGradLinearRegression: StateCodable {
    /// Settings, dimension, updates, then the touched coordinates (index, w, G).
    public func encode(to out: inout ByteWriter) {
        out.writeDouble(learningRate); out.writeDouble(l2); out.writeDouble(epsilon)
        out.writeVarUInt(UInt64(dimension)); out.writeVarInt(updates)
        let touched = (0..<dimension).filter { g2[$0] != 0 || w[$0] != 0 }
        out.writeVarUInt(UInt64(touched.count))
        for i in touched { out.writeVarUInt(UInt64(i)); out.writeDouble(w[i]); out.writeDouble(g2[i]) }
    }

    public init(from r: inout ByteReader) throws {
        let eta = try r.readDouble(), l2 = try r.readDouble(), eps = try r.readDouble()
        let d = try r.readVarUInt()
        guard d > 0 && d <= 1 << 30, eta > 0, l2 >= 0, eps > 0 else { throw StreamKitError(.state, "invalid AdaGrad model header") }
        self.init(dimension: Int(d), learningRate: eta, l2: l2, epsilon: eps)
        learned = try r.readVarInt()
        let count = try r.readVarUInt()
        for _ in 0..<count {
            let i = try r.readVarUInt()
            guard i < d else { throw StreamKitError(.state, "AdaGrad coordinate \(i) beyond dimension \(d)") }
            w[Int(i)] = try r.readDouble(); g2[Int(i)] = try r.readDouble()
        }
    }
}
