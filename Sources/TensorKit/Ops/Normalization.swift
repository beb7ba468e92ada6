/// LayerNorm and L2 normalisation over the last axis.

/// Per-row statistics kept by LayerNorm's forward for its backward.
public struct LayerNormStatistics: Sendable {
    public var mean: [Float]
    public var inverseStd: [Float]
}

extension Tensor {
    /// LayerNorm over the last axis: (x − mean) / sqrt(var + eps) · weight + bias (biased variance, as PyTorch).
    public func layerNorm(weight: Tensor, bias: Tensor, epsilon: Float = 1e-5) throws(TensorError) -> Tensor {
        try layerNormWithStatistics(weight: weight, bias: bias, epsilon: epsilon).0
    }

    public func layerNormWithStatistics(
        weight: Tensor, bias: Tensor, epsilon: Float
    ) throws(TensorError) -> (Tensor, LayerNormStatistics) {
        guard rank >= 1 else { throw .shapeMismatch(op: "layerNorm", shapes: [shape], reason: "needs rank ≥ 1") }
        let d = shape[rank - 1]
        guard weight.shape == [d], bias.shape == [d] else {
            throw .shapeMismatch(op: "layerNorm", shapes: [shape, weight.shape, bias.shape], reason: "weight and bias must be [last dim]")
        }
        let rows = d == 0 ? 0 : count / d
        var out = [Float](repeating: 0, count: count)
        var stats = LayerNormStatistics(mean: .init(repeating: 0, count: rows), inverseStd: .init(repeating: 0, count: rows))
        storage.withUnsafeBufferPointer { x in
            weight.storage.withUnsafeBufferPointer { w in
                bias.storage.withUnsafeBufferPointer { b in
                    out.withUnsafeMutableBufferPointer { o in
                        for r in 0..<rows {
                            let (m, inv) = layerNormRow(x.baseAddress! + r * d, w.baseAddress!, b.baseAddress!,
                                                        o.baseAddress! + r * d, d, epsilon)
                            stats.mean[r] = m
                            stats.inverseStd[r] = inv
                        }
                    }
                }
            }
        }
        return (Tensor(unchecked: shape, storage: out), stats)
    }

    /// x / max(‖x‖₂, eps) over the last axis (PyTorch F.normalize semantics).
    public func l2Normalized(epsilon: Float = 1e-12) throws(TensorError) -> Tensor {
        guard rank >= 1 else { throw .shapeMismatch(op: "l2Normalize", shapes: [shape], reason: "needs rank ≥ 1") }
        let d = shape[rank - 1]
        var out = [Float](repeating: 0, count: count)
        storage.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                for r in 0..<(d == 0 ? 0 : count / d) {
                    let row = x.baseAddress! + r * d
                    let inv = 1 / Swift.max(vdot(row, row, d).squareRoot(), epsilon)
                    mapVectorised(row, o.baseAddress! + r * d, d) { $0 * inv }
                }
            }
        }
        return Tensor(unchecked: shape, storage: out)
    }

    /// Euclidean norms of the rows over the last axis.
    public func rowNorms() -> [Float] {
        let d = shape.last ?? 1
        return storage.withUnsafeBufferPointer { x in
            (0..<(d == 0 ? 0 : count / d)).map { r in vdot(x.baseAddress! + r * d, x.baseAddress! + r * d, d).squareRoot() }
        }
    }
}

/// One LayerNorm row; returns (mean, 1/std). Two passes (mean, then centred variance) for accuracy.
@inline(__always)
func layerNormRow(
    _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
    _ o: UnsafeMutablePointer<Float>, _ d: Int, _ eps: Float
) -> (Float, Float) {
    let mean = vsum(x, d) / Float(d)
    let m = Vec16(repeating: mean)
    var acc = Vec16()
    var i = 0
    while i + 16 <= d {
        let c = UnsafeRawPointer(x + i).loadUnaligned(as: Vec16.self) - m
        acc = acc.addingProduct(c, c)
        i += 16
    }
    var sq = acc.sum()
    while i < d { let c = x[i] - mean; sq += c * c; i += 1 }
    let inv = 1 / (sq / Float(d) + eps).squareRoot()
    let s = Vec16(repeating: inv)
    i = 0
    while i + 16 <= d {
        let xv = UnsafeRawPointer(x + i).loadUnaligned(as: Vec16.self)
        let wv = UnsafeRawPointer(w + i).loadUnaligned(as: Vec16.self)
        let bv = UnsafeRawPointer(b + i).loadUnaligned(as: Vec16.self)
        UnsafeMutableRawPointer(o + i).storeBytes(of: (xv - m) * s * wv + bv, as: Vec16.self)
        i += 16
    }
    while i < d { o[i] = (x[i] - mean) * inv * w[i] + b[i]; i += 1 }
    return (mean, inv)
}
