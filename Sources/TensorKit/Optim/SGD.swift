/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2
/// weight decay, with the update rule of `torch.optim.SGD`:
///
///     g ← g + weightDecay · p
///     b ← g on the parameter's first step, else momentum · b + (1 − dampening) · g   (if momentum ≠ 0)
///     g ← g + momentum · b if nesterov, else b                                          (if momentum ≠ 0)
///     p ← p − lr · g
public struct SGD: Optimizer {
    public let momentum: Float
    public let weightDecay: Float
    public let nesterov: Bool
    public let dampening: Float

    /// Momentum buffers by parameter index (nil until the parameter's first step; unused without momentum).
    private var buffers: [Tensor?] = []

    public init(momentum: Float = 0, weightDecay: Float = 0, nesterov: Bool = false, dampening: Float = 0) {
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        self.dampening = dampening
    }

    public mutating func step(parameters: inout [Tensor], gradients: [Tensor?], learningRate: Float) throws {
        let op = "SGD.step"
        try OptimizerChecks.arguments(op, parameters: parameters, gradients: gradients, learningRate: learningRate)
        guard momentum.isFinite, momentum >= 0, weightDecay.isFinite, weightDecay >= 0, dampening.isFinite else {
            throw TensorError.invalidArgument(op: op, reason: "needs momentum ≥ 0 and weightDecay ≥ 0, got \(momentum), \(weightDecay)")
        }
        guard !nesterov || (momentum > 0 && dampening == 0) else {
            throw TensorError.invalidArgument(op: op, reason: "Nesterov momentum requires momentum > 0 and zero dampening")
        }
        let (lr, wd, mu, damp, nesterov) = (learningRate, weightDecay, momentum, dampening, nesterov)
        for i in parameters.indices {
            guard let gradient = gradients[i] else { continue }
            let n = gradient.count
            if mu == 0 {
                parameters[i].storage.withUnsafeMutableBufferPointer { p in
                    gradient.storage.withUnsafeBufferPointer { g in
                        for k in 0..<n { p[k] -= lr * (g[k] + wd * p[k]) }
                    }
                }
                continue
            }
            buffers.ensureIndex(i, filler: nil)
            if let b = buffers[i] { try OptimizerChecks.stateShape(op, index: i, state: b, parameter: parameters[i]) }
            let first = buffers[i] == nil
            var buffer = buffers[i] ?? gradient
            buffers[i] = nil // keep the buffer uniquely referenced while it is updated in place
            parameters[i].storage.withUnsafeMutableBufferPointer { p in
                gradient.storage.withUnsafeBufferPointer { g in
                    buffer.storage.withUnsafeMutableBufferPointer { b in
                        for k in 0..<n {
                            let d = g[k] + wd * p[k]
                            let bk = first ? d : mu * b[k] + (1 - damp) * d
                            b[k] = bk
                            p[k] -= lr * (nesterov ? d + mu * bk : bk)
                        }
                    }
                }
            }
            buffers[i] = buffer
        }
    }

    public var stateTensors: [String: Tensor] {
        var s: [String: Tensor] = [:]
        for (i, b) in buffers.enumerated() {
            if let b { s["\(i).momentum_buffer"] = b }
        }
        return s
    }

    public mutating func loadState(_ s: [String: Tensor]) throws {
        var loaded: [Tensor?] = []
        for (key, tensor) in s {
            let (index, name) = try OptimizerChecks.parseKey("SGD.loadState", key)
            guard name == "momentum_buffer" else {
                throw TensorError.invalidArgument(op: "SGD.loadState", reason: "unrecognised state key \"\(key)\"")
            }
            loaded.ensureIndex(index, filler: nil)
            loaded[index] = tensor
        }
        buffers = loaded
    }
}
