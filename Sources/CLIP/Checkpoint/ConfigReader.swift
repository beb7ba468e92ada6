import Foundation
import TensorKit

/// Reads a `CLIPConfig` from the files that ship with checkpoints, or infers it from tensor shapes.
public enum ConfigReader {
    /// Whether a `config.json` describes an HF transformers CLIP model: `model_type` "clip", or both `text_config`
    /// and `vision_config`. Repos also carry other `config.json` files (timm's, for a timm image tower next to the
    /// open_clip weights), which are not.
    public static func isHuggingFaceCLIP(_ data: Data) -> Bool {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return false }
        return root["model_type"] as? String == "clip" || (root["text_config"] is [String: Any] && root["vision_config"] is [String: Any])
    }

    /// HF `config.json`: `text_config` / `vision_config` (older files: `*_config_dict`), with the
    /// openai/clip-vit-base-patch32 defaults for absent keys, as transformers does.
    public static func huggingFace(_ data: Data, source: String) throws -> CLIPConfig {
        let root = try jsonObject(data, source)
        let text = (root["text_config"] as? [String: Any]) ?? (root["text_config_dict"] as? [String: Any]) ?? [:]
        let vision = (root["vision_config"] as? [String: Any]) ?? (root["vision_config_dict"] as? [String: Any]) ?? [:]
        func tower(_ d: [String: Any], _ name: String, width: Int, layers: Int, heads: Int, mlp: Int) throws -> TowerConfig {
            let actName = try string(d, "hidden_act", source) ?? "quick_gelu"
            guard let act = Activation(configName: actName) else {
                throw CLIPError.invalidConfig(source, "\(name).hidden_act '\(actName)' is not supported (quick_gelu or gelu)")
            }
            return TowerConfig(
                width: try int(d, "hidden_size", source) ?? width,
                layers: try int(d, "num_hidden_layers", source) ?? layers,
                heads: try int(d, "num_attention_heads", source) ?? heads,
                mlpWidth: try int(d, "intermediate_size", source) ?? mlp,
                activation: act,
                layerNormEpsilon: Float(try double(d, "layer_norm_eps", source) ?? 1e-5))
        }
        let config = CLIPConfig(
            vision: try tower(vision, "vision_config", width: 768, layers: 12, heads: 12, mlp: 3072),
            patchSize: try int(vision, "patch_size", source) ?? 32,
            imageSize: try int(vision, "image_size", source) ?? 224,
            text: try tower(text, "text_config", width: 512, layers: 12, heads: 8, mlp: 2048),
            vocabularySize: try int(text, "vocab_size", source) ?? 49408,
            contextLength: try int(text, "max_position_embeddings", source) ?? 77,
            embedDim: try int(root, "projection_dim", source) ?? 512)
        try config.validate(source: source)
        return config
    }

    /// open_clip model config: either the hub's `open_clip_config.json` (`{"model_cfg": {...}, "preprocess_cfg": {...}}`)
    /// or a bare model config (`{"embed_dim", "vision_cfg", "text_cfg", "quick_gelu"}`).
    public static func openCLIP(_ data: Data, source: String) throws -> CLIPConfig {
        let root = try jsonObject(data, source)
        let model = (root["model_cfg"] as? [String: Any]) ?? root
        guard let vision = model["vision_cfg"] as? [String: Any], let text = model["text_cfg"] as? [String: Any] else {
            throw CLIPError.invalidConfig(source, "expected \"vision_cfg\" and \"text_cfg\" objects")
        }
        if vision["timm_model_name"] is String || vision["layers"] is [Any] {
            throw CLIPError.invalidConfig(source, "only ViT towers are supported (timm or ResNet vision towers are not)")
        }
        let quick = (model["quick_gelu"] as? Bool) ?? false
        let act: Activation = quick ? .quickGELU : .gelu
        let vWidth = try int(vision, "width", source) ?? 768
        let vHeadWidth = try int(vision, "head_width", source) ?? 64
        let vRatio = try double(vision, "mlp_ratio", source) ?? 4
        let tWidth = try int(text, "width", source) ?? 512
        let tHeads = try int(text, "heads", source) ?? 8
        let tRatio = try double(text, "mlp_ratio", source) ?? 4
        guard vHeadWidth > 0 else { throw CLIPError.invalidConfig(source, "vision_cfg.head_width must be positive") }
        let config = CLIPConfig(
            vision: TowerConfig(width: vWidth, layers: try int(vision, "layers", source) ?? 12, heads: vWidth / vHeadWidth,
                                mlpWidth: Int((Double(vWidth) * vRatio).rounded()), activation: act),
            patchSize: try int(vision, "patch_size", source) ?? 16,
            imageSize: try int(vision, "image_size", source) ?? 224,
            text: TowerConfig(width: tWidth, layers: try int(text, "layers", source) ?? 12, heads: tHeads,
                              mlpWidth: Int((Double(tWidth) * tRatio).rounded()), activation: act),
            vocabularySize: try int(text, "vocab_size", source) ?? 49408,
            contextLength: try int(text, "context_length", source) ?? 77,
            embedDim: try int(model, "embed_dim", source) ?? 512)
        try config.validate(source: source)
        return config
    }

    /// Architecture from OpenAI/open_clip tensor shapes, as OpenAI's `build_model` does. Head
    /// counts are not stored in these files: they are width / 64. The activation cannot be seen in
    /// the weights; OpenAI's released weights use QuickGELU, the default here.
    public static func inferOpenCLIP(_ store: WeightStore, activation: Activation = .quickGELU, source: String) throws -> CLIPConfig {
        func shape(_ name: String) throws -> [Int] {
            guard let s = store.shape(name) else {
                throw CLIPError.unsupportedCheckpoint(source, "cannot infer the architecture: tensor '\(name)' is missing")
            }
            return s
        }
        let conv = try shape("visual.conv1.weight")
        let vpos = try shape("visual.positional_embedding")
        let tpos = try shape("positional_embedding")
        let tok = try shape("token_embedding.weight")
        let lnFinal = try shape("ln_final.weight")
        let tproj = try shape("text_projection")
        let fc = try shape("visual.transformer.resblocks.0.mlp.c_fc.weight")
        let tfc = try shape("transformer.resblocks.0.mlp.c_fc.weight")
        guard conv.count == 4, vpos.count == 2, tpos.count == 2, tok.count == 2, tproj.count == 2, !lnFinal.isEmpty,
              fc.count == 2, tfc.count == 2 else {
            throw CLIPError.unsupportedCheckpoint(source, "unexpected tensor ranks; cannot infer the architecture")
        }
        let grid = Int((Double(vpos[0] - 1)).squareRoot().rounded())
        func count(_ prefix: String) -> Int {
            Set(store.names.filter { $0.hasPrefix(prefix) }.compactMap { $0.dropFirst(prefix.count).split(separator: ".").first.flatMap { Int($0) } }).count
        }
        let vWidth = conv[0], tWidth = lnFinal[0]
        let config = CLIPConfig(
            vision: TowerConfig(width: vWidth, layers: count("visual.transformer.resblocks."), heads: max(1, vWidth / 64),
                                mlpWidth: fc[0], activation: activation),
            patchSize: conv[3], imageSize: conv[3] * grid,
            text: TowerConfig(width: tWidth, layers: count("transformer.resblocks."), heads: max(1, tWidth / 64),
                              mlpWidth: tfc[0], activation: activation),
            vocabularySize: tok[0], contextLength: tpos[0], embedDim: tproj[1])
        try config.validate(source: source)
        return config
    }

    // MARK: - JSON helpers (type errors name the key and file)

    static func jsonObject(_ data: Data, _ source: String) throws -> [String: Any] {
        guard let obj = try? JSONSerialization.jsonObject(with: data), let dict = obj as? [String: Any] else {
            throw CLIPError.invalidConfig(source, "not a JSON object")
        }
        return dict
    }

    /// A JSON `true`/`false`. Not `v is Bool`: on Linux the numbers 0 and 1 pass that test too, which refused
    /// every config value of 1 (`"num_hidden_layers": 1`).
    static func isBoolean(_ n: NSNumber) -> Bool {
        let type = String(cString: n.objCType)
        return type == "c" || type == "B"
    }

    static func int(_ d: [String: Any], _ key: String, _ source: String) throws -> Int? {
        guard let v = d[key], !(v is NSNull) else { return nil }
        if let n = v as? NSNumber, !isBoolean(n), let i = Int(exactly: n.doubleValue), i >= 0, i < 1 << 31 { return i }
        throw CLIPError.invalidConfig(source, "\"\(key)\" must be a non-negative integer, got \(v)")
    }

    static func double(_ d: [String: Any], _ key: String, _ source: String) throws -> Double? {
        guard let v = d[key], !(v is NSNull) else { return nil }
        if let n = v as? NSNumber, !isBoolean(n), n.doubleValue.isFinite { return n.doubleValue }
        throw CLIPError.invalidConfig(source, "\"\(key)\" must be a number, got \(v)")
    }

    static func string(_ d: [String: Any], _ key: String, _ source: String) throws -> String? {
        guard let v = d[key], !(v is NSNull) else { return nil }
        if let s = v as? String { return s }
        throw CLIPError.invalidConfig(source, "\"\(key)\" must be a string, got \(v)")
    }
}
