import TensorKit

extension CLIPModel {
    /// A model of the given architecture with random weights (normal, std 0.02; LayerNorms at
    /// identity), for benchmarks and for running the pipeline where no checkpoint is available.
    /// Its embeddings carry no CLIP knowledge: results from it are not CLIP results.
    public static func random(config c: CLIPConfig, seed: UInt64) throws -> CLIPModel {
        try c.validate(source: "random model")
        var rng = RandomGenerator(seed: seed)
        func normal(_ shape: [Int], _ std: Float = 0.02) -> Variable { Variable(Tensor.normal(shape: shape, mean: 0, std: std, using: &rng)) }
        func zeros(_ n: Int) throws -> Variable { Variable(try Tensor(zeros: [n])) }
        func layerNorm(_ w: Int, _ eps: Float) throws -> LayerNorm {
            LayerNorm(weight: Variable(try Tensor(repeating: 1, shape: [w])), bias: try zeros(w), epsilon: eps)
        }
        func linear(_ out: Int, _ inF: Int, bias: Bool = true) throws -> Linear {
            Linear(weight: normal([out, inF]), bias: bias ? try zeros(out) : nil)
        }
        func block(_ t: TowerConfig) throws -> ResidualAttentionBlock {
            let w = t.width
            return ResidualAttentionBlock(
                layerNorm1: try layerNorm(w, t.layerNormEpsilon),
                attention: SelfAttention(query: try linear(w, w), key: try linear(w, w), value: try linear(w, w),
                                         output: try linear(w, w), heads: t.heads),
                layerNorm2: try layerNorm(w, t.layerNormEpsilon),
                fc1: try linear(t.mlpWidth, w), fc2: try linear(w, t.mlpWidth), activation: t.activation)
        }
        let vw = c.vision.width, tw = c.text.width, p = c.patchSize
        let vision = VisionTransformer(
            config: c, patchEmbedding: normal([vw, 3 * p * p]), classEmbedding: normal([vw]),
            positionalEmbedding: normal([c.visionTokens, vw]), preLayerNorm: try layerNorm(vw, c.vision.layerNormEpsilon),
            blocks: try (0..<c.vision.layers).map { _ in try block(c.vision) },
            postLayerNorm: try layerNorm(vw, c.vision.layerNormEpsilon), projection: try linear(c.embedDim, vw, bias: false))
        let text = TextTransformer(
            config: c, tokenEmbedding: normal([c.vocabularySize, tw]), positionalEmbedding: normal([c.contextLength, tw], 0.01),
            blocks: try (0..<c.text.layers).map { _ in try block(c.text) },
            finalLayerNorm: try layerNorm(tw, c.text.layerNormEpsilon), projection: try linear(c.embedDim, tw, bias: false))
        return CLIPModel(config: c, vision: vision, text: text, logitScale: 4.6052)
    }
}
