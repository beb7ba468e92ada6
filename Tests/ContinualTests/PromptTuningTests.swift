import Continual
import Testing
import TensorKit

@Suite struct PromptTuningTests {
    let encoder = FakeTextEncoder(embedDimension: 12)
    let classNames = ["cat", "dog house", "red fox", "owl", "tiny grey mouse", "bee"]

    func config(length: Int = 3) -> RunConfig {
        var c = RunConfig()
        c.method = .prompt
        c.retention = .none
        c.prompt.length = length
        c.prompt.std = 0.5
        return c
    }

    /// Mean cross-entropy of prompt-tuning logits for a fixed batch, as a function of the context.
    func loss(_ method: PromptTuning, context: Variable, images: Tensor, labels: [Int], classes: [Int]) throws -> Variable {
        let text = try method.classTextFeatures(context: context, classes: classes, classNames: classNames)
        return try Variable.cosineLogits(image: Variable(images), text: text, scale: 10).crossEntropy(labels: labels)
    }

    @Test func gradientMatchesFiniteDifferences() throws {
        // L(ctx) = CE(10 · cos(images, T(ctx))) where T runs the prompts [SOT] ctx name "." [EOT] of four
        // classes through the frozen fake tower. Central differences in Float32 (ε = 1e-2) against the
        // autodiff gradient for every context entry: |numeric − analytic| ≤ 2e-3 + 2e-2·|analytic|.
        var rng = RandomGenerator(seed: 3)
        let method = try PromptTuning(encoder: encoder, config: config(), rng: &rng)
        let context = method.context
        let images = Tensor.normal(shape: [6, 12], using: &rng)
        let labels = [0, 1, 2, 3, 1, 2]
        let classes = [0, 1, 4, 2]   // names of 1, 2 and 3 tokens before "." → different EOT positions
        let variable = Variable(context, requiresGrad: true)
        let l = try loss(method, context: variable, images: images, labels: labels, classes: classes)
        let gradient = try #require(l.gradients()[variable])
        #expect(gradient.shape == context.shape)
        var worst: Float = 0
        var nonZero = 0
        let epsilon: Float = 1e-2
        for j in 0..<context.count {
            var plus = context, minus = context
            plus.storage[j] += epsilon
            minus.storage[j] -= epsilon
            let lp = try loss(method, context: Variable(plus), images: images, labels: labels, classes: classes).value.storage[0]
            let lm = try loss(method, context: Variable(minus), images: images, labels: labels, classes: classes).value.storage[0]
            let numeric = (lp - lm) / (2 * epsilon)
            let analytic = gradient.storage[j]
            worst = max(worst, abs(numeric - analytic) / (2e-3 + 2e-2 * abs(analytic)))
            if abs(analytic) > 1e-3 { nonZero += 1 }
        }
        print("prompt gradient check: worst violation ratio", worst, "non-zero entries", nonZero, "of", context.count)
        #expect(worst <= 1, "worst violation ratio \(worst)")
        #expect(nonZero > context.count / 2, "the gradient should reach most context entries, got \(nonZero)")
    }

    @Test func promptLayoutAndEndOfTextPositions() throws {
        var rng = RandomGenerator(seed: 3)
        let method = try PromptTuning(encoder: encoder, config: config(length: 2), rng: &rng)
        let classes = [0, 4]  // "cat." = 2 tokens, "tiny grey mouse." = 4 tokens
        let features = try method.classTextFeatures(context: Variable(method.context), classes: classes, classNames: classNames)
        #expect(features.shape == [2, 12])
        // Encoding the two classes separately gives the same features: padding after an EOT has no effect.
        for (k, c) in classes.enumerated() {
            let single = try method.classTextFeatures(context: Variable(method.context), classes: [c], classNames: classNames)
            let row = try features.value.slice(axis: 0, k..<(k + 1))
            #expect(single.value.maxAbsDifference(row)! < 1e-5)
        }
    }

    @Test func phraseInitUsesThePhraseTokens() throws {
        var c = config()
        c.prompt.`init` = .phrase
        c.prompt.phrase = "a photo of a"
        var rng = RandomGenerator(seed: 1)
        let method = try PromptTuning(encoder: encoder, config: c, rng: &rng)
        let ids = try encoder.tokenize("a photo of a")
        #expect(method.context == (try encoder.tokenEmbeddings(for: ids)))
        #expect(method.context.shape == [4, 8])
    }

    @Test func trainsThroughTheRunnerWithRetention() throws {
        // Images whose embeddings are the fake tower's text features for the method's own initial
        // context plus noise: the run must train (loss falls), apply retention, and evaluate over the
        // seen classes. (The random tower maps all prompts to similar features, so accuracies are a
        // plumbing check only, not a learning claim.)
        var c = config()
        c.retention = .softSVD
        c.initial = 0
        c.increment = 2
        c.epochs = 4
        c.milestones = []
        c.lr = 1e-2
        c.batchSize = 16
        var initRNG = MethodFactory.initializationGenerator(seed: 5)
        let probe = try PromptTuning(encoder: encoder, config: c, rng: &initRNG)
        var rng = RandomGenerator(seed: 9)
        let text = try probe.classTextFeatures(context: Variable(probe.context), classes: Array(0..<6), classNames: classNames)
            .value.l2Normalized()
        func split(_ perClass: Int) -> (Tensor, [Int]) {
            var rows: [Float] = [], labels: [Int] = []
            for _ in 0..<perClass {
                for k in 0..<6 {
                    rows += (0..<12).map { 5 * text.storage[k * 12 + $0] + 0.5 * rng.normal() }
                    labels.append(k)
                }
            }
            return (Tensor(unchecked: [labels.count, 12], storage: rows), labels)
        }
        let (trainX, trainY) = split(16)
        let (testX, testY) = split(8)
        let fs = FeatureSet(trainFeatures: trainX, trainLabels: trainY, testFeatures: testX, testLabels: testY,
                            classNames: classNames, textFeatures: text, logitScale: 10)
        let (result, parameters) = try runToEnd(c, features: fs, seed: 5, textEncoder: encoder)
        #expect(result.records.count == 3 && result.complete)
        let losses = result.records[0].epochLosses
        #expect(losses.last! < losses.first!, "\(losses)")
        #expect(parameters["context"]?.shape == [3, 8])
        #expect(result.method.contains("prompt tuning"))
        // Retention ran: the same run without it ends with another context (with the same seed and no retention
        // step, the two runs would be bit-identical).
        var plain = c
        plain.retention = .none
        let (_, withoutRetention) = try runToEnd(plain, features: fs, seed: 5, textEncoder: encoder)
        let a = try #require(parameters["context"]), b = try #require(withoutRetention["context"])
        #expect(try #require(a.maxAbsDifference(b)) > 1e-4, "the context is the same with and without retention")
        print("prompt tuning (fake tower): A_t", result.records.map(\.accuracy), "loss per epoch (task 0)", losses)
    }

    @Test func missingEncoderIsAnError() {
        #expect(throws: ContinualError.self) {
            _ = try MethodFactory.make(config: config(), dimension: 12, classCount: 6, seed: 1)
        }
    }
}
