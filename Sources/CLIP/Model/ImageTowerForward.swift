import TensorKit

extension VisionTransformer {
    /// Image embeddings [B, embed] for pixels [B, 3, S, S], single-threaded (see `CLIPModel.encodeImages`).
    ///
    /// Inference only, on buffers allocated once per call and reused by every block: the residual
    /// stream x [B·T, W], one LayerNorm output, the fused QKV rows and the attention output (of the
    /// batch in fp32, of one image otherwise), the MLP hidden rows (all, or 56) and one head's T×T
    /// scores. The output projection and fc2 add straight into x (GEMM accumulate), so residuals cost
    /// no extra pass. In bf16 or int8 mode every matmul
    /// input is rounded or quantized once, into one shared scratch buffer.
    public func callAsFunction(_ pixels: Tensor) throws(TensorError) -> Tensor {
        let s = config.imageSize, p = config.patchSize, w = config.vision.width
        guard pixels.rank == 4, pixels.shape[1] == 3, pixels.shape[2] == s, pixels.shape[3] == s else {
            throw .shapeMismatch(op: "VisionTransformer", shapes: [pixels.shape, [-1, 3, s, s]], reason: "pixels must be [B, 3, \(s), \(s)]")
        }
        let images = pixels.shape[0], t = config.visionTokens, rows = images * t
        let mlpWidth = config.vision.mlpWidth, patchLen = 3 * p * p
        let patches = Self.patchify(pixels, patch: p)                                   // [B, g², 3·P·P]

        // The packed (bf16, int8) kernels take one image's attention and 56 MLP rows at a time, so each GEMM's output
        // is still in cache for the next step (int8 ViT-B/16: about +4 %); BLAS takes the whole batch per call.
        let attentionImages = packed == nil ? images : 1, mlpRows = packed == nil ? rows : min(rows, 56)
        let x = Buffer<Float>(rows * w), normed = Buffer<Float>(rows * w), attended = Buffer<Float>(attentionImages * t * w)
        let qkv = Buffer<Float>(attentionImages * t * 3 * w), hidden = Buffer<Float>(mlpRows * mlpWidth), scores = Buffer<Float>(t * t)
        let heads = blocks.first?.attention.heads ?? 1
        let scratch = Buffer<UInt8>(packed == nil ? 0 : PackedWeights.scratchBytes(rows: max(t, mlpRows), width: max(w, mlpWidth, patchLen)))
        let attentionScratch = Buffer<UInt16>(packed == nil ? 0 : BFloat16GEMM.attentionScratchCount(tokens: t, headDim: w / heads))
        defer { for b in [x, normed, attended, qkv, hidden, scores] { b.free() }; scratch.free(); attentionScratch.free() }
        let mm = MatMul(scratch: UnsafeMutableRawPointer(scratch.pointer))

        // Patch tokens go to rows 1..<T of each image, the class embedding to row 0; then + positions.
        patches.storage.withUnsafeBufferPointer { pp in
            for i in 0..<images {
                mm.apply(pp.baseAddress! + i * (t - 1) * patchLen, rows: t - 1, inWidth: patchLen, lda: patchLen,
                         weight: patchEmbedding.value, bias: nil, packed: packed?.patch, accumulate: false,
                         into: x.pointer + (i * t + 1) * w, ldc: w)
            }
        }
        classEmbedding.value.storage.withUnsafeBufferPointer { c in
            for i in 0..<images { (x.pointer + i * t * w).update(from: c.baseAddress!, count: w) }
        }
        positionalEmbedding.value.storage.withUnsafeBufferPointer { pos in
            RowKernels.addBias(x.pointer, rows: images, width: t * w, ldc: t * w, bias: pos.baseAddress!)
        }
        preLayerNorm.apply(x.pointer, rows: rows, width: w, into: x.pointer)

        for (l, block) in blocks.enumerated() {
            let packed = packed?.blocks[l]
            let a = block.attention
            block.layerNorm1.apply(x.pointer, rows: rows, width: w, into: normed.pointer)
            for i0 in stride(from: 0, to: images, by: attentionImages) {
                let r0 = i0 * t, n = min(attentionImages, images - i0) * t
                if let packed {
                    mm.packed(normed.pointer + r0 * w, rows: n, lda: w, weight: packed.qkv, bias: packed.qkvBias,
                              accumulate: false, into: qkv.pointer, ldc: 3 * w)
                } else {
                    for (j, proj) in [a.query, a.key, a.value].enumerated() {
                        mm.fp32(normed.pointer + r0 * w, rows: n, inWidth: w, lda: w, weight: proj.weight.value,
                                bias: proj.bias?.value.storage, accumulate: false, into: qkv.pointer + j * w, ldc: 3 * w)
                    }
                }
                for i in 0..<n / t {
                    // bf16 and int8 modes run the attention matmuls in bf16; fp32 stays the reference path.
                    if packed != nil {
                        BFloat16GEMM.selfAttention(packedQKV: qkv.pointer + i * t * 3 * w, tokens: t, width: w, heads: a.heads,
                                                   scores: scores.pointer, scratch: attentionScratch.pointer,
                                                   into: attended.pointer + i * t * w, ldo: w)
                    } else {
                        Tensor.selfAttention(packedQKV: qkv.pointer + i * t * 3 * w, tokens: t, width: w, heads: a.heads,
                                             scratch: scores.pointer, into: attended.pointer + i * t * w, ldo: w)
                    }
                }
                mm.apply(attended.pointer, rows: n, inWidth: w, lda: w, weight: a.output.weight.value,
                         bias: a.output.bias?.value.storage, packed: packed?.output, accumulate: true, into: x.pointer + r0 * w, ldc: w)
            }

            block.layerNorm2.apply(x.pointer, rows: rows, width: w, into: normed.pointer)
            for r0 in stride(from: 0, to: rows, by: mlpRows) {
                let n = min(mlpRows, rows - r0)
                mm.apply(normed.pointer + r0 * w, rows: n, inWidth: w, lda: w, weight: block.fc1.weight.value,
                         bias: block.fc1.bias?.value.storage, packed: packed?.fc1, accumulate: false, into: hidden.pointer, ldc: mlpWidth)
                RowKernels.activate(hidden.pointer, count: n * mlpWidth, block.activation)
                mm.apply(hidden.pointer, rows: n, inWidth: mlpWidth, lda: mlpWidth, weight: block.fc2.weight.value,
                         bias: block.fc2.bias?.value.storage, packed: packed?.fc2, accumulate: true, into: x.pointer + r0 * w, ldc: w)
            }
        }

        // ln_post on each image's class token, then the (small, always fp32) projection.
        var first = [Float](repeating: 0, count: images * w)
        first.withUnsafeMutableBufferPointer { f in
            for i in 0..<images { f.baseAddress!.advanced(by: i * w).update(from: x.pointer + i * t * w, count: w) }
            postLayerNorm.apply(f.baseAddress!, rows: images, width: w, into: f.baseAddress!)
        }
        return try Tensor.linear(Tensor(unchecked: [images, w], storage: first), weight: projection.weight.value,
                                 bias: projection.bias?.value)
    }
}

