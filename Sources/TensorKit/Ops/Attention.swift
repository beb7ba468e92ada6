/// Multi-head scaled dot-product attention core (the part between the Q/K/V and output projections).
///
/// q is [B, L, D], k and v are [B, S, D], D = heads · headDim; head h owns columns
/// h·headDim ..< (h+1)·headDim (the layout of PyTorch's packed in_proj and HF's q/k/v_proj).
/// Each head's block is addressed in place through the BLAS leading dimension, so no head is
/// ever copied out. Output: [B, L, D] with heads concatenated in head order.
public struct AttentionShape: Sendable {
    public let batch: Int, queries: Int, keys: Int, width: Int, heads: Int
    public var headDim: Int { width / heads }
    public var scale: Float { 1 / Float(headDim).squareRoot() }

    init(_ q: [Int], _ k: [Int], _ v: [Int], heads: Int) throws(TensorError) {
        guard q.count == 3, k.count == 3, v.count == 3, k == v, q[0] == k[0], q[2] == k[2] else {
            throw .shapeMismatch(op: "attention", shapes: [q, k, v], reason: "need q [B, L, D] and k = v [B, S, D]")
        }
        guard heads > 0, q[2] % heads == 0 else {
            throw .invalidArgument(op: "attention", reason: "width \(q[2]) is not divisible by \(heads) heads")
        }
        batch = q[0]; queries = q[1]; keys = k[1]; width = q[2]; self.heads = heads
    }
}

extension Tensor {
    /// Returns the attention output and, when `keepProbabilities`, the softmax weights [B, H, L, S].
    public static func attention(
        query q: Tensor, key k: Tensor, value v: Tensor, heads: Int, mask: SoftmaxMask = .none,
        keepProbabilities: Bool = false
    ) throws(TensorError) -> (output: Tensor, probabilities: Tensor?) {
        let s = try AttentionShape(q.shape, k.shape, v.shape, heads: heads)
        try mask.validate([s.batch, s.heads, s.queries, s.keys], op: "attention")
        let (L, S, D, dh) = (s.queries, s.keys, s.width, s.headDim)
        var out = [Float](repeating: 0, count: s.batch * L * D)
        let probCount = keepProbabilities ? s.batch * s.heads * L * S : L * S
        var probs = [Float](repeating: 0, count: probCount)
        q.storage.withUnsafeBufferPointer { qp in
            k.storage.withUnsafeBufferPointer { kp in
                v.storage.withUnsafeBufferPointer { vp in
                    out.withUnsafeMutableBufferPointer { op in
                        probs.withUnsafeMutableBufferPointer { pp in
                            guard let Q = qp.baseAddress, let K = kp.baseAddress, let V = vp.baseAddress,
                                  let O = op.baseAddress, let P0 = pp.baseAddress, L > 0, S > 0 else { return }
                            for b in 0..<s.batch {
                                attentionHeads(
                                    q: Q + b * L * D, ldq: D, k: K + b * S * D, ldk: D, v: V + b * S * D, ldv: D,
                                    queries: L, keys: S, heads: s.heads, headDim: dh, scale: s.scale,
                                    out: O + b * L * D, ldo: D,
                                    probabilities: { h in keepProbabilities ? P0 + (b * s.heads + h) * L * S : P0 },
                                    visible: { i in mask.isNone ? S : mask.visible(query: i, queries: L, keys: S, batch: b) })
                            }
                        }
                    }
                }
            }
        }
        let p = keepProbabilities ? Tensor(unchecked: [s.batch, s.heads, L, S], storage: probs) : nil
        return (Tensor(unchecked: [s.batch, L, D], storage: out), p)
    }

    /// Unmasked multi-head self-attention of one sequence whose rows hold [q | k | v] (width 3·D,
    /// the output of a fused QKV projection); writes [tokens, D] rows with stride `ldo`.
    /// `scratch` holds tokens² floats (one head's scores at a time).
    public static func selfAttention(
        packedQKV qkv: UnsafePointer<Float>, tokens: Int, width: Int, heads: Int,
        scratch: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>, ldo: Int
    ) {
        let dh = width / heads
        attentionHeads(q: qkv, ldq: 3 * width, k: qkv + width, ldk: 3 * width, v: qkv + 2 * width, ldv: 3 * width,
                       queries: tokens, keys: tokens, heads: heads, headDim: dh, scale: 1 / Float(dh).squareRoot(),
                       out: out, ldo: ldo, probabilities: { _ in scratch }, visible: { _ in tokens })
    }

