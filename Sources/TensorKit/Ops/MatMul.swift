/// Matrix products through BLAS.

extension Tensor {
    /// Batched matrix product over the last two axes.
    ///
    /// `a` is [..., M, K] (or [..., K, M] with `transposeA`), `b` is [..., K, N] (or [..., N, K] with
    /// `transposeB`). Leading (batch) axes must be equal, or `b` may be a plain matrix shared by
    /// every batch entry (a weight), in which case the whole batch is one GEMM.
    public static func matmul(
        _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false
    ) throws(TensorError) -> Tensor {
        guard a.rank >= 2 && b.rank >= 2 else {
            throw .shapeMismatch(op: "matmul", shapes: [a.shape, b.shape], reason: "operands need rank ≥ 2")
        }
        let aRows = a.shape[a.rank - 2], aCols = a.shape[a.rank - 1]
        let bRows = b.shape[b.rank - 2], bCols = b.shape[b.rank - 1]
        let (m, k) = transposeA ? (aCols, aRows) : (aRows, aCols)
        let (k2, n) = transposeB ? (bCols, bRows) : (bRows, bCols)
        guard k == k2 else {
            throw .shapeMismatch(op: "matmul", shapes: [a.shape, b.shape], reason: "inner dimensions differ (\(k) vs \(k2))")
        }
        let aBatch = Array(a.shape.dropLast(2)), bBatch = Array(b.shape.dropLast(2))
        guard bBatch.isEmpty || aBatch == bBatch else {
            throw .shapeMismatch(op: "matmul", shapes: [a.shape, b.shape], reason: "batch dimensions differ")
        }
        let batch = aBatch.reduce(1, *)
        // BLAS overwrites every element (beta = 0), so the output needs no zero fill, unless k == 0.
        var out = k == 0 ? [Float](repeating: 0, count: batch * m * n) : uninitializedFloats(batch * m * n)
        a.storage.withUnsafeBufferPointer { ap in
            b.storage.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer { cp in
                    guard let A = ap.baseAddress, let B = bp.baseAddress, let C = cp.baseAddress else { return }
                    if bBatch.isEmpty && !transposeA {
                        // [batch·M, K] × [K, N]: one GEMM for the whole batch.
                        sgemm(transA: false, transB: transposeB, m: batch * m, n: n, k: k,
                              a: A, lda: aCols, b: B, ldb: bCols, c: C, ldc: n)
                    } else {
                        let bStep = bBatch.isEmpty ? 0 : bRows * bCols
                        for i in 0..<batch {
                            sgemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k,
                                  a: A + i * aRows * aCols, lda: aCols, b: B + i * bStep, ldb: bCols,
                                  c: C + i * m * n, ldc: n)
                        }
                    }
                }
            }
        }
        return Tensor(unchecked: aBatch + [m, n], storage: out)
    }

    /// A fully-connected layer as in PyTorch: x · weightᵀ + bias, weight stored [out, in].
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) throws(TensorError) -> Tensor {
        guard weight.rank == 2, x.rank >= 1, x.shape[x.rank - 1] == weight.shape[1] else {
            throw .shapeMismatch(op: "linear", shapes: [x.shape, weight.shape], reason: "input features differ from weight [out, in]")
        }
        let outF = weight.shape[0]
        if let bias, bias.shape != [outF] {
            throw .shapeMismatch(op: "linear", shapes: [weight.shape, bias.shape], reason: "bias must be [out]")
        }
        let rows = x.count / max(weight.shape[1], 1)
        var out = weight.shape[1] == 0 || rows == 0 ? [Float](repeating: 0, count: rows * outF) : uninitializedFloats(rows * outF)
        x.storage.withUnsafeBufferPointer { xp in
            weight.storage.withUnsafeBufferPointer { wp in
                out.withUnsafeMutableBufferPointer { op in
                    guard let C = op.baseAddress else { return }
                    if let bias {
                        bias.storage.withUnsafeBufferPointer { bp in
                            for r in 0..<rows { (C + r * outF).update(from: bp.baseAddress!, count: outF) }
                        }
                    }
                    guard let X = xp.baseAddress, let W = wp.baseAddress else { return }
                    sgemm(transA: false, transB: true, m: rows, n: outF, k: weight.shape[1],
                          a: X, lda: weight.shape[1], b: W, ldb: weight.shape[1],
                          beta: bias == nil ? 0 : 1, c: C, ldc: outF)
                }
            }
        }
        return Tensor(unchecked: Array(x.shape.dropLast()) + [outF], storage: out)
    }
}

/// An array whose elements the caller promises to overwrite before reading.
@inline(__always)
func uninitializedFloats(_ count: Int) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { _, n in n = count }
}