/// A heap buffer owned by one forward call.
private struct Buffer<Element> {
    let pointer: UnsafeMutablePointer<Element>
    init(_ count: Int) { pointer = .allocate(capacity: max(count, 1)) }
    func free() { pointer.deallocate() }
}

/// One matmul of the forward: c (+)= a·Wᵀ + bias, fp32 through BLAS or bf16/int8 through packed weights.
private struct MatMul {
    /// Scratch for the rounded or quantized inputs (empty in fp32 mode).
    let scratch: UnsafeMutableRawPointer

    /// Packed weights when the tower has them, else fp32.
    func apply(
        _ a: UnsafePointer<Float>, rows: Int, inWidth: Int, lda: Int, weight: Tensor, bias: [Float]?,
        packed: PackedWeights?, accumulate: Bool, into c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if let packed {
            self.packed(a, rows: rows, lda: lda, weight: packed, bias: bias, accumulate: accumulate, into: c, ldc: ldc)
        } else {
            fp32(a, rows: rows, inWidth: inWidth, lda: lda, weight: weight, bias: bias, accumulate: accumulate, into: c, ldc: ldc)
        }
    }

    func packed(
        _ a: UnsafePointer<Float>, rows: Int, lda: Int, weight: PackedWeights, bias: [Float]?,
        accumulate: Bool, into c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if let bias {
            bias.withUnsafeBufferPointer {
                weight.multiply(a, rows: rows, lda: lda, scratch: scratch, bias: $0.baseAddress, accumulate: accumulate, into: c, ldc: ldc)
            }
        } else {
            weight.multiply(a, rows: rows, lda: lda, scratch: scratch, bias: nil, accumulate: accumulate, into: c, ldc: ldc)
        }
    }

    func fp32(
        _ a: UnsafePointer<Float>, rows: Int, inWidth: Int, lda: Int, weight: Tensor, bias: [Float]?,
        accumulate: Bool, into c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let n = weight.shape[0]
        weight.storage.withUnsafeBufferPointer { wp in
            RowKernels.multiplyTransposed(a, rows: rows, lda: lda, weight: wp.baseAddress!, outFeatures: n,
                                          inFeatures: inWidth, accumulate: accumulate, into: c, ldc: ldc)
        }
        if let bias { bias.withUnsafeBufferPointer { RowKernels.addBias(c, rows: rows, width: n, ldc: ldc, bias: $0.baseAddress!) } }
    }
}

extension LayerNorm {
    /// Pointer form for the inference forward (in place when `out == x`).
    func apply(_ x: UnsafePointer<Float>, rows: Int, width: Int, into out: UnsafeMutablePointer<Float>) {
        weight.value.storage.withUnsafeBufferPointer { wp in
            bias.value.storage.withUnsafeBufferPointer { bp in
                RowKernels.layerNorm(x, rows: rows, width: width, weight: wp.baseAddress!, bias: bp.baseAddress!,
                                     epsilon: epsilon, into: out)
            }
        }
    }
}
