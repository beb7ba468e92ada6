import Testing
@testable import TensorKit

/// Same seed and thread count ⇒ bit-identical results. One against two threads is compared in a process of its own
/// (FeatureCacheTests: the thread count is process-wide, and changing it here raced with the tests beside this one).
@Suite struct DeterminismTests {
    /// A small training run touching RNG init, shuffling, attention, LayerNorm, GEMM and Adam.
    func train(seed: UInt64) throws -> [Float] {
        var rng = RandomGenerator(seed: seed)
        var params = [
            Tensor.linearWeightDefault(outFeatures: 16, inFeatures: 16, using: &rng),
            Tensor.normal(shape: [5, 16], mean: 0, std: 1, using: &rng),
            Tensor.linearWeightDefault(outFeatures: 16, inFeatures: 16, using: &rng),
        ]
        let data = Tensor.normal(shape: [40, 4, 16], mean: 0, std: 1, using: &rng)
        let labels = (0..<40).map { $0 % 5 }
        var optimizer = Adam()
        let ones = Variable(try Tensor(repeating: 1, shape: [16])), zeros = Variable(try Tensor(zeros: [16]))
        for epoch in 0..<3 {
            var order = Array(0..<40)
            rng.shuffle(&order)
            for start in stride(from: 0, to: 40, by: 8) {
                let batch = Array(order[start..<(start + 8)])
                let x = Variable(try Tensor.concatenate(batch.map { try data.slice(axis: 0, $0..<($0 + 1)) }, axis: 0))
                let vars = params.map { Variable($0, requiresGrad: true) }
                let h = try x.layerNorm(weight: ones, bias: zeros)
                let q = try Variable.linear(h, weight: vars[0], bias: nil)
                let a = try Variable.attention(query: q, key: h, value: h, heads: 4)
                let pooled = try Variable.linear(try a.mean(axes: [1]), weight: vars[2], bias: nil)
                let logits = try Variable.cosineLogits(image: pooled, text: vars[1], scale: 10)
                let loss = try logits.crossEntropy(labels: batch.map { labels[$0] })
                let g = try loss.gradients()
                try optimizer.step(parameters: &params, gradients: vars.map { g[$0] }, learningRate: 1e-2 * Float(3 - epoch))
            }
        }
        return params.flatMap(\.storage)
    }

    @Test func sameSeedGivesIdenticalBits() throws {
        let a = try train(seed: 42), b = try train(seed: 42)
        #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
        let c = try train(seed: 43)
        #expect(a.map(\.bitPattern) != c.map(\.bitPattern))
    }
}
