import CKernels

/// Pointer forms of the forward ops for allocation-free inference loops (the image tower):
/// callers own the buffers, nothing is allocated, nothing is recorded for autodiff.
public enum RowKernels {
    /// out[r] = LayerNorm(x[r]) · weight + bias for `rows` contiguous rows of `width`.
    public static func layerNorm(
        _ x: UnsafePointer<Float>, rows: Int, width: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        epsilon: Float, into out: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<rows { _ = layerNormRow(x + r * width, weight, bias, out + r * width, width, epsilon) }
    }

    /// x ← activation(x) over `count` values.
    public static func activate(_ x: UnsafeMutablePointer<Float>, count: Int, _ activation: Activation) {
        // CKernels: 16 lanes with AVX-512 where the CPU has it (TensorKit's SIMD code is built for AVX2).
        ck_activate(x, count, Int32(activation == .gelu ? CK_GELU : CK_QUICK_GELU))
    }

    /// c[r, 0..<width] += bias for `rows` rows with stride `ldc`.
    public static func addBias(_ c: UnsafeMutablePointer<Float>, rows: Int, width: Int, ldc: Int, bias: UnsafePointer<Float>) {
        for r in 0..<rows { zipVectorised(c + r * ldc, bias, c + r * ldc, width) { $0 + $1 } }
    }

    /// c[m, n] (stride ldc) = a·wᵀ, or c += a·wᵀ when `accumulate`; a is [m, k] (stride lda),
    /// w is [n, k] (PyTorch Linear layout). fp32 BLAS.
    public static func multiplyTransposed(
        _ a: UnsafePointer<Float>, rows m: Int, lda: Int, weight w: UnsafePointer<Float>, outFeatures n: Int,
        inFeatures k: Int, accumulate: Bool, into c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        sgemm(transA: false, transB: true, m: m, n: n, k: k, a: a, lda: lda, b: w, ldb: k,
              beta: accumulate ? 1 : 0, c: c, ldc: ldc)
    }
}
