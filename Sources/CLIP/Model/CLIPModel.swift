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
    public func encodeImages(_ pixels: Tensor) throws(TensorError) -> Tensor { try vision(pixels) }

    /// Un-normalised text embeddings [B, embed] for token-id rows.
    public func encodeTexts(_ ids: [[Int32]]) throws(TensorError) -> Tensor { try text(ids) }

    /// exp(logit_scale) · cos(image_i, text_j), the `logits_per_image` of HF's CLIPModel.
    public func logits(imageEmbeddings: Tensor, textEmbeddings: Tensor) throws(TensorError) -> Tensor {
        try Variable.cosineLogits(image: Variable(imageEmbeddings), text: Variable(textEmbeddings), scale: logitScaleExp).value
    }
}

