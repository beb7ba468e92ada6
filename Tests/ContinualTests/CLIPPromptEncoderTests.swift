#if canImport(CLIP)
import CLIP
import Continual
import Testing
import TensorKit

/// Prompt tuning through CLIP's real text tower (random tiny weights) and BPE tokenizer.
/// Compiled only where the CLIP module is available.
@Suite struct CLIPPromptEncoderTests {
    func encoder() throws -> CLIPPromptEncoder {
        let tower = TowerConfig(width: 16, layers: 1, heads: 2, mlpWidth: 32, activation: .quickGELU)
        let config = CLIPConfig(vision: tower, patchSize: 8, imageSize: 16, text: tower,
                                vocabularySize: CLIPTokenizer.standardVocabularySize, contextLength: 77, embedDim: 12)
        let model = try CLIPModel.random(config: config, seed: 3)
        return CLIPPromptEncoder(tower: model.text, tokenizer: try CLIPTokenizer.standard())
    }

    @Test func phraseInitReproducesTheTemplatedText() throws {
        // With the context initialised to the embeddings of "a photo of a", the prompt
        // [SOT] a photo of a <name> . [EOT] is exactly CLIP's tokenization of "a photo of a <name>.",
        // so the features must match the tower run on those token ids.
        let e = try encoder()
        var config = RunConfig()
        config.method = .prompt
        config.prompt.`init` = .phrase
        var rng = RandomGenerator(seed: 1)
        let method = try PromptTuning(encoder: e, config: config, rng: &rng)
        let names = ["cat", "aquarium_fish", "sweet pepper"]
        let prompted = try method.classTextFeatures(context: Variable(method.context), classes: [0, 1, 2], classNames: names)
        let reference = try e.tower(names.map { e.tokenizer.encode("a photo of a \($0).") })
        #expect(prompted.value.maxAbsDifference(reference)! < 1e-5)
    }

    @Test func gradientReachesTheContextThroughTheTower() throws {
        let e = try encoder()
        var config = RunConfig()
        config.method = .prompt
        config.prompt.length = 2
        config.prompt.std = 0.5
        var rng = RandomGenerator(seed: 2)
        let method = try PromptTuning(encoder: e, config: config, rng: &rng)
        let names = ["cat", "dog", "sweet pepper"]
        let images = Tensor.normal(shape: [4, 12], using: &rng)
        func loss(_ context: Variable) throws -> Variable {
            let text = try method.classTextFeatures(context: context, classes: [0, 1, 2], classNames: names)
            return try Variable.cosineLogits(image: Variable(images), text: text, scale: 10).crossEntropy(labels: [0, 1, 2, 1])
        }
        let context = method.context
        let v = Variable(context, requiresGrad: true)
        let g = try #require(try loss(v).gradients()[v])
        var largestNumeric: Float = 0
        for j in stride(from: 0, to: context.count, by: 5) {
            var plus = context, minus = context
            plus.storage[j] += 1e-2
            minus.storage[j] -= 1e-2
            let numeric = (try loss(Variable(plus)).value.storage[0] - loss(Variable(minus)).value.storage[0]) / 2e-2
            largestNumeric = max(largestNumeric, abs(numeric))
            #expect(abs(numeric - g.storage[j]) <= 2e-3 + 2e-2 * abs(g.storage[j]), "entry \(j): \(numeric) vs \(g.storage[j])")
        }
        // The context moves the loss (a context the tower ignored would give zeros on both sides above).
        #expect(largestNumeric > 1e-2, "the loss does not depend on the context (largest finite difference \(largestNumeric))")
        #expect((g.storage.map(abs).max() ?? 0) > 1e-2)
    }
}
#endif
