import TensorKit

/// CLIP's image tower (follows OpenAI `clip/model.py` VisionTransformer and HF `CLIPVisionTransformer`).
///
/// pixels [B, 3, S, S] → patch embedding (a bias-free conv with kernel = stride = patch, done as a
/// matmul over flattened patches) → class token + positional embedding → ln_pre → blocks (no mask)
/// → ln_post on the class token → projection. The result is the un-normalised image embedding.
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

    /// Image embeddings [B, embed] for pixels [B, 3, S, S].
    public func callAsFunction(_ pixels: Tensor) throws(TensorError) -> Tensor {
        try embed(pixels).value
    }

    public func embed(_ pixels: Tensor) throws(TensorError) -> Variable {
        let s = config.imageSize, p = config.patchSize, w = config.vision.width
        guard pixels.rank == 4, pixels.shape[1] == 3, pixels.shape[2] == s, pixels.shape[3] == s else {
            throw .shapeMismatch(op: "VisionTransformer", shapes: [pixels.shape, [-1, 3, s, s]], reason: "pixels must be [B, 3, \(s), \(s)]")
        }
        let b = pixels.shape[0]
        let patches = Variable(Self.patchify(pixels, patch: p))                       // [B, g², 3·P·P]
        let tokens = try Variable.linear(patches, weight: patchEmbedding, bias: nil)   // [B, g², W]
        let cls = try Variable(try Tensor(zeros: [b, 1, w])) + (try classEmbedding.reshaped([1, 1, w]))
        var x = try Variable.concatenate([cls, tokens], axis: 1)
        x = try x + positionalEmbedding
        x = try preLayerNorm(x)
        for block in blocks { x = try block(x, mask: .none) }
        let first = try x.slice(axis: 1, 0..<1).reshaped([b, w])
        return try projection(try postLayerNorm(first))
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
