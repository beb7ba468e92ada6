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
    /// The matmul weights packed for bf16 or int8 when the tower runs in one of them (`setDType`).
    public private(set) var packed: PackedVisionWeights?
    /// Whether `setDType(_, releasingFP32Weights: true)` dropped the fp32 matmul weights.
    public private(set) var fp32WeightsReleased = false

    public var dtype: ComputeDType { packed?.dtype ?? .f32 }

    /// Switches the matmuls to `dtype`. bf16 and int8 pack the weights once (from fp32, so a tower can move
    /// between them while it has its fp32 weights); with `releasingFP32Weights` the fp32 matmul weights are
    /// dropped (a ViT-B/16 then needs about 0.9× its checkpoint's size in bf16 instead of 1.46×), and the
    /// tower keeps the format it has.
    public mutating func setDType(_ dtype: ComputeDType, releasingFP32Weights release: Bool = false) throws(TensorError) {
        guard dtype != self.dtype else {
            if release && dtype != .f32 { releaseFP32Weights() }
            return
        }
        guard !fp32WeightsReleased else {
            throw .invalidArgument(op: "VisionTransformer", reason: "the fp32 matmul weights were released for \(self.dtype.rawValue); reload the model to run in \(dtype.rawValue)")
        }
        guard dtype != .f32 else { packed = nil; return }
        // Packed block by block, each block's fp32 weights released right after when asked, so the peak
        // holds one block's two copies, not the whole tower's.
        var weights = PackedVisionWeights(dtype: dtype, patch: try PackedVisionWeights.pack(patchEmbedding.value, dtype), blocks: [])
        if release { patchEmbedding = Self.released }
        for i in blocks.indices {
            weights.blocks.append(try PackedVisionWeights.Block(blocks[i], dtype))
            if release { Self.releaseWeights(of: &blocks[i]) }
        }
        packed = weights
        fp32WeightsReleased = fp32WeightsReleased || release
    }

    private static let released = Variable(Tensor(unchecked: [0], storage: []))

    private static func releaseWeights(of block: inout ResidualAttentionBlock) {
        block.attention.query.weight = released
        block.attention.key.weight = released
        block.attention.value.weight = released
        block.attention.output.weight = released
        block.fc1.weight = released
        block.fc2.weight = released
    }

    private mutating func releaseFP32Weights() {
        patchEmbedding = Self.released
        for i in blocks.indices { Self.releaseWeights(of: &blocks[i]) }
        fp32WeightsReleased = true
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

/// The image tower's matmul weights packed once in bf16 or int8; Q, K and V are fused into one
/// [3·width, width] matrix so a block makes one QKV GEMM.
public struct PackedVisionWeights: Sendable {
    struct Block: Sendable {
        var qkv: PackedWeights
        var qkvBias: [Float]
        var output: PackedWeights
        var fc1: PackedWeights
        var fc2: PackedWeights

        init(_ b: ResidualAttentionBlock, _ dtype: ComputeDType) throws(TensorError) {
            let a = b.attention
            let w = try Tensor.concatenate([a.query.weight.value, a.key.weight.value, a.value.weight.value], axis: 0)
            let width = a.query.weight.value.shape[0]
            qkvBias = [a.query.bias, a.key.bias, a.value.bias].flatMap { $0?.value.storage ?? [Float](repeating: 0, count: width) }
            qkv = try pack(w, dtype)
            output = try pack(a.output.weight.value, dtype)
            fc1 = try pack(b.fc1.weight.value, dtype)
            fc2 = try pack(b.fc2.weight.value, dtype)
        }
    }
    let dtype: ComputeDType
    var patch: PackedWeights
    var blocks: [Block]

    static func pack(_ weight: Tensor, _ dtype: ComputeDType) throws(TensorError) -> PackedWeights {
        switch dtype {
        case .bf16: .bf16(try BFloat16Weights(weight))
        case .int8: .int8(try Int8Weights(weight))
        case .f32: throw .invalidArgument(op: "PackedVisionWeights", reason: "fp32 weights are not packed")
        }
    }
}
