/// A Linear weight [out, in] packed once for one of the reduced-precision GEMMs; each call rounds (bf16) or
/// quantizes (int8) its fp32 inputs into a caller's scratch buffer and multiplies.
public enum PackedWeights: Sendable {
    case bf16(BFloat16Weights)
    case int8(Int8Weights)

    public var outFeatures: Int {
        switch self { case .bf16(let w): w.outFeatures; case .int8(let w): w.outFeatures }
    }
    public var inFeatures: Int {
        switch self { case .bf16(let w): w.inFeatures; case .int8(let w): w.inFeatures }
    }

    /// Scratch bytes `multiply` needs for `rows` inputs of `width` values, in either format.
    public static func scratchBytes(rows: Int, width: Int) -> Int {
        max(2 * rows * BFloat16GEMM.rowStride(width), Int8GEMM.scratchBytes(rows: rows, width: width))
    }

    /// c[rows, out] (row stride ldc) = a·Wᵀ + bias, or c += a·Wᵀ + bias when `accumulate`, for fp32 rows `a`
    /// (stride lda) of `inFeatures` values; `scratch` holds at least `scratchBytes(rows:width:)` bytes.
    public func multiply(
        _ a: UnsafePointer<Float>, rows: Int, lda: Int, scratch: UnsafeMutableRawPointer, bias: UnsafePointer<Float>?,
        accumulate: Bool, into c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        switch self {
        case .bf16(let w):
            let rounded = scratch.bindMemory(to: UInt16.self, capacity: rows * BFloat16GEMM.rowStride(w.inFeatures))
            BFloat16GEMM.convertRows(a, rows: rows, width: w.inFeatures, lda: lda, into: rounded)
            w.multiply(rounded, rows: rows, bias: bias, accumulate: accumulate, into: c, ldc: ldc)
        case .int8(let w):
            w.multiply(a, rows: rows, lda: lda, scratch: scratch, bias: bias, accumulate: accumulate, into: c, ldc: ldc)
        }
    }
}

extension Tensor {
    /// x[..., in] · Wᵀ + bias through packed weights: the reduced-precision counterpart of `Tensor.linear`.
    public static func linear(_ x: Tensor, weight: PackedWeights, bias: Tensor?) throws(TensorError) -> Tensor {
        let k = weight.inFeatures, n = weight.outFeatures
        guard x.rank >= 1, x.shape[x.rank - 1] == k else {
            throw .shapeMismatch(op: "linear(packed)", shapes: [x.shape, [n, k]], reason: "last axis of x must equal in-features")
        }
        if let bias, bias.shape != [n] {
            throw .shapeMismatch(op: "linear(packed)", shapes: [bias.shape, [n]], reason: "bias must be [out]")
        }
        let rows = x.count / k
        var out = [Float](repeating: 0, count: rows * n)
        guard rows > 0 else { return Tensor(unchecked: Array(x.shape.dropLast()) + [n], storage: out) }
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: PackedWeights.scratchBytes(rows: rows, width: k), alignment: 64)
        defer { scratch.deallocate() }
        x.storage.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                if let bias {
                    bias.storage.withUnsafeBufferPointer {
                        weight.multiply(xp.baseAddress!, rows: rows, lda: k, scratch: scratch, bias: $0.baseAddress, accumulate: false, into: op.baseAddress!, ldc: n)
                    }
                } else {
                    weight.multiply(xp.baseAddress!, rows: rows, lda: k, scratch: scratch, bias: nil, accumulate: false, into: op.baseAddress!, ldc: n)
                }
            }
        }
        return Tensor(unchecked: Array(x.shape.dropLast()) + [n], storage: out)
    }
}
