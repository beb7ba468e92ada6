import Testing
@testable import TensorKit

/// One finite-difference check per differentiable operation.
@Suite struct GradientTests {
    let check = GradientCheck()

    func expectPasses(_ result: (worst: Float, location: String), _ name: String) {
        #expect(result.worst <= 1, "\(name): \(result.location)")
    }

    @Test func broadcastArithmetic() throws {
        let a = randomTensor([2, 3, 4], seed: 1)
        let b = randomTensor([3, 1], seed: 2)
        let c = randomTensor([4], seed: 3).map { $0 * 0.5 + 2 }  // away from 0 for division
        expectPasses(try check.run([a, b]) { try $0[0] + $0[1] }, "add")
        expectPasses(try check.run([a, b]) { try $0[0] - $0[1] }, "sub")
        expectPasses(try check.run([a, b]) { try $0[0] * $0[1] }, "mul")
        expectPasses(try check.run([a, c]) { try $0[0] / $0[1] }, "div")
        expectPasses(try check.run([a]) { $0[0].scaled(by: -3) }, "scale")
    }

    @Test func reductions() throws {
        let a = randomTensor([2, 3, 4], seed: 4)
        expectPasses(try check.run([a]) { try $0[0].sum(axes: [1]) }, "sum axis")
        expectPasses(try check.run([a]) { try $0[0].sum(axes: [0, 2], keepDims: true) }, "sum axes keepDims")
        expectPasses(try check.run([a]) { try $0[0].mean(axes: [-1]) }, "mean axis")
        expectPasses(try check.run([a]) { $0[0].sum() }, "sum all")
        expectPasses(try check.run([a]) { $0[0].mean() }, "mean all")
    }

    @Test func shapeOperations() throws {
        let a = randomTensor([2, 3, 4], seed: 5)
        let b = randomTensor([2, 2, 4], seed: 6)
        expectPasses(try check.run([a]) { try $0[0].reshaped([6, 4]) }, "reshape")
        expectPasses(try check.run([a]) { try $0[0].permuted([2, 0, 1]) }, "permute")
        expectPasses(try check.run([a]) { try $0[0].transposed(0, 2) }, "transpose")
        expectPasses(try check.run([a, b]) { try Variable.concatenate([$0[0], $0[1]], axis: 1) }, "concat")
        expectPasses(try check.run([a]) { try $0[0].slice(axis: 2, 1..<3) }, "slice")
        let table = randomTensor([6, 4], seed: 7)
        expectPasses(try check.run([table]) { try $0[0].gather(rows: [0, 5, 2, 1, 1, 3], indexShape: [2, 3]) }, "gather")
    }

    @Test func matrixProducts() throws {
        let a = randomTensor([3, 4], seed: 8), b = randomTensor([4, 5], seed: 9)
        expectPasses(try check.run([a, b]) { try Variable.matmul($0[0], $0[1]) }, "matmul")
        let bt = randomTensor([5, 4], seed: 10), at = randomTensor([4, 3], seed: 11)
        expectPasses(try check.run([at, bt]) { try Variable.matmul($0[0], $0[1], transposeA: true, transposeB: true) }, "matmul TT")
        let ba = randomTensor([2, 3, 4], seed: 12), bb = randomTensor([2, 4, 5], seed: 13)
        expectPasses(try check.run([ba, bb]) { try Variable.matmul($0[0], $0[1]) }, "batched matmul")
        expectPasses(try check.run([ba, b]) { try Variable.matmul($0[0], $0[1]) }, "batched × shared matrix")
        expectPasses(try check.run([ba, bt]) { try Variable.matmul($0[0], $0[1], transposeB: true) }, "batched × shared Bᵀ")
        let bat = randomTensor([2, 4, 3], seed: 14)
        expectPasses(try check.run([bat, b]) { try Variable.matmul($0[0], $0[1], transposeA: true) }, "batched Aᵀ × shared")
        let w = randomTensor([5, 4], seed: 15), bias = randomTensor([5], seed: 16)
        expectPasses(try check.run([ba, w, bias]) { try Variable.linear($0[0], weight: $0[1], bias: $0[2]) }, "linear")
        expectPasses(try check.run([ba, w]) { try Variable.linear($0[0], weight: $0[1], bias: nil) }, "linear no bias")
    }