    /// Gradients of the attention core given the saved probabilities.
    static func attentionBackward(
        query q: Tensor, key k: Tensor, value v: Tensor, probabilities p: Tensor, outputGradient dO: Tensor, heads: Int
    ) throws(TensorError) -> (dq: Tensor, dk: Tensor, dv: Tensor) {
        let s = try AttentionShape(q.shape, k.shape, v.shape, heads: heads)
        let (L, S, D, dh) = (s.queries, s.keys, s.width, s.headDim)
        var dq = [Float](repeating: 0, count: q.count)
        var dk = [Float](repeating: 0, count: k.count)
        var dv = [Float](repeating: 0, count: v.count)
        var dP = [Float](repeating: 0, count: L * S)
        q.storage.withUnsafeBufferPointer { qp in
        k.storage.withUnsafeBufferPointer { kp in
        v.storage.withUnsafeBufferPointer { vp in
        p.storage.withUnsafeBufferPointer { pp in
        dO.storage.withUnsafeBufferPointer { gp in
        dq.withUnsafeMutableBufferPointer { dqp in
        dk.withUnsafeMutableBufferPointer { dkp in
        dv.withUnsafeMutableBufferPointer { dvp in
        dP.withUnsafeMutableBufferPointer { dpp in
            guard let Q = qp.baseAddress, let K = kp.baseAddress, let V = vp.baseAddress, let P0 = pp.baseAddress,
                  let G = gp.baseAddress, let DQ = dqp.baseAddress, let DK = dkp.baseAddress,
                  let DV = dvp.baseAddress, let DPS = dpp.baseAddress, L > 0, S > 0 else { return }
            for b in 0..<s.batch {
                for h in 0..<s.heads {
                    let P = P0 + (b * s.heads + h) * L * S
                    let qo = b * L * D + h * dh, ko = b * S * D + h * dh
                    // dV_h = Pᵀ dO_h ; dP = dO_h V_hᵀ
                    sgemm(transA: true, transB: false, m: S, n: dh, k: L, a: P, lda: S, b: G + qo, ldb: D,
                          c: DV + ko, ldc: D)
                    sgemm(transA: false, transB: true, m: L, n: S, k: dh, a: G + qo, lda: D, b: V + ko, ldb: D,
                          c: DPS, ldc: S)
                    // dScores = P ⊙ (dP − rowsum(dP ⊙ P)), then the 1/√dh scale.
                    for i in 0..<L { softmaxBackwardRow(P + i * S, DPS + i * S, DPS + i * S, S) }
                    // dQ_h = scale · dScores K_h ; dK_h = scale · dScoresᵀ Q_h
                    sgemm(transA: false, transB: false, m: L, n: dh, k: S, alpha: s.scale, a: DPS, lda: S,
                          b: K + ko, ldb: D, c: DQ + qo, ldc: D)
                    sgemm(transA: true, transB: false, m: S, n: dh, k: L, alpha: s.scale, a: DPS, lda: S,
                          b: Q + qo, ldb: D, c: DK + ko, ldc: D)
                }
            }
        }}}}}}}}}
        return (Tensor(unchecked: q.shape, storage: dq), Tensor(unchecked: k.shape, storage: dk),
                Tensor(unchecked: v.shape, storage: dv))
    }
}

/// The attention core of one batch element: per head h, P = softmax(scale · Q_h K_hᵀ) with row i
/// limited to its first `visible(i)` keys (the rest get weight 0), then O_h = P V_h.
/// Heads are column blocks of the q/k/v/out rows, addressed through the row strides.
@inline(__always)
func attentionHeads(
    q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int,
    queries L: Int, keys S: Int, heads: Int, headDim dh: Int, scale: Float,
    out: UnsafeMutablePointer<Float>, ldo: Int,
    probabilities: (Int) -> UnsafeMutablePointer<Float>, visible: (Int) -> Int
) {
    for h in 0..<heads {
        let P = probabilities(h)
        sgemm(transA: false, transB: true, m: L, n: S, k: dh, alpha: scale,
              a: q + h * dh, lda: ldq, b: k + h * dh, ldb: ldk, c: P, ldc: S)
        for i in 0..<L {
            let row = P + i * S
            let valid = visible(i)
            softmaxRow(row, row, valid)
            if valid < S { (row + valid).update(repeating: 0, count: S - valid) }
        }
        sgemm(transA: false, transB: false, m: L, n: dh, k: S,
              a: P, lda: S, b: v + h * dh, ldb: ldv, c: out + h * dh, ldc: ldo)
    }
}
