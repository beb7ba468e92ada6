import Foundation
import TensorKit

/// Builds a `CLIPModel` from a weight store, a config and a layout, checking every tensor's shape.
public enum ModelLoader {
    public static func load(store: WeightStore, config: CLIPConfig, layout: CheckpointLayout) throws -> CLIPModel {
        let c = config
        let vw = c.vision.width, tw = c.text.width, e = c.embedDim, p = c.patchSize
        func frozen(_ name: String, _ shape: [Int]) throws -> Variable { Variable(try store.tensor(name, shape)) }

        let patch = try store.tensor(layout.patchEmbedding, [vw, 3, p, p]).reshaped([vw, 3 * p * p])
        let vision = VisionTransformer(
            config: c,
            patchEmbedding: Variable(patch),
            classEmbedding: try frozen(layout.classEmbedding, [vw]),
            positionalEmbedding: try frozen(layout.visionPositional, [c.visionTokens, vw]),
            preLayerNorm: try layerNorm(store, layout.preLayerNorm, vw, c.vision.layerNormEpsilon),
            blocks: try (0..<c.vision.layers).map { try block(store, layout, vision: true, $0, c.vision) },
            postLayerNorm: try layerNorm(store, layout.postLayerNorm, vw, c.vision.layerNormEpsilon),
            projection: Linear(weight: try projection(store, layout, layout.visionProjection, out: e, in: vw), bias: nil))
        let text = TextTransformer(
            config: c,
            tokenEmbedding: try frozen(layout.tokenEmbedding, [c.vocabularySize, tw]),
            positionalEmbedding: try frozen(layout.textPositional, [c.contextLength, tw]),
            blocks: try (0..<c.text.layers).map { try block(store, layout, vision: false, $0, c.text) },
            finalLayerNorm: try layerNorm(store, layout.finalLayerNorm, tw, c.text.layerNormEpsilon),
            projection: Linear(weight: try projection(store, layout, layout.textProjection, out: e, in: tw), bias: nil))
        let scale = try store.tensor("logit_scale", []).storage[0]
        return CLIPModel(config: c, vision: vision, text: text, logitScale: scale)
    }

    /// Projections are [out, in] in HF, [in, out] in OpenAI/open_clip (transposed here).
    static func projection(_ store: WeightStore, _ layout: CheckpointLayout, _ name: String, out: Int, in: Int) throws -> Variable {
        switch layout {
        case .huggingFace: Variable(try store.tensor(name, [out, `in`]))
        case .openCLIP: Variable(try store.tensor(name, [`in`, out]).transposed())
        }
    }

    static func layerNorm(_ store: WeightStore, _ prefix: String, _ width: Int, _ eps: Float) throws -> LayerNorm {
        LayerNorm(weight: Variable(try store.tensor(prefix + ".weight", [width])),
                  bias: Variable(try store.tensor(prefix + ".bias", [width])), epsilon: eps)
    }

    static func linear(_ store: WeightStore, _ prefix: String, out: Int, in: Int) throws -> Linear {
        Linear(weight: Variable(try store.tensor(prefix + ".weight", [out, `in`])),
               bias: Variable(try store.tensor(prefix + ".bias", [out])))
    }

    static func block(_ store: WeightStore, _ layout: CheckpointLayout, vision: Bool, _ n: Int,
                      _ t: TowerConfig) throws -> ResidualAttentionBlock {
        let names = layout.block(vision: vision, n)
        let w = t.width
        let q: Linear, k: Linear, v: Linear
        if let inProj = names.inProj {
            // Packed [3W, W]: rows 0..<W are Q, W..<2W are K, 2W..<3W are V.
            let weight = try store.tensor(inProj + "_weight", [3 * w, w])
            let bias = try store.tensor(inProj + "_bias", [3 * w])
            func part(_ i: Int) throws -> Linear {
                Linear(weight: Variable(try weight.slice(axis: 0, (i * w)..<((i + 1) * w))),
                       bias: Variable(try bias.slice(axis: 0, (i * w)..<((i + 1) * w))))
            }
            (q, k, v) = (try part(0), try part(1), try part(2))
        } else {
            q = try linear(store, names.q!, out: w, in: w)
            k = try linear(store, names.k!, out: w, in: w)
            v = try linear(store, names.v!, out: w, in: w)
        }
        return ResidualAttentionBlock(
            layerNorm1: try layerNorm(store, names.ln1, w, t.layerNormEpsilon),
            attention: SelfAttention(query: q, key: k, value: v, output: try linear(store, names.outProj, out: w, in: w), heads: t.heads),
            layerNorm2: try layerNorm(store, names.ln2, w, t.layerNormEpsilon),
            fc1: try linear(store, names.fc1, out: t.mlpWidth, in: w),
            fc2: try linear(store, names.fc2, out: w, in: t.mlpWidth),
            activation: t.activation)
    }
}
