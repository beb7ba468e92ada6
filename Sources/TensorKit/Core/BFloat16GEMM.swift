import CKernels

/// The bf16 matmul path: weights rounded to bfloat16 and packed once, activations rounded per
/// call, products summed in fp32 (AVX-512 BF16 `vdpbf16ps`; a scalar fallback elsewhere).
public enum BFloat16GEMM {
    /// Whether this CPU runs the AVX-512 BF16 kernel; without it the same arithmetic runs in a slow scalar loop.
    public static var isAccelerated: Bool { ck_has_avx512_bf16() != 0 }

    /// Round-to-nearest-even bf16 bits of `x`, the rounding the kernel applies to its inputs.
    public static func bits(_ x: Float) -> UInt16 { ck_bf16_from_float(x) }

    /// bf16 elements per converted row of `width` inputs (rounded up to even; the pad is zero).
    public static func rowStride(_ width: Int) -> Int { (width + 1) & ~1 }

    /// Rounds `rows` fp32 rows of `width` values (row stride `lda`) to bf16 rows of `rowStride(width)`.
    public static func convertRows(
        _ a: UnsafePointer<Float>, rows: Int, width: Int, lda: Int, into out: UnsafeMutablePointer<UInt16>
    ) {
        ck_bf16_convert_rows(a, Int32(rows), Int32(width), Int32(lda), out)
    }
}

/// A Linear weight [out, in] rounded to bf16 and packed once for `BFloat16GEMM`.
public struct BFloat16Weights: Sendable {
    public let outFeatures: Int
    public let inFeatures: Int
    let packed: [UInt16]

    public init(_ weight: Tensor) throws(TensorError) {
        guard weight.rank == 2, weight.shape[0] > 0, weight.shape[1] > 0,
              weight.shape[0] <= Int(Int32.max), weight.shape[1] <= Int(Int32.max) else {
            throw .invalidArgument(op: "BFloat16Weights", reason: "need a non-empty [out, in] matrix, got \(weight.shape)")
        }
        outFeatures = weight.shape[0]
        inFeatures = weight.shape[1]
        let (n, k) = (outFeatures, inFeatures)
        packed = [UInt16](unsafeUninitializedCapacity: ck_bf16_packed_count(Int32(n), Int32(k))) { buffer, count in
            weight.storage.withUnsafeBufferPointer { ck_bf16_pack_weights($0.baseAddress!, Int32(n), Int32(k), buffer.baseAddress!) }
            count = buffer.count
        }
    }

    /// c[rows, out] (row stride ldc) = a·Wᵀ + bias, or c += a·Wᵀ + bias when `accumulate`.
    /// `a` holds rows converted by `BFloat16GEMM.convertRows` with width `inFeatures`.
    /// `portable` forces the plain-C fallback (for tests on machines that have the fast kernel).
    public func multiply(
        _ a: UnsafePointer<UInt16>, rows: Int, bias: UnsafePointer<Float>?, accumulate: Bool,
        into c: UnsafeMutablePointer<Float>, ldc: Int, portable: Bool = false
    ) {
        let gemm = portable ? ck_bf16_gemm_portable : ck_bf16_gemm
        packed.withUnsafeBufferPointer { w in
            gemm(Int32(rows), Int32(outFeatures), Int32(inFeatures), a, w.baseAddress!, bias, accumulate ? 1 : 0, c, Int32(ldc))
        }
    }
}

extension BFloat16GEMM {
    /// UInt16 scratch values `selfAttention` needs.
    public static func attentionScratchCount(tokens: Int, headDim: Int) -> Int {
        ck_bf16_attention_scratch_count(Int32(tokens), Int32(headDim))
    }

    /// `Tensor.selfAttention(packedQKV:…)` with both matmuls of each head in bf16 (fp32 sums; softmax in fp32):
    /// the attention of the image tower's bf16 and int8 modes. `scores` holds tokens² floats.
    public static func selfAttention(
        packedQKV qkv: UnsafePointer<Float>, tokens: Int, width: Int, heads: Int,
        scores: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<UInt16>, into out: UnsafeMutablePointer<Float>, ldo: Int
    ) {
        let scale = 1 / Float(width / heads).squareRoot()
        ck_bf16_attention(qkv, Int32(tokens), Int32(width), Int32(heads), scale, scores, scratch, out, Int32(ldo))
    }
}
