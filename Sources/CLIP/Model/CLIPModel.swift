import Foundation
import TensorKit

/// A CLIP model: both towers and the logit scale.
public struct CLIPModel: Sendable {
    public var config: CLIPConfig
    public var vision: VisionTransformer
    public var text: TextTransformer
    /// The checkpoint's `logit_scale`: a log, so logits use exp(logitScale) (≈ 100 for OpenAI weights).
    public var logitScale: Float

    public var logitScaleExp: Float { Float(exp(Double(logitScale))) }

    /// Un-normalised image embeddings [B, embed] for pixels [B, 3, S, S].
    ///
    /// The batch is cut into one contiguous part per core, encoded concurrently with single-threaded
    /// BLAS (see `Parallelism.map`): LayerNorm, attention and the activations then run on every
    /// core too, not only the GEMMs. Each image's embedding depends only on its own pixels.
    public func encodeImages(_ pixels: Tensor) throws -> Tensor {
        guard pixels.rank == 4, pixels.shape[0] > 1, Parallelism.threads > 1 else { return try vision(pixels) }
        let n = pixels.shape[0]
        let parts = min(Parallelism.threads, n)
        let bounds = (0...parts).map { $0 * n / parts }
        let vision = self.vision
        let outputs = try Parallelism.map(parts) { i in
            try vision(try pixels.slice(axis: 0, bounds[i]..<bounds[i + 1]))
        }
        return try Tensor.concatenate(outputs, axis: 0)
    }

    /// Un-normalised text embeddings [B, embed] for token-id rows.
    public func encodeTexts(_ ids: [[Int32]]) throws(TensorError) -> Tensor { try text(ids) }

    /// exp(logit_scale) · cos(image_i, text_j), the `logits_per_image` of HF's CLIPModel.
    public func logits(imageEmbeddings: Tensor, textEmbeddings: Tensor) throws(TensorError) -> Tensor {
        try Variable.cosineLogits(image: Variable(imageEmbeddings), text: Variable(textEmbeddings), scale: logitScaleExp).value
    }
}

