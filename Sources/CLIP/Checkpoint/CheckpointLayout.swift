import TensorKit

/// The two checkpoint layouts clipcl reads, and the name of every tensor in each.
///
/// HF transformers (`CLIPModel.state_dict()`) and OpenAI / open_clip (`clip.load(...).state_dict()`,
/// open_clip `*-quickgelu` models) differ in names, in how Q/K/V are stored, and in the projections:
/// OpenAI keeps `visual.proj` and `text_projection` as [in, out] (used as x @ P), HF as Linear
/// weights [out, in]. Internally every Linear weight is [out, in], so OpenAI projections are
/// transposed on load and OpenAI's packed `in_proj_weight` [3W, W] is split into Q, K, V rows.
public enum CheckpointLayout: String, Codable, Sendable {
    case huggingFace = "hf"
    case openCLIP = "open_clip"

    /// Detects the layout from tensor names; nil when neither matches (e.g. a timm vision-only file).
    public static func detect(_ names: Set<String>) -> CheckpointLayout? {
        if names.contains("vision_model.embeddings.patch_embedding.weight") { return .huggingFace }
        if names.contains("visual.conv1.weight") || names.contains("visual.proj") { return .openCLIP }
        return nil
    }

    // MARK: - Names

    struct BlockNames {
        let ln1: String, ln2: String, fc1: String, fc2: String, outProj: String
        /// HF: separate q/k/v prefixes; OpenAI: the packed in_proj prefix.
        let q: String?, k: String?, v: String?, inProj: String?
    }

    func block(vision: Bool, _ n: Int) -> BlockNames {
        switch self {
        case .huggingFace:
            let p = "\(vision ? "vision_model" : "text_model").encoder.layers.\(n)."
            return BlockNames(ln1: p + "layer_norm1", ln2: p + "layer_norm2", fc1: p + "mlp.fc1", fc2: p + "mlp.fc2",
                              outProj: p + "self_attn.out_proj", q: p + "self_attn.q_proj", k: p + "self_attn.k_proj",
                              v: p + "self_attn.v_proj", inProj: nil)
        case .openCLIP:
            let p = (vision ? "visual." : "") + "transformer.resblocks.\(n)."
            return BlockNames(ln1: p + "ln_1", ln2: p + "ln_2", fc1: p + "mlp.c_fc", fc2: p + "mlp.c_proj",
                              outProj: p + "attn.out_proj", q: nil, k: nil, v: nil, inProj: p + "attn.in_proj")
        }
    }

    var patchEmbedding: String { self == .huggingFace ? "vision_model.embeddings.patch_embedding.weight" : "visual.conv1.weight" }
    var classEmbedding: String { self == .huggingFace ? "vision_model.embeddings.class_embedding" : "visual.class_embedding" }
    var visionPositional: String { self == .huggingFace ? "vision_model.embeddings.position_embedding.weight" : "visual.positional_embedding" }
    var preLayerNorm: String { self == .huggingFace ? "vision_model.pre_layrnorm" : "visual.ln_pre" }
    var postLayerNorm: String { self == .huggingFace ? "vision_model.post_layernorm" : "visual.ln_post" }
    var visionProjection: String { self == .huggingFace ? "visual_projection.weight" : "visual.proj" }
    var tokenEmbedding: String { self == .huggingFace ? "text_model.embeddings.token_embedding.weight" : "token_embedding.weight" }
    var textPositional: String { self == .huggingFace ? "text_model.embeddings.position_embedding.weight" : "positional_embedding" }
    var finalLayerNorm: String { self == .huggingFace ? "text_model.final_layer_norm" : "ln_final" }
    var textProjection: String { self == .huggingFace ? "text_projection.weight" : "text_projection" }
    var visionBlockPrefix: String { self == .huggingFace ? "vision_model.encoder.layers." : "visual.transformer.resblocks." }
    var textBlockPrefix: String { self == .huggingFace ? "text_model.encoder.layers." : "transformer.resblocks." }
}
