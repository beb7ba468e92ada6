import Foundation
import Testing
@testable import TensorKit

/// Forward values derived by hand (the arithmetic is in the comments).
@Suite struct ForwardOpTests {
    func t(_ shape: [Int], _ v: [Float]) -> Tensor { try! Tensor(shape: shape, storage: v) }

    func close(_ a: [Float], _ b: [Float], _ tol: Float = 1e-5) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tol * max(1, abs($1)) }
    }

    @Test func matmulAndLinear() throws {
        // [[1,2],[3,4]]·[[5,6],[7,8]] = [[1·5+2·7, 1·6+2·8], [3·5+4·7, 3·6+4·8]]
        let c = try Tensor.matmul(t([2, 2], [1, 2, 3, 4]), t([2, 2], [5, 6, 7, 8]))
        #expect(c.storage == [19, 22, 43, 50])
        // Aᵀ·B with A = [[1,2],[3,4]]: [[1,3],[2,4]]·B = [[26,30],[38,44]]
        #expect(try Tensor.matmul(t([2, 2], [1, 2, 3, 4]), t([2, 2], [5, 6, 7, 8]), transposeA: true).storage == [26, 30, 38, 44])
        // Batched: second batch entry is the identity times B.
        let batched = try Tensor.matmul(t([2, 2, 2], [1, 2, 3, 4, 1, 0, 0, 1]), t([2, 2, 2], [5, 6, 7, 8, 5, 6, 7, 8]))
        #expect(batched.storage == [19, 22, 43, 50, 5, 6, 7, 8])
        // linear: x·Wᵀ + b, W = [[1,0],[0,2],[1,1]] → [x0, 2·x1, x0+x1] + [1,1,1]
        let y = try Tensor.linear(t([1, 2], [3, 4]), weight: t([3, 2], [1, 0, 0, 2, 1, 1]), bias: t([3], [1, 1, 1]))
        #expect(y.shape == [1, 3] && y.storage == [4, 9, 8])
    }

    @Test func broadcastingAndReductions() throws {
        let a = t([2, 3], [1, 2, 3, 4, 5, 6])
        #expect(try (a + t([3], [10, 20, 30])).storage == [11, 22, 33, 14, 25, 36])
        #expect(try (a * t([2, 1], [2, 3])).storage == [2, 4, 6, 12, 15, 18])
        #expect(try (t([2, 1], [1, 2]) - t([1, 3], [1, 2, 3])).storage == [0, -1, -2, 1, 0, -1])
        #expect(try (a / t([], [2])).storage == [0.5, 1, 1.5, 2, 2.5, 3])
        #expect(try a.sum(axes: [0]).storage == [5, 7, 9])
        #expect(try a.sum(axes: [1], keepDims: true).shape == [2, 1])
        #expect(try a.sum(axes: [1]).storage == [6, 15])
        #expect(try a.mean(axes: [-1]).storage == [2, 5])
        #expect(a.sum().storage == [21])
        #expect(try t([1, 2, 3], [0, 0, 0, 1, 1, 1]).sum(axes: [0, 2]).storage == [0, 3])
    }

    @Test func shapeOperations() throws {
        let a = t([2, 3], [1, 2, 3, 4, 5, 6])
        #expect(try a.transposed().storage == [1, 4, 2, 5, 3, 6])
        // permute [1,2,3] → (2,0,1): out[k][i][j] = in[i][j][k]
        let p = try t([1, 2, 3], [1, 2, 3, 4, 5, 6]).permuted([2, 0, 1])
        #expect(p.shape == [3, 1, 2] && p.storage == [1, 4, 2, 5, 3, 6])
        #expect(try Tensor.concatenate([a, t([2, 1], [7, 8])], axis: 1).storage == [1, 2, 3, 7, 4, 5, 6, 8])
        #expect(try a.slice(axis: 1, 1..<3).storage == [2, 3, 5, 6])
        let g = try t([3, 2], [0, 1, 10, 11, 20, 21]).gather(rows: [2, 0, 2], indexShape: [3])
        #expect(g.shape == [3, 2] && g.storage == [20, 21, 0, 1, 20, 21])
        #expect(try a.reshaped([3, -1]).shape == [3, 2])
    }

    @Test func layerNormByHand() throws {
        // x = [1,2,3]: mean 2, biased variance 2/3, so x̂ = (x−2)/√(2/3 + 1e-5)
        let s = 1 / (Float(2.0 / 3.0) + 1e-5).squareRoot()
        let y = try t([1, 3], [1, 2, 3]).layerNorm(weight: t([3], [1, 2, 1]), bias: t([3], [0, 0, 1]))
        #expect(close(y.storage, [-s, 0, s + 1]))
    }

    @Test func softmaxAndMasks() throws {
        // softmax([0, ln 2, ln 3]) = [1, 2, 3] / 6
        let y = try t([1, 3], [0, log(2), log(3)]).softmax()
        #expect(close(y.storage, [1.0 / 6, 2.0 / 6, 3.0 / 6]))
        // Causal 2×2 on zeros: row 0 sees key 0 only; row 1 sees both.
        let c = try Tensor(zeros: [1, 2, 2]).softmax(mask: .causal)
        #expect(c.storage == [1, 0, 0.5, 0.5])
        // Key lengths per batch entry: 1 and 3 of 3 keys.
        let k = try Tensor(zeros: [2, 1, 3]).softmax(mask: SoftmaxMask(keyLengths: [1, 3]))
        #expect(close(k.storage, [1, 0, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3]))
        // A fully masked row is all zeros, not NaN.
        #expect(try Tensor(zeros: [1, 1, 2]).softmax(mask: SoftmaxMask(keyLengths: [0])).storage == [0, 0])
    }

    @Test func activationsAgainstLibm() throws {
        let xs: [Float] = stride(from: -6, through: 6, by: 0.37).map { Float($0) }
        let x = Tensor(xs)
        let gelu = x.gelu().storage, quick = x.quickGELU().storage
        for (i, v) in xs.enumerated() {
            let d = Double(v)
            let refGelu = 0.5 * d * (1 + erf(d / 2.0.squareRoot()))
            let refQuick = d / (1 + Foundation.exp(-1.702 * d))
            #expect(abs(Double(gelu[i]) - refGelu) < 2e-6, "gelu(\(v))")
            #expect(abs(Double(quick[i]) - refQuick) < 2e-6, "quickGELU(\(v))")
        }
    }

    /// The image tower's in-place activations (CKernels, AVX-512 where the CPU has it), densely, with tails.
    @Test(arguments: [Activation.gelu, .quickGELU])
    func rowKernelActivationsAgainstLibm(_ activation: Activation) {
        var xs: [Float] = stride(from: -30, through: 30, by: 0.0071).map { Float($0) } + [0, -0.0, 1e-30, -1e-30, 100, -100]
        xs.append(contentsOf: [.nan, 3])   // 16-lane tail: count not a multiple of 16
        var y = xs
        y.withUnsafeMutableBufferPointer { RowKernels.activate($0.baseAddress!, count: $0.count, activation) }
        var worst = 0.0
        for (v, r) in zip(xs, y) where !v.isNaN {
            let d = Double(v)
            let ref = activation == .gelu ? 0.5 * d * (1 + erf(d / 2.0.squareRoot())) : d / (1 + Foundation.exp(-1.702 * d))
            worst = max(worst, abs(Double(r) - ref) / max(1, abs(ref)))
        }
        #expect(worst < 2e-6, "\(activation): worst error \(worst)")
        #expect(y[xs.count - 2].isNaN)
    }

    @Test func vectorisedExpIsAccurate() throws {
        var worst: Double = 0
        var x: Float = -87
        while x < 88 {
            let r = Double(vexp(x)), ref = Foundation.exp(Double(x))
            worst = max(worst, abs(r - ref) / ref)
            x += 0.0137
        }
        #expect(worst < 4e-7, "max relative error \(worst)")
        #expect(vexp(0) == 1)
        // Non-finite inputs propagate instead of trapping (the NaN check of a run needs to see them).
        #expect(vexp(Float.nan).isNaN)
        #expect(vexp(-Float.infinity) < 1.2e-38)
        #expect(try Tensor([1, .nan, 2]).softmax().storage.allSatisfy(\.isNaN))
    }

    @Test func attentionByHand() throws {
        // Zero queries give uniform weights, so each output row is the mean of the values.
        let v = t([1, 3, 2], [1, 2, 3, 4, 5, 6])
        let (o, _) = try Tensor.attention(query: try Tensor(zeros: [1, 3, 2]), key: v, value: v, heads: 1)
        #expect(close(o.storage, [3, 4, 3, 4, 3, 4]))
        // Causal: row i averages values 0...i.
        let (c, _) = try Tensor.attention(query: try Tensor(zeros: [1, 3, 2]), key: v, value: v, heads: 1, mask: .causal)
        #expect(close(c.storage, [1, 2, 2, 3, 3, 4]))
        // Two heads of width 1 act independently on their own column.
        let (h, _) = try Tensor.attention(query: try Tensor(zeros: [1, 3, 2]), key: v, value: v, heads: 2, mask: .causal)
        #expect(close(h.storage, [1, 2, 2, 3, 3, 4]))
        // With queries that differ per head, each head's softmax sees only its own column. q = k = v = I (2×2):
        // head 0, row 0: scores [1, 0] → weights [e/(e+1), 1/(e+1)] → 0.731059; row 1: scores [0, 0] → 0.5;
        // head 1 mirrors it. One head over both columns (scale 1/√2) would give row 0 = [0.669762, 0.330238].
        let eye = t([1, 2, 2], [1, 0, 0, 1])
        let (two, _) = try Tensor.attention(query: eye, key: eye, value: eye, heads: 2)
        let w = Float(exp(1.0) / (exp(1.0) + 1))
        #expect(close(two.storage, [w, 0.5, 0.5, w]))
        let (one, _) = try Tensor.attention(query: eye, key: eye, value: eye, heads: 1)
        #expect(close(one.storage, [0.669762, 0.330238, 0.330238, 0.669762]))
    }

    @Test func normalisationLogitsAndLoss() throws {
        #expect(close(try t([1, 2], [3, 4]).l2Normalized().storage, [0.6, 0.8]))
        // cos([1,0],[1,0]) = 1, cos([1,0],[0,2]) = 0, times scale 100.
        let logits = try Variable.cosineLogits(image: Variable(t([1, 2], [1, 0])), text: Variable(t([2, 2], [1, 0, 0, 2])), scale: 100)
        #expect(close(logits.value.storage, [100, 0]))
        // Equal logits over C classes give loss ln C.
        let (loss, _) = try Tensor(zeros: [2, 4]).crossEntropy(labels: [1, 3])
        #expect(abs(loss - log(4)) < 1e-6)
        // logits [0, ln 3] with label 1: −ln(3/4)
        let (l2, _) = try t([1, 2], [0, log(3)]).crossEntropy(labels: [1])
        #expect(abs(l2 + log(0.75)) < 1e-6)
    }

    @Test func selection() throws {
        let a = t([2, 4], [1, 5, 5, 2, 0, -1, 3, 3])
        #expect(a.argmax() == [1, 2])
        let (v, i) = try a.topK(3)
        #expect(i == [[1, 2, 3], [2, 3, 0]])
        #expect(v == [[5, 5, 2], [3, 3, 0]])
    }

    @Test func errorsNameTheOpAndShapes() {
        #expect(throws: TensorError.self) { try Tensor.matmul(self.t([2, 3], [1, 2, 3, 4, 5, 6]), self.t([2, 2], [1, 2, 3, 4])) }
        do {
            _ = try Tensor.matmul(t([2, 3], [1, 2, 3, 4, 5, 6]), t([2, 2], [1, 2, 3, 4]))
        } catch {
            #expect(error.description == "matmul: inner dimensions differ (3 vs 2): [2, 3] × [2, 2]")
        }
        #expect(throws: TensorError.self) { try self.t([2, 3], [1, 2, 3, 4, 5, 6]) + self.t([2], [1, 2]) }
        #expect(throws: TensorError.self) { try Tensor(shape: [2, 2], storage: [1]) }
        #expect(throws: TensorError.self) { try Tensor(zeros: [Int.max, 4]) }
        #expect(throws: TensorError.self) { try self.t([2, 2], [1, 2, 3, 4]).crossEntropy(labels: [0, 7]) }
        #expect(throws: TensorError.self) { try self.t([3, 2], [1, 2, 3, 4, 5, 6]).gather(rows: [3], indexShape: [1]) }
        #expect(throws: TensorError.self) { try Tensor.attention(query: Tensor(zeros: [1, 2, 6]), key: Tensor(zeros: [1, 2, 6]), value: Tensor(zeros: [1, 2, 6]), heads: 4) }
        #expect(throws: TensorError.self) { try Tensor(zeros: [2, 2]).softmax(mask: SoftmaxMask(keyLengths: [1])) }
    }
}
