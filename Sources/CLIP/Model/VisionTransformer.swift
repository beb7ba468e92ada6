import TensorKit

/// CLIP's image tower (follows OpenAI `clip/model.py` VisionTransformer and HF `CLIPVisionTransformer`).
///
/// pixels [B, 3, S, S] → patch embedding (a bias-free conv with kernel = stride = patch, done as a
/// matmul over flattened patches) → class token + positional embedding → ln_pre → blocks (no mask)
/// → ln_post on the class token → projection. The result is the un-normalised image embedding.
/// The tower is frozen everywhere in clipcl, so its forward is inference-only (`ImageTowerForward.swift`).
public struct VisionTransformer: Sendable {
    public var config: CLIPConfig
    /// Conv weight [width, 3, P, P] flattened to [width, 3·P·P] (channel, then row, then column).
    public var patchEmbedding: Variable
    public var classEmbedding: Variable      // [width]
    public var positionalEmbedding: Variable // [tokens, width]
    public var preLayerNorm: LayerNorm
    public var blocks: [ResidualAttentionBlock]
    public var postLayerNorm: LayerNorm
    public var projection: Linear            // [embed, width], no bias
    /// bf16 copies of the matmul weights when the tower runs in bf16 (`setDType`).
    public private(set) var bf16: BFloat16VisionWeights?
    /// Whether `setDType(.bf16, releasingFP32Weights: true)` dropped the fp32 matmul weights.
    public private(set) var fp32WeightsReleased = false

    public var dtype: ComputeDType { bf16 == nil ? .f32 : .bf16 }

    /// Switches the matmuls to `dtype`. bf16 packs the weights once; with `releasingFP32Weights`
    /// the fp32 matmul weights are dropped (a ViT-B/16 then needs about 0.9× its checkpoint's size
    /// instead of 1.46×), and the tower can no longer return to fp32.
    public mutating func setDType(_ dtype: ComputeDType, releasingFP32Weights release: Bool = false) throws(TensorError) {
        switch dtype {
        case .f32:
            guard !fp32WeightsReleased else {
                throw .invalidArgument(op: "VisionTransformer", reason: "the fp32 matmul weights were released for bf16; reload the model to run in fp32")
            }
            bf16 = nil
        case .bf16:
            // Packed block by block, each block's fp32 weights released right after when asked, so
            // the peak holds one block's two copies, not the whole tower's.
            let packNow = bf16 == nil
            let empty = Variable(Tensor(unchecked: [0], storage: []))
            var packed: BFloat16VisionWeights
            if let bf16 { packed = bf16 } else { packed = BFloat16VisionWeights(patch: try BFloat16Weights(patchEmbedding.value), blocks: []) }
            if release { patchEmbedding = empty }
            for i in blocks.indices {
                if packNow { packed.blocks.append(try BFloat16VisionWeights.Block(blocks[i])) }
                if release {
                    blocks[i].attention.query.weight = empty
                    blocks[i].attention.key.weight = empty
                    blocks[i].attention.value.weight = empty
                    blocks[i].attention.output.weight = empty
                    blocks[i].fc1.weight = empty
                    blocks[i].fc2.weight = empty
                }
            }
            bf16 = packed
            fp32WeightsReleased = fp32WeightsReleased || release
        }
    }

    public init(config: CLIPConfig, patchEmbedding: Variable, classEmbedding: Variable, positionalEmbedding: Variable,
                preLayerNorm: LayerNorm, blocks: [ResidualAttentionBlock], postLayerNorm: LayerNorm, projection: Linear) {
        self.config = config; self.patchEmbedding = patchEmbedding; self.classEmbedding = classEmbedding
        self.positionalEmbedding = positionalEmbedding; self.preLayerNorm = preLayerNorm; self.blocks = blocks
        self.postLayerNorm = postLayerNorm; self.projection = projection
    }

    /// [B, 3, S, S] → [B, (S/P)², 3·P·P]: each patch flattened channel-major, then row, then column,
    /// matching the conv weight [W, 3, P, P] viewed as [W, 3·P·P]; patches in row-major grid order.
    static func patchify(_ pixels: Tensor, patch p: Int) -> Tensor {
        let b = pixels.shape[0], s = pixels.shape[2], g = s / p
        let patchLen = 3 * p * p
        var out = [Float](repeating: 0, count: b * g * g * patchLen)
        pixels.storage.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var o = 0
                for n in 0..<b {
                    for gy in 0..<g {
                        for gx in 0..<g {
                            for c in 0..<3 {
                                for y in 0..<p {
                                    let row = ((n * 3 + c) * s + gy * p + y) * s + gx * p
                                    for x in 0..<p { dst[o + x] = src[row + x] }
                                    o += p
                                }
                            }
                        }
                    }
                }
            }
        }
        return Tensor(unchecked: [b, g * g, patchLen], storage: out)
    }
}

/// The image tower's matmul weights rounded to bf16 and packed once; Q, K and V are fused into one
/// [3·width, width] matrix so a block makes one QKV GEMM.
public struct BFloat16VisionWeights: Sendable {
    struct Block: Sendable {
        var qkv: BFloat16Weights
        var qkvBias: [Float]
        var output: BFloat16Weights
        var fc1: BFloat16Weights
        var fc2: BFloat16Weights

        init(_ b: ResidualAttentionBlock) throws(TensorError) {
            let a = b.attention
            let w = try Tensor.concatenate([a.query.weight.value, a.key.weight.value, a.value.weight.value], axis: 0)
            let width = a.query.weight.value.shape[0]
            qkvBias = [a.query.bias, a.key.bias, a.value.bias].flatMap { $0?.value.storage ?? [Float](repeating: 0, count: width) }
            qkv = try BFloat16Weights(w)
            output = try BFloat16Weights(a.output.weight.value)
            fc1 = try BFloat16Weights(b.fc1.weight.value)
            fc2 = try BFloat16Weights(b.fc2.weight.value)
        }
    }
    var patch: BFloat16Weights
    var blocks: [Block]

    init(patch: BFloat16Weights, blocks: [Block]) {
        self.patch = patch
        self.blocks = blocks
    }
}
