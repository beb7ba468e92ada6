import Foundation
import Testing
@testable import TensorKit

/// Forward values and gradients against PyTorch (float64) dumps made by tools/make_op_fixtures.py.
/// For each case: out = f(inputs) must match `<case>.out`, and backpropagating `<case>.dout`
/// must give `<case>.grad_<input>`.
@Suite struct ReferenceOpTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/ops")
    let file: SafeTensorsFile
    let cases: [String: [String: Any]]

    init() throws {
        file = try SafeTensorsFile(contentsOf: Self.fixtures.appendingPathComponent("ops.safetensors"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent("ops.json"))) as! [String: Any]
        cases = json["cases"] as! [String: [String: Any]]
    }

    func tensor(_ name: String) throws -> Tensor { try file.tensor(name) }
    func ints(_ name: String) throws -> [Int] { try file.int64s(name).map(Int.init) }

    /// The differentiable cases: inputs that get gradients, and how to compute the output.
    func graph(_ name: String, _ v: [String: Variable]) throws -> Variable {
        let params = cases[name]?["params"] as? [String: Any]
        switch name {
        case "matmul", "bmm": return try Variable.matmul(v["a"]!, v["b"]!)
        case "linear": return try Variable.linear(v["x"]!, weight: v["weight"]!, bias: v["bias"]!)
        case _ where name.hasPrefix("add_"): return try v["a"]! + v["b"]!
        case _ where name.hasPrefix("sub_"): return try v["a"]! - v["b"]!
        case _ where name.hasPrefix("mul_"): return try v["a"]! * v["b"]!
        case _ where name.hasPrefix("div_"): return try v["a"]! / v["b"]!
        case "sum_axis1": return try v["x"]!.sum(axes: [1])
        case "mean_axis1": return try v["x"]!.mean(axes: [1])
        case "sum_all": return v["x"]!.sum()
        case "mean_all": return v["x"]!.mean()
        case "permute": return try v["x"]!.permuted(params!["perm"] as! [Int])
        case "transpose2d": return try v["x"]!.transposed()
        case "concat": return try Variable.concatenate([v["a"]!, v["b"]!], axis: 1)
        case "slice": return try v["x"]!.slice(axis: 1, 1..<3)
        case "gather":
            let idx = try ints("gather.indices")
            return try v["table"]!.gather(rows: idx, indexShape: file.entry("gather.indices")!.shape)
        case "layer_norm": return try v["x"]!.layerNorm(weight: v["weight"]!, bias: v["bias"]!)
        case "softmax": return try v["x"]!.softmax()
        case "softmax_causal": return try v["scores"]!.softmax(mask: .causal)
        case "softmax_keypad": return try v["scores"]!.softmax(mask: SoftmaxMask(keyLengths: try ints("softmax_keypad.key_lengths")))
        case "gelu": return v["x"]!.gelu()
        case "quick_gelu": return v["x"]!.quickGELU()
        case "attention", "attention_causal":
            let x = v["x"]!
            func lin(_ p: String) throws -> Variable { try Variable.linear(x, weight: v[p + "_weight"]!, bias: v[p + "_bias"]!) }
            let o = try Variable.attention(query: try lin("q"), key: try lin("k"), value: try lin("v"), heads: params!["heads"] as! Int,
                                           mask: name == "attention_causal" ? .causal : .none)
            return try Variable.linear(o, weight: v["out_weight"]!, bias: v["out_bias"]!)
        case "l2_normalize": return try v["x"]!.l2Normalized()
        case "cosine_logits": return try Variable.cosineLogits(image: v["image"]!, text: v["text"]!, scale: Float(params!["scale"] as! Double))
        case "cross_entropy": return try v["logits"]!.crossEntropy(labels: try ints("cross_entropy.labels"))
        default: throw TensorError.invalidArgument(op: "test", reason: "no graph for case \(name)")
        }
    }

    @Test func everyDifferentiableCaseMatchesPyTorch() throws {
        var checked = 0
        for (name, spec) in cases.sorted(by: { $0.key < $1.key }) {
            guard let grads = spec["gradients"] as? [String: Any], !grads.isEmpty else { continue }
            let inputs = spec["inputs"] as! [String: [String: Any]]
            var vars: [String: Variable] = [:]
            for (key, info) in inputs where (info["dtype"] as? String) == "F32" && key != "mask" && key != "logit_scale" {
                vars[key] = Variable(try tensor(info["tensor"] as! String), requiresGrad: grads[key] != nil)
            }
            let out = try graph(name, vars)
            let expected = try tensor("\(name).out")
            // Shapes must agree; only a scalar may be rank 0 on one side and [1] on the other.
            let scalar = out.value.count == 1 && expected.count == 1 && out.shape.count <= 1 && expected.shape.count <= 1
            #expect(out.shape == expected.shape || scalar, "\(name): output shape \(out.shape), PyTorch \(expected.shape)")
            guard out.shape == expected.shape || scalar else { continue }
            let fwd = try #require(out.value.reshaped(expected.shape).maxAbsDifference(expected))
            #expect(fwd <= 1e-5 * max(1, expected.storage.map(abs).max() ?? 1), "\(name) forward max-abs \(fwd)")
            let g = try out.gradients(seed: try tensor("\(name).dout").reshaped(out.shape))
            for key in grads.keys.sorted() {
                let ref = try tensor("\(name).grad_\(key)")
                let got = try #require(g[vars[key]!], "\(name): no gradient for \(key)")
                let err = try #require(got.maxAbsDifference(ref), "\(name): gradient shape \(got.shape) vs \(ref.shape)")
                #expect(err <= 2e-5 * max(1, ref.storage.map(abs).max() ?? 1), "\(name) grad_\(key) max-abs \(err)")
            }
            checked += 1
        }
        #expect(checked >= 30)
    }

    @Test func selectionMatchesPyTorch() throws {
        #expect(try tensor("argmax.x").argmax() == ints("argmax.out"))
        #expect(try tensor("argmax_ties.x").argmax() == ints("argmax_ties.out"))
        let (values, indices) = try tensor("topk.x").topK(3)
        #expect(indices.flatMap { $0 } == (try ints("topk.indices")))
        #expect(values.flatMap { $0 } == (try tensor("topk.values").storage))
    }
}
