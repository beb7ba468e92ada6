#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The state and update shared by `Adam` and `AdamW`, following the single-tensor path of
/// `torch.optim.Adam`/`AdamW` (per-parameter step counts; bias corrections in Double).
struct AdamMoments: Sendable {
    var beta1: Float
    var beta2: Float
    var epsilon: Float
    var weightDecay: Float
    /// true: AdamW (p ← p·(1 − lr·wd) before the update); false: Adam (g ← g + wd·p).
    var decoupledWeightDecay: Bool

    private var steps: [Int] = []
    private var firstMoments: [Tensor?] = []
    private var secondMoments: [Tensor?] = []

    init(beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float, decoupledWeightDecay: Bool) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decoupledWeightDecay = decoupledWeightDecay
    }

    mutating func step(_ op: String, parameters: inout [Tensor], gradients: [Tensor?], learningRate: Float) throws {
        try OptimizerChecks.arguments(op, parameters: parameters, gradients: gradients, learningRate: learningRate)
        guard (0..<1).contains(beta1), (0..<1).contains(beta2), epsilon.isFinite, epsilon >= 0,
              weightDecay.isFinite, weightDecay >= 0 else {
            throw TensorError.invalidArgument(op: op, reason: "needs betas in [0, 1), epsilon ≥ 0 and weightDecay ≥ 0, got (\(beta1), \(beta2)), \(epsilon), \(weightDecay)")
        }
        for i in parameters.indices {
            guard let gradient = gradients[i] else { continue }
            steps.ensureIndex(i, filler: 0)
            firstMoments.ensureIndex(i, filler: nil)
            secondMoments.ensureIndex(i, filler: nil)
            let shape = parameters[i].shape
            var m = try firstMoments[i] ?? Tensor(zeros: shape)
            var v = try secondMoments[i] ?? Tensor(zeros: shape)
            try OptimizerChecks.stateShape(op, index: i, state: m, parameter: parameters[i])
            try OptimizerChecks.stateShape(op, index: i, state: v, parameter: parameters[i])
            // Drop the stored references so m and v are updated in place without a copy.
            firstMoments[i] = nil
            secondMoments[i] = nil

            steps[i] += 1
            let t = Double(steps[i])
            let bias1 = 1 - pow(Double(beta1), t)
            let bias2Sqrt = (1 - pow(Double(beta2), t)).squareRoot()
            let stepSize = Float(Double(learningRate) / bias1)
            let bias2SqrtF = Float(bias2Sqrt)
            let decay = decoupledWeightDecay ? Float(1 - Double(learningRate) * Double(weightDecay)) : 1
            let l2 = decoupledWeightDecay ? 0 : weightDecay
            let (b1Weight, b2, oneMinusB2, eps) = (1 - beta1, beta2, 1 - beta2, epsilon)
            let n = gradient.count

            parameters[i].storage.withUnsafeMutableBufferPointer { p in
                gradient.storage.withUnsafeBufferPointer { g in
                    m.storage.withUnsafeMutableBufferPointer { m in
                        v.storage.withUnsafeMutableBufferPointer { v in
                            for k in 0..<n {
                                let pk = p[k] * decay
                                let gk = g[k] + l2 * pk
                                // m ← m + (1 − β1)(g − m): torch's lerp form of β1·m + (1 − β1)·g.
                                let mk = m[k] + b1Weight * (gk - m[k])
                                let vk = b2 * v[k] + oneMinusB2 * gk * gk
                                m[k] = mk
                                v[k] = vk
                                let denominator = vk.squareRoot() / bias2SqrtF + eps
                                p[k] = pk - stepSize * mk / denominator
                            }
                        }
                    }
                }
            }
            firstMoments[i] = m
            secondMoments[i] = v
        }
    }

    var stateTensors: [String: Tensor] {
        var s: [String: Tensor] = [:]
        for i in steps.indices where steps[i] > 0 {
            s["\(i).step"] = Tensor(scalar: Float(steps[i]))
            if let m = firstMoments[i] { s["\(i).exp_avg"] = m }
            if let v = secondMoments[i] { s["\(i).exp_avg_sq"] = v }
        }
        return s
    }

    mutating func loadState(_ op: String, _ s: [String: Tensor]) throws {
        var newSteps: [Int] = []
        var newFirst: [Tensor?] = []
        var newSecond: [Tensor?] = []
        for (key, tensor) in s {
            let (index, name) = try OptimizerChecks.parseKey(op, key)
            newSteps.ensureIndex(index, filler: 0)
            newFirst.ensureIndex(index, filler: nil)
            newSecond.ensureIndex(index, filler: nil)
            switch name {
            case "step": newSteps[index] = try OptimizerChecks.stepCount(op, key: key, tensor)
            case "exp_avg": newFirst[index] = tensor
            case "exp_avg_sq": newSecond[index] = tensor
            default: throw TensorError.invalidArgument(op: op, reason: "unrecognised state key \"\(key)\"")
            }
        }
        for i in newSteps.indices {
            let complete = newSteps[i] > 0 && newFirst[i] != nil && newSecond[i] != nil
            let absent = newSteps[i] == 0 && newFirst[i] == nil && newSecond[i] == nil
            guard complete || absent else {
                throw TensorError.invalidArgument(op: op, reason: "state of parameter \(i) needs step > 0, exp_avg and exp_avg_sq together")
            }
            if let m = newFirst[i], let v = newSecond[i], m.shape != v.shape {
                throw TensorError.shapeMismatch(op: op, shapes: [m.shape, v.shape], reason: "exp_avg and exp_avg_sq of parameter \(i) differ in shape")
            }
        }
        (steps, firstMoments, secondMoments) = (newSteps, newFirst, newSecond)
    }
}
