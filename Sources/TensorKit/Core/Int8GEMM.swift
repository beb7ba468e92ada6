import CKernels

/// The int8 matmul path: weights quantized once per output channel (symmetric int8), activations quantized
/// per row at every call (asymmetric uint8 with a zero point), exact int32 sums (AVX-512 VNNI `vpdpbusd`; a
/// scalar fallback with bit-identical results elsewhere), dequantized with the fp32 scales in the store.
public enum Int8GEMM {
    /// Whether this CPU runs the AVX-512 VNNI kernel; without it the same arithmetic runs in a slow scalar loop.
    public static var isAccelerated: Bool { ck_has_avx512_vnni() != 0 }

    /// Scratch bytes `Int8Weights.multiply` needs for `rows` inputs of `width` values.
    public static func scratchBytes(rows: Int, width: Int) -> Int {
        quantizedOffset(rows: rows) + ck_u8_packed_count(Int32(rows), Int32(width))
    }

    /// The scratch holds the row scales (Float), the zero points (Int32), then the quantized rows.
    static func quantizedOffset(rows: Int) -> Int { (8 * rows + 63) & ~63 }

    /// `rows` quantized inputs of `width` values laid out in a scratch of `scratchBytes(rows:width:)` bytes.
    struct QuantizedRows {
        let rows: Int
        let values: UnsafeMutablePointer<UInt8>
        let scales: UnsafeMutablePointer<Float>
        let zeros: UnsafeMutablePointer<Int32>

        init(scratch: UnsafeMutableRawPointer, rows: Int, width: Int) {
            self.rows = rows
            scales = scratch.bindMemory(to: Float.self, capacity: rows)
            zeros = (scratch + 4 * rows).bindMemory(to: Int32.self, capacity: rows)
            values = (scratch + quantizedOffset(rows: rows)).bindMemory(to: UInt8.self, capacity: ck_u8_packed_count(Int32(rows), Int32(width)))
        }

        /// Quantizes fp32 rows (stride `lda`) of `width` values into this scratch.
        func quantize(_ a: UnsafePointer<Float>, width: Int, lda: Int) {
            Int8GEMM.quantizeRows(a, rows: rows, width: width, lda: lda, into: values, scales: scales, zeros: zeros)
        }
    }

    /// Quantizes `rows` fp32 rows (stride `lda`) into `ck_u8_quantize_rows`' layout, with its scales and zero points.
    public static func quantizeRows(
        _ a: UnsafePointer<Float>, rows: Int, width: Int, lda: Int, into out: UnsafeMutablePointer<UInt8>,
        scales: UnsafeMutablePointer<Float>, zeros: UnsafeMutablePointer<Int32>, portable: Bool = false
    ) {
        (portable ? ck_u8_quantize_rows_portable : ck_u8_quantize_rows)(a, Int32(rows), Int32(width), Int32(lda), out, scales, zeros)
    }
}

/// A Linear weight [out, in] quantized to int8 per output channel and packed once for `Int8GEMM`.
public struct Int8Weights: Sendable {
    public let outFeatures: Int
    public let inFeatures: Int
    /// max|w| / 127 of each output channel.
    public let scales: [Float]
    let packed: [Int8]
    let columnSums: [Int32]

    /// Quantizes `weight` (per output channel: scale max|w|/127, rint, clamp to ±127) and packs it.
    public init(_ weight: Tensor) throws(TensorError) {
        let (n, k) = try Self.checkedShape(weight)
        var q = [Int8](repeating: 0, count: n * k)
        var s = [Float](repeating: 0, count: n)
        weight.storage.withUnsafeBufferPointer { w in
            q.withUnsafeMutableBufferPointer { qp in s.withUnsafeMutableBufferPointer { ck_s8_quantize_weights(w.baseAddress!, Int32(n), Int32(k), qp.baseAddress!, $0.baseAddress!) } }
        }
        self.init(quantized: q, scales: s, outFeatures: n, inFeatures: k)
    }

    /// Packs already quantized weights q [out, in] (row-major) with their per-channel scales.
    public init(quantized q: [Int8], scales: [Float], outFeatures n: Int, inFeatures k: Int) {
        precondition(q.count == n * k && scales.count == n && n > 0 && k > 0)
        outFeatures = n
        inFeatures = k
        self.scales = scales
        var sums = [Int32](repeating: 0, count: n)
        packed = [Int8](unsafeUninitializedCapacity: ck_s8_packed_count(Int32(n), Int32(k))) { buffer, count in
            q.withUnsafeBufferPointer { qp in sums.withUnsafeMutableBufferPointer { ck_s8_pack_weights(qp.baseAddress!, Int32(n), Int32(k), buffer.baseAddress!, $0.baseAddress!) } }
            count = buffer.count
        }
        columnSums = sums
    }

    static func checkedShape(_ weight: Tensor) throws(TensorError) -> (Int, Int) {
        guard weight.rank == 2, weight.shape[0] > 0, weight.shape[1] > 0,
              weight.shape[0] <= Int(Int32.max), weight.shape[1] <= 65_000 else {
            throw .invalidArgument(op: "Int8Weights", reason: "need a non-empty [out, in] matrix with in ≤ 65,000, got \(weight.shape)")
        }
        return (weight.shape[0], weight.shape[1])
    }

    /// c[rows, out] (row stride ldc) = dequantized a·Wᵀ + bias, or c += that when `accumulate`, for rows
    /// quantized by `Int8GEMM.quantizeRows` with width `inFeatures`. `portable` forces the plain-C fallback.
    public func multiply(
        quantized a: UnsafePointer<UInt8>, scales: UnsafePointer<Float>, zeros: UnsafePointer<Int32>, rows: Int,
        bias: UnsafePointer<Float>?, accumulate: Bool, into c: UnsafeMutablePointer<Float>, ldc: Int, portable: Bool = false
    ) {
        let gemm = portable ? ck_s8_gemm_portable : ck_s8_gemm
        packed.withUnsafeBufferPointer { w in
            self.scales.withUnsafeBufferPointer { ws in
                columnSums.withUnsafeBufferPointer { cs in
                    gemm(Int32(rows), Int32(outFeatures), Int32(inFeatures), a, scales, zeros, w.baseAddress!, ws.baseAddress!,
                         cs.baseAddress!, bias, accumulate ? 1 : 0, c, Int32(ldc))
                }
            }
        }
    }

    /// Quantizes fp32 rows into `scratch` (`Int8GEMM.scratchBytes`) and multiplies.
    public func multiply(
        _ a: UnsafePointer<Float>, rows: Int, lda: Int, scratch: UnsafeMutableRawPointer, bias: UnsafePointer<Float>?,
        accumulate: Bool, into c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let q = Int8GEMM.QuantizedRows(scratch: scratch, rows: rows, width: inFeatures)
        q.quantize(a, width: inFeatures, lda: lda)
        multiply(quantized: q.values, scales: q.scales, zeros: q.zeros, rows: rows, bias: bias, accumulate: accumulate, into: c, ldc: ldc)
    }
}