    @Test func normalisation() throws {
        let x = randomTensor([2, 3, 8], seed: 17, scale: 2)
        let w = randomTensor([8], seed: 18).map { $0 + 1 }, b = randomTensor([8], seed: 19)
        expectPasses(try check.run([x, w, b]) { try $0[0].layerNorm(weight: $0[1], bias: $0[2]) }, "layerNorm")
        let y = randomTensor([3, 6], seed: 20)
        expectPasses(try check.run([y]) { try $0[0].l2Normalized() }, "l2Normalize")
    }

    @Test func activations() throws {
        let x = randomTensor([3, 7], seed: 21, scale: 4)
        expectPasses(try check.run([x]) { $0[0].gelu() }, "gelu")
        expectPasses(try check.run([x]) { $0[0].quickGELU() }, "quickGELU")
        // ReLU away from its kink (finite differences straddling 0 would disagree by design).
        let awayFromZero = Tensor(unchecked: x.shape, storage: x.storage.map { abs($0) < 0.05 ? $0 + 0.1 : $0 })
        expectPasses(try check.run([awayFromZero]) { $0[0].relu() }, "relu")
        #expect(Variable(Tensor([-1, 0, 2])).relu().value.storage == [0, 0, 2])
    }

    @Test func softmaxWithMasks() throws {
        let x = randomTensor([2, 3, 5], seed: 22, scale: 2)
        expectPasses(try check.run([x]) { try $0[0].softmax() }, "softmax")
        let sq = randomTensor([2, 4, 4], seed: 23, scale: 2)
        expectPasses(try check.run([sq]) { try $0[0].softmax(mask: .causal) }, "causal softmax")
        expectPasses(try check.run([x]) { try $0[0].softmax(mask: SoftmaxMask(keyLengths: [5, 3])) }, "padded softmax")
    }

    @Test func attention() throws {
        let q = randomTensor([2, 5, 8], seed: 24), k = randomTensor([2, 5, 8], seed: 25), v = randomTensor([2, 5, 8], seed: 26)
        expectPasses(try check.run([q, k, v]) { try Variable.attention(query: $0[0], key: $0[1], value: $0[2], heads: 2) }, "attention")
        expectPasses(try check.run([q, k, v]) {
            try Variable.attention(query: $0[0], key: $0[1], value: $0[2], heads: 2, mask: .causal)
        }, "causal attention")
        let k2 = randomTensor([2, 6, 8], seed: 27), v2 = randomTensor([2, 6, 8], seed: 28)
        expectPasses(try check.run([q, k2, v2]) {
            try Variable.attention(query: $0[0], key: $0[1], value: $0[2], heads: 4, mask: SoftmaxMask(keyLengths: [6, 2]))
        }, "padded attention")
    }

    @Test func classificationHeads() throws {
        let img = randomTensor([4, 6], seed: 29), txt = randomTensor([3, 6], seed: 30)
        // A small scale keeps the check in the smooth regime; the operation itself is scale-agnostic.
        expectPasses(try check.run([img, txt]) { try Variable.cosineLogits(image: $0[0], text: $0[1], scale: 5) }, "cosine logits")
        let logits = randomTensor([4, 5], seed: 31, scale: 3)
        expectPasses(try check.run([logits]) { try $0[0].crossEntropy(labels: [0, 4, 2, 2]) }, "cross-entropy")
    }

    @Test func frozenInputsGetNoGradientButPassItOn() throws {
        let x = randomTensor([2, 4], seed: 32), w = randomTensor([3, 4], seed: 33)
        let r = try check.run([x, w], requiresGrad: [true, false]) { try Variable.linear($0[0], weight: $0[1], bias: nil) }
        expectPasses(r, "linear with frozen weight")
    }

    /// The checker itself must catch a wrong backward: a deliberately broken op must fail it.
    @Test func brokenBackwardIsCaught() throws {
        let x = randomTensor([3, 7], seed: 34, scale: 4)
        let wrong = try check.run([x]) { v in
            let y = v[0].value.quickGELU()
            // Backward of plain sigmoid-weighting, missing the x·σ'(x) term.
            return Variable(y, inputs: [v[0]]) { g throws(TensorError) in [try g * v[0].value.map { vsigmoid($0 * 1.702) }] }
        }
        #expect(wrong.worst > 1)
        let off = try check.run([x]) { v in
            Variable(v[0].value.gelu(), inputs: [v[0]]) { g throws(TensorError) in
                [try g * v[0].value.map(geluDerivative).scaled(by: 1.05)]  // 5 % too large
            }
        }
        #expect(off.worst > 1)
    }
}
