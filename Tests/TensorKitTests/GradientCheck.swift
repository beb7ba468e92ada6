import Testing
@testable import TensorKit

/// Finite-difference gradient checking.
///
/// The scalar checked is L = Σ f(x) ⊙ R with a fixed random R, so every output element
/// contributes with a different weight (a backward that mixes up output positions fails).
/// Central differences are taken in Float32 and compared with the analytic gradient:
/// |numeric − analytic| ≤ atol + rtol·|analytic| for every element of every input.
struct GradientCheck {
    var epsilon: Float = 1e-2
    var atol: Float = 2e-3
    var rtol: Float = 2e-2

    /// Returns the worst violation ratio (≤ 1 means pass) and a description of where it was.
    func run(
        _ inputs: [Tensor], requiresGrad: [Bool]? = nil, seed: UInt64 = 7,
        _ f: ([Variable]) throws -> Variable
    ) throws -> (worst: Float, location: String) {
        let needs = requiresGrad ?? inputs.map { _ in true }
        let vars = zip(inputs, needs).map { Variable($0, requiresGrad: $1) }
        let out = try f(vars)
        var rng = SplitMix(seed)
        let weights = out.value.storage.map { _ in rng.nextFloat() * 2 - 1 }
        let r = Variable(try Tensor(shape: out.shape, storage: weights))
        let loss = try (out * r).sum()
        let grads = try loss.gradients()

        func lossValue(_ xs: [Tensor]) throws -> Double {
            let y = try f(xs.map { Variable($0) }).value
            var s: Double = 0
            for (a, b) in zip(y.storage, weights) { s += Double(a) * Double(b) }
            return s
        }

        var worst: Float = 0
        var location = "none"
        for (i, x) in inputs.enumerated() where needs[i] {
            guard let g = grads[vars[i]] else {
                return (.infinity, "input \(i): no gradient")
            }
            if g.shape != x.shape { return (.infinity, "input \(i): gradient shape \(g.shape) ≠ \(x.shape)") }
            for j in 0..<x.count {
                var plus = inputs, minus = inputs
                plus[i].storage[j] += epsilon
                minus[i].storage[j] -= epsilon
                let numeric = Float((try lossValue(plus) - lossValue(minus)) / Double(2 * epsilon))
                let analytic = g.storage[j]
                let ratio = abs(numeric - analytic) / (atol + rtol * abs(analytic))
                if ratio > worst {
                    worst = ratio
                    location = "input \(i) element \(j): numeric \(numeric) analytic \(analytic)"
                }
            }
        }
        for (i, v) in vars.enumerated() where !needs[i] {
            if grads[v] != nil { return (.infinity, "frozen input \(i) received a gradient") }
        }
        return (worst, location)
    }
}

/// A tiny deterministic generator for test data, independent of the engine's own RNG.
struct SplitMix {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 24) }
}

func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var rng = SplitMix(seed)
    let n = shape.reduce(1, *)
    return try! Tensor(shape: shape, storage: (0..<n).map { _ in (rng.nextFloat() * 2 - 1) * scale })
}
