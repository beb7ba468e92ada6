import Continual
import Testing
import TensorKit

@Suite struct AttentionAdapterTests {
    func features() throws -> FeatureSet {
        var spec = SyntheticSpec()
        spec.trainPerClass = 40
        spec.testPerClass = 10
        spec.dimension = 16
        return try spec.make()
    }

    func config(_ reading: AttentionReading) -> RunConfig {
        var c = syntheticConfig(.attention, retention: .topk)
        c.attention.reading = reading
        c.attention.tokens = 4   // chunks: 4 tokens of 4 dims
        c.attention.heads = 2
        c.epochs = 4
        c.milestones = []
        c.batchSize = 40
        c.lr = 1e-2
        return c
    }

    @Test(arguments: [AttentionReading.chunks, .crossmodal])
    func startsAsIdentity(_ reading: AttentionReading) throws {
        // Zero-initialised output projection and second MLP layer: the adapter is exactly the identity,
        // so its logits equal the zero-shot logits bit for bit.
        let fs = try features()
        let runner = try ContinualRunner(config: config(reading), classOrder: Array(0..<10), features: fs)
        let context = try runner.makeContext(task: 2)
        var rng = RandomGenerator(seed: 4)
        let adapter = try AttentionAdapter(dimension: 16, config: config(reading), rng: &rng)
        let adapted = try adapter.adapt(fs.testFeatures, seenTextFeatures: try context.textFeatures(for: context.seenClasses))
        #expect(adapted == fs.testFeatures)
        let a = try adapter.logits(features: fs.testFeatures, seenClasses: context.seenClasses, context: context)
        let z = try ZeroShot().logits(features: fs.testFeatures, seenClasses: context.seenClasses, context: context)
        #expect(a.storage.map(\.bitPattern) == z.storage.map(\.bitPattern))
    }

    @Test(arguments: [AttentionReading.chunks, .crossmodal])
    func trainsEveryTensorAndLowersTheLoss(_ reading: AttentionReading) throws {
        let fs = try features()
        let c = config(reading)
        let runner = try ContinualRunner(config: c, classOrder: Array(0..<10), features: fs)
        var method: any ContinualMethod = try MethodFactory.make(config: c, dimension: 16, classCount: 10, seed: 1)
        let initial = method.parameters
        let result = try runner.run(method: &method, seed: 1, stopAfterTask: 1)
        let losses = result.records[0].epochLosses
        #expect(losses.count == 4 && losses.last! < losses.first!, "\(losses)")
        // Gradients reach every tensor (through the zero-initialised projections after the first step).
        for (name, value) in method.parameters {
            #expect(value != initial[name]!, "\(name) did not change")
        }
        if reading == .chunks {
            #expect(method.parameters["pos"]?.shape == [4, 4])
        } else {
            #expect(method.parameters["pos"] == nil && method.parameters["attn.q.weight"]?.shape == [16, 16])
        }
        #expect(method.description.contains(reading.rawValue))
    }

    @Test func rejectsIndivisibleShapes() {
        var rng = RandomGenerator(seed: 1)
        var c = config(.chunks)
        c.attention.tokens = 5
        #expect(throws: ContinualError.self) { try AttentionAdapter(dimension: 16, config: c, rng: &rng) }
        c.attention.tokens = 4
        c.attention.heads = 3
        #expect(throws: ContinualError.self) { try AttentionAdapter(dimension: 16, config: c, rng: &rng) }
    }
}
